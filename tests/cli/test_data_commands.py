"""Every `canfar data` command through the real entry point (CliRunner, in-process) against the
local platform's storage (`--server local`): what each prints, where, and what it leaves on disk.

The local cavern serves the folder the local jobs use as their homes, so a test reads and writes
`<state>/home/<user>` directly to check what a command did (as a job would see it)."""

from __future__ import annotations

import getpass
import hashlib
import io
import json
from pathlib import Path

import pytest

from canfar_cli.cli.state import CliState
from canfar_cli.output import Output
from tests.support.many import ten_thousand_files

PAYLOAD = bytes(range(256)) * 40 + b"\xff\xfe not UTF-8 \r\n and no newline at the end"


@pytest.fixture
def home(isolated: Path) -> Path:
    """The user's arc home on disk (the local platform's user is the OS user)."""
    return isolated / "local" / "home" / getpass.getuser()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def ok(result) -> None:
    assert result.exit_code == 0, result.output


def put(cli, local: Path, remote: str, *flags: str) -> None:
    ok(cli("data", "cp", *flags, str(local), remote))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def make_tree(folder: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "b.bin": PAYLOAD, "sub/c.txt": b"gamma\n", "sub/deep/d": b""}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def terminal(answer: str) -> CliState:
    """A CliState whose stdin is a terminal that answers `answer`."""
    return CliState(out=Output(stdin=io.StringIO(answer), stdin_tty=True))


# --- cp, cat: the bytes, exact, both ways ------------------------------------------------------


def test_a_file_goes_up_comes_back_and_prints_exactly(cli, here: Path, home: Path) -> None:
    (here / "fit.py").write_bytes(PAYLOAD)
    result = cli("data", "cp", "fit.py", "arc:~/")
    ok(result)
    assert result.stdout == ""  # stdout is for data; the summary is on stderr
    assert "copied 1 file" in result.stderr
    assert (home / "fit.py").read_bytes() == PAYLOAD

    cat = cli("data", "cat", "arc:~/fit.py")
    ok(cat)
    assert cat.stdout_bytes == PAYLOAD

    ok(cli("data", "cp", "arc:~/fit.py", "back.py"))
    assert (here / "back.py").read_bytes() == PAYLOAD
    assert not list(here.glob("*.part"))


def test_cp_into_an_existing_folder_keeps_the_name_and_several_sources_need_one(
    cli, here: Path, home: Path
) -> None:
    (here / "one.txt").write_text("1")
    (here / "two.txt").write_text("2")
    ok(cli("data", "mkdir", "arc:~/run1"))
    ok(cli("data", "cp", "one.txt", "two.txt", "arc:~/run1"))
    assert (home / "run1" / "one.txt").read_text() == "1"
    assert (home / "run1" / "two.txt").read_text() == "2"
    ok(cli("data", "cp", "one.txt", "arc:~/renamed.txt"))
    assert (home / "renamed.txt").read_text() == "1"


def test_cp_r_up_and_down_keeps_the_tree(cli, here: Path, home: Path) -> None:
    files = make_tree(here / "inputs")
    result = cli("data", "cp", "-r", "inputs", "arc:~/inputs")
    ok(result)
    assert tree(home / "inputs") == files
    assert "copied 4 files" in result.stderr
    ok(cli("data", "cp", "-r", "arc:~/inputs", "back"))
    assert tree(here / "back") == files


def test_cp_dry_run_lists_and_copies_nothing(cli, here: Path, home: Path) -> None:
    make_tree(here / "inputs")
    result = cli("data", "cp", "-r", "--dry-run", "inputs", "arc:~/inputs")
    ok(result)
    lines = result.stdout.splitlines()
    copies = [line for line in lines if " -> arc:" in line]
    assert len(copies) == 4 and "inputs/b.bin -> arc:/home/" in "\n".join(copies)
    assert all(line.startswith("mkdir arc:") for line in lines if line not in copies)
    assert "dry run" in result.stderr and "nothing was changed" in result.stderr
    assert not (home / "inputs").exists()


def test_cp_across_services_arc_to_vault(cli, here: Path) -> None:
    (here / "x.bin").write_bytes(PAYLOAD)
    put(cli, here / "x.bin", "arc:~/x.bin")
    user = getpass.getuser()
    ok(cli("data", "mkdir", "-p", f"vault:/{user}"))
    ok(cli("data", "cp", "arc:~/x.bin", f"vault:/{user}/x.bin"))
    assert cli("data", "cat", f"vault:/{user}/x.bin").stdout_bytes == PAYLOAD


# --- ls, stat, du --------------------------------------------------------------------------


def test_ls_short_long_json_quiet_and_recursive(cli, here: Path, home: Path) -> None:
    make_tree(here / "inputs")
    put(cli, here / "inputs", "arc:~/inputs", "-r")
    user = getpass.getuser()

    short = cli("data", "ls", "arc:~/inputs")
    ok(short)
    assert short.stdout.splitlines() == ["a.txt", "b.bin", "sub/"]

    long = cli("data", "ls", "-l", "arc:~/inputs")
    ok(long)
    header, *rows = long.stdout.splitlines()
    assert header.split() == ["SIZE", "MODIFIED", "OWNER", "MD5", "NAME"]
    b_row = next(row for row in rows if row.endswith("b.bin"))
    assert str(len(PAYLOAD)) in b_row.split()
    assert hashlib.md5(PAYLOAD).hexdigest() in b_row  # uploaded with its MD5

    human = cli("data", "ls", "-lh", "arc:~/inputs")
    ok(human)
    assert "10K" in human.stdout  # 10,282 bytes

    as_json = cli("data", "ls", "-o", "json", "arc:~/inputs")
    ok(as_json)
    nodes = json.loads(as_json.stdout)
    assert [n["name"] for n in nodes] == ["a.txt", "b.bin", "sub"]
    assert nodes[1]["size"] == len(PAYLOAD) and nodes[2]["type"] == "folder"

    quiet = cli("data", "ls", "-q", "arc:~/inputs")
    ok(quiet)
    assert quiet.stdout.splitlines()[0] == f"arc:/home/{user}/inputs/a.txt"

    recursive = cli("data", "ls", "-R", "-q", "arc:~/inputs")
    ok(recursive)
    assert f"arc:/home/{user}/inputs/sub/deep/d" in recursive.stdout.splitlines()

    headed = cli("data", "ls", "-R", "arc:~/inputs")
    ok(headed)
    assert f"arc:/home/{user}/inputs/sub:" in headed.stdout


def test_ls_hidden_names_only_with_a(cli, home: Path) -> None:
    (home / "box").mkdir(parents=True)
    (home / "box" / ".hidden").write_text("h")
    (home / "box" / "shown").write_text("s")
    assert cli("data", "ls", "arc:~/box").stdout.split() == ["shown"]
    assert cli("data", "ls", "-a", "arc:~/box").stdout.split() == [".hidden", "shown"]


def test_stat_text_and_json(cli, here: Path) -> None:
    (here / "x.bin").write_bytes(PAYLOAD)
    put(cli, here / "x.bin", "arc:~/x.bin")
    text = cli("data", "stat", "arc:~/x.bin")
    ok(text)
    assert "Type:" in text.stdout and "file" in text.stdout
    assert hashlib.md5(PAYLOAD).hexdigest() in text.stdout
    as_json = cli("data", "stat", "-o", "json", "arc:~/x.bin", "arc:~")
    ok(as_json)
    first, second = json.loads(as_json.stdout)
    assert first["size"] == len(PAYLOAD) and first["md5"] == hashlib.md5(PAYLOAD).hexdigest()
    assert second["type"] == "folder"


def test_du_sums_the_bytes(cli, here: Path) -> None:
    files = make_tree(here / "inputs")
    put(cli, here / "inputs", "arc:~/inputs", "-r")
    result = cli("data", "du", "-s", "arc:~/inputs")
    ok(result)
    header, line = result.stdout.splitlines()
    assert header.split()[:2] == ["SIZE", "FILES"]
    assert line.split()[:2] == [str(sum(len(v) for v in files.values())), "4"]


# --- sync ----------------------------------------------------------------------------------


def test_sync_copies_only_what_changed_and_a_second_sync_moves_nothing(
    cli, here: Path, home: Path
) -> None:
    files = make_tree(here / "inputs")
    first = cli("data", "sync", "inputs", "arc:~/inputs")
    ok(first)
    assert tree(home / "inputs") == files
    again = cli("data", "sync", "inputs", "arc:~/inputs")
    ok(again)
    assert "copied" not in again.stderr and "4 unchanged" in again.stderr
    (here / "inputs" / "a.txt").write_bytes(b"alpha, longer now\n")
    third = cli("data", "sync", "inputs", "arc:~/inputs")
    ok(third)
    assert "copied 1 file" in third.stderr
    assert (home / "inputs" / "a.txt").read_bytes() == b"alpha, longer now\n"


def test_sync_delete_forced_dry_run_and_confirmed(cli, here: Path, home: Path) -> None:
    make_tree(here / "inputs")
    ok(cli("data", "sync", "inputs", "arc:~/inputs"))
    (home / "inputs" / "extra.txt").write_text("not in the source")

    dry = cli("data", "sync", "--delete", "--dry-run", "inputs", "arc:~/inputs")
    ok(dry)
    planned = dry.stdout.splitlines()
    assert any(line.startswith("delete ") and "extra.txt" in line for line in planned)
    assert (home / "inputs" / "extra.txt").exists()

    declined = cli("data", "sync", "--delete", "inputs", "arc:~/inputs", obj=terminal("n\n"))
    assert declined.exit_code == 0
    assert "extra.txt" in declined.stderr and "nothing copied or removed" in declined.stderr
    assert (home / "inputs" / "extra.txt").exists()

    ok(cli("data", "sync", "--delete", "inputs", "arc:~/inputs", obj=terminal("y\n")))
    assert not (home / "inputs" / "extra.txt").exists()

    (home / "inputs" / "extra2.txt").write_text("again")
    ok(cli("data", "sync", "--delete", "-f", "inputs", "arc:~/inputs"))
    assert not (home / "inputs" / "extra2.txt").exists()


# --- mv, rm, mkdir -----------------------------------------------------------------------


def test_mv_renames_and_moves_into_a_folder(cli, here: Path, home: Path) -> None:
    (here / "x.txt").write_text("x")
    put(cli, here / "x.txt", "arc:~/x.txt")
    ok(cli("data", "mv", "arc:~/x.txt", "arc:~/y.txt"))
    assert not (home / "x.txt").exists() and (home / "y.txt").read_text() == "x"
    ok(cli("data", "mkdir", "arc:~/box"))
    ok(cli("data", "mv", "arc:~/y.txt", "arc:~/box"))
    assert (home / "box" / "y.txt").read_text() == "x"


def test_rm_asks_on_a_terminal_and_declining_removes_nothing(cli, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "old.txt").write_text("old")
    declined = cli("data", "rm", "arc:~/old.txt", obj=terminal("n\n"))
    assert declined.exit_code == 0
    assert "nothing removed" in declined.stderr
    assert (home / "old.txt").exists()
    ok(cli("data", "rm", "arc:~/old.txt", obj=terminal("y\n")))
    assert not (home / "old.txt").exists()


def test_rm_r_dry_run_lists_then_rm_rf_removes(cli, here: Path, home: Path) -> None:
    make_tree(here / "inputs")
    put(cli, here / "inputs", "arc:~/inputs", "-r")
    dry = cli("data", "rm", "-r", "--dry-run", "arc:~/inputs")
    ok(dry)
    assert dry.stdout.strip() and (home / "inputs").exists()
    ok(cli("data", "rm", "-r", "-f", "arc:~/inputs"))
    assert not (home / "inputs").exists()


def test_rm_of_a_folder_without_r_is_refused(cli, home: Path) -> None:
    (home / "keep").mkdir(parents=True)
    (home / "keep" / "f").write_text("f")
    result = cli("data", "rm", "-f", "arc:~/keep")
    assert result.exit_code == 2, result.output
    assert "-r" in result.stderr
    assert (home / "keep" / "f").exists()


def test_mkdir_p_and_the_errors_of_mkdir(cli, home: Path) -> None:
    ok(cli("data", "mkdir", "-p", "arc:~/a/b/c"))
    assert (home / "a" / "b" / "c").is_dir()
    ok(cli("data", "mkdir", "-p", "arc:~/a/b/c"))  # already there: fine with -p
    missing = cli("data", "mkdir", "arc:~/x/y")
    assert missing.exit_code == 4, missing.output
    assert "mkdir -p" in missing.stderr
    exists = cli("data", "mkdir", "arc:~/a")
    assert exists.exit_code == 1, exists.output


# --- url ---------------------------------------------------------------------------------


def test_url_prints_one_url_and_says_it_does_not_expire(cli, here: Path) -> None:
    (here / "x.txt").write_text("x")
    put(cli, here / "x.txt", "arc:~/x.txt")
    result = cli("data", "url", "arc:~/x.txt")
    ok(result)
    (line,) = result.stdout.splitlines()
    assert line.startswith("http") and "preauth:" in line
    assert "does not expire" in result.stderr
    assert "preauth:" not in result.stderr  # the secret is on stdout only


# --- progress: a bar on a terminal only --------------------------------------------------------


def test_a_terminal_gets_a_progress_bar_and_nothing_else_does(
    cli, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(here / "inputs")

    def copy(name: str) -> str:
        err = io.StringIO()
        state = CliState(out=Output(stderr=err, stderr_tty=True))
        ok(cli("data", "cp", "-r", "inputs", f"arc:~/{name}", obj=state))
        return err.getvalue()

    shown = copy("one")
    assert "4/4 files" in shown and "\x1b[" in shown  # the bar's last frame, drawn in place
    assert "copied 4 files (10 KiB)" in shown.splitlines()[-1]  # after the bar is cleared
    for name, value in (("NO_COLOR", "1"), ("TERM", "dumb")):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            plain = copy(f"two-{name}")
        assert "\x1b[" not in plain and "files" not in plain.split("copied")[0]
        assert plain.startswith("copied 4 files")


# --- --continue, big folders ------------------------------------------------------------------


def test_cp_continue_skips_what_is_whole_and_finishes_a_partial_download(cli, here: Path) -> None:
    files = make_tree(here / "inputs")
    put(cli, here / "inputs", "arc:~/inputs", "-r")
    ok(cli("data", "cp", "-r", "arc:~/inputs", "."))
    again = cli("data", "cp", "-r", "--continue", "arc:~/inputs", ".")
    ok(again)
    assert "4 unchanged" in again.stderr and "copied" not in again.stderr

    user = getpass.getuser()
    ok(cli("data", "mkdir", "-p", f"vault:/{user}"))
    ok(cli("data", "cp", "inputs/b.bin", f"vault:/{user}/b.bin"))
    (here / "b.bin.part").write_bytes(files["b.bin"][:4000])  # an earlier download, cut off
    ok(cli("data", "cp", "--continue", f"vault:/{user}/b.bin", "b.bin"))
    assert (here / "b.bin").read_bytes() == files["b.bin"]
    assert not (here / "b.bin.part").exists()


def test_ls_of_ten_thousand_entries(cli, home: Path) -> None:
    ten_thousand_files(home / "many", lambda n: f"e{n:05d}")
    result = cli("data", "ls", "-q", "arc:~/many")
    ok(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 10_000 and lines[-1].endswith("/many/e09999")


def test_stat_and_du_show_the_quota_of_the_home(
    cli, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_QUOTA", "1M")
    (here / "x.bin").write_bytes(PAYLOAD)
    put(cli, here / "x.bin", "arc:~/x.bin")
    stat = cli("data", "stat", "-o", "json", "arc:~")
    ok(stat)
    (node,) = json.loads(stat.stdout)
    assert node["quota"] == 1 << 20 and node["used"] >= len(PAYLOAD)
    text = cli("data", "stat", "-h", "arc:~")
    assert "Quota:" in text.stdout and "1.0M" in text.stdout and "of 1.0M" in text.stdout
    du = cli("data", "du", "-sh", "arc:~")
    ok(du)
    assert du.stdout.splitlines()[0].split() == ["SIZE", "FILES", "QUOTA", "PATH"]
    assert "of 1.0M" in du.stdout


def test_mv_across_services_copies_then_removes_the_source(cli, here: Path, home: Path) -> None:
    (here / "x.bin").write_bytes(PAYLOAD)
    put(cli, here / "x.bin", "arc:~/x.bin")
    user = getpass.getuser()
    ok(cli("data", "mkdir", "-p", f"vault:/{user}"))
    ok(cli("data", "mv", "arc:~/x.bin", f"vault:/{user}/"))
    assert not (home / "x.bin").exists()
    assert cli("data", "cat", f"vault:/{user}/x.bin").stdout_bytes == PAYLOAD


def test_sync_down_mirrors_a_remote_folder(cli, here: Path, home: Path) -> None:
    files = make_tree(here / "inputs")
    put(cli, here / "inputs", "arc:~/inputs", "-r")
    ok(cli("data", "sync", "arc:~/inputs", "mirror"))
    assert tree(here / "mirror") == files
    again = cli("data", "sync", "arc:~/inputs", "mirror")
    ok(again)
    assert "copied" not in again.stderr
