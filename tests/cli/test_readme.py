"""The snippets of the README and its pages that must work as written: the quick start, run from
the root of a fresh copy of the repository; the test command, the one CI runs; the offline loop of
"Your files" (docs/guide.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.process import canfar_env


def readme_block(heading: str, page: str = "README.md") -> str:
    """The first ```bash block under `## heading` in the README (or another page of the repo)."""
    text = (REPO / page).read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under '## {heading}' in {page}"
    return match.group(1).strip()


SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist"}


def source_files() -> list[str]:
    """The repository's files as a fresh clone has them: git's list when this is a checkout,
    else the tree without virtual environments and caches (an unpacked source archive)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        names = [n.decode() for n in listed.stdout.split(b"\0") if n]
        return [n for n in names if (REPO / n).is_file()]
    return [
        str(path.relative_to(REPO))
        for path in REPO.rglob("*")
        if path.is_file()
        and not SKIPPED_DIRS & set(path.relative_to(REPO).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    ]


def test_the_test_command_is_the_one_ci_runs() -> None:
    command = readme_block("Tests")
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    # CONTRIBUTING.md repeats it, word for word.
    assert readme_block("The test command", "CONTRIBUTING.md") == command


@pytest.mark.e2e(long=True)
def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    command = readme_block("Quick start")
    assert "\n" not in command, "the quick start must stay one line a new user can paste"
    clone = tmp_path / "clone"
    for name in source_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    # Two settings of the machine, not of the line, that make it cost more than it does for a
    # user (what is proven is unchanged: the same line installs the same packages from a fresh
    # clone into a venv, and the installed `canfar` runs):
    # - PIP_COMPILE=0: pip does not byte-compile what it installs (~900 modules, pygments'
    #   lexers the most, that the quick start never imports: a third of pip's CPU here);
    # - no PYTHONDONTWRITEBYTECODE (set in some sandboxes, never by the README; tests/conftest.py
    #   removes it): Python compiles the modules `canfar` imports once and keeps the .pyc, as on
    #   a user's machine, instead of compiling them again in each of the line's processes.
    # (`python3 -m venv` bootstraps pip with every PIP_* variable ignored: that step is a user's.)
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        capture_output=True,
        text=True,
        env=canfar_env({"PIP_COMPILE": "0"}),
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("hello\n") == 3
    assert result.stdout.count("terminal-") >= 6  # ps -a rows and the log headings
    assert "3 Completed" in result.stderr


@pytest.mark.e2e(long=True)
def test_your_files_offline_loop_runs_as_written(tmp_path: Path) -> None:
    """docs/guide.md "Your files": put a script, run it as a job, fetch what it wrote; offline."""
    script = readme_block("Your files", "docs/guide.md")
    assert "data cp fit.py arc:~/" in script and "data cp arc:~/out.txt ." in script
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=work,
        capture_output=True,
        text=True,
        env=canfar_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (work / "out.txt").read_text() == "fitted\n"
    assert result.stdout.endswith("fitted\n")


def test_the_guide_sweep_runs_as_written(isolated: Path, tmp_path: Path) -> None:
    """docs/guide.md (create): `cp fit.py "$(canfar local home)/"`, then a sweep piped into
    `canfar wait`."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "fit.py").write_text("import os\nprint('seed', os.environ['SEED'])\n")
    env = canfar_env({"CANFAR_URL": "local", "CANFAR_LOCAL_CORES": "2"})
    script = (
        'cp fit.py "$(canfar local home)/" && '
        "canfar create headless skaha/terminal:1.1.1 -n fit -r 3 -e SEED=42 -- python3 fit.py"
        " | canfar wait && canfar logs fit-3"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "seed 42\n"
