"""The import rules of DESIGN.md, read from every module's syntax tree (imports inside functions
count too: a lazy import still crosses the boundary).

- The library core never imports the command line.
- Commands never touch httpx: they call the core, which owns the HTTP client.
- Nothing outside the local platform imports its internals, but the two doors that exist for
  that: `servers.py` (the in-process transport of `--server local`) and `cli/local.py` (the
  `canfar local …` commands, which administer the platform on this machine).
- The local platform never imports the core or the command line: it is reached over HTTP only.
- What a create sends is planned without the network (create_request.py, cmdline.py).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Set as AbstractSet
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "canfar_cli"
LOCAL_DOORS = {"servers.py", "cli/local.py"}


@functools.cache  # parsed once per run: every rule reads the same tree
def imports() -> dict[str, frozenset[str]]:
    """Each module (path relative to the package) and the absolute module names it imports."""
    found: dict[str, frozenset[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[relative] = frozenset(names)
    return found


def crossing(
    prefix: str, where: str, allowed: AbstractSet[str] = frozenset()
) -> dict[str, list[str]]:
    bad = {}
    for module, names in imports().items():
        if not module.startswith(where) or module in allowed:
            continue
        hits = sorted(n for n in names if n == prefix or n.startswith(prefix + "."))
        if hits:
            bad[module] = hits
    return bad


def test_the_scan_sees_imports() -> None:
    # The rules below would pass on an empty scan: make sure it finds what is known to be there.
    found = imports()
    assert "canfar_cli.local.app" in found["servers.py"]
    assert "httpx" in found["http.py"]


def test_the_core_never_imports_the_command_line() -> None:
    core = {m for m in imports() if not m.startswith(("cli/", "local/")) and m != "__main__.py"}
    assert core, "no core modules found"
    bad = {m: hits for m, hits in crossing("canfar_cli.cli", "").items() if m in core}
    assert bad == {}


def test_commands_never_touch_httpx() -> None:
    assert crossing("httpx", "cli/") == {}


def test_only_the_two_doors_import_the_local_platform() -> None:
    outside = {
        m: hits
        for m, hits in crossing("canfar_cli.local", "", LOCAL_DOORS).items()
        if not m.startswith("local/")
    }
    assert outside == {}


def test_the_local_platform_never_imports_the_core_or_the_command_line() -> None:
    for forbidden in ("canfar_cli.cli", "canfar_cli.session", "canfar_cli.http"):
        assert crossing(forbidden, "local/") == {}, forbidden


def test_configuration_and_sign_in_import_no_cycle() -> None:
    # Issue 17: config never reaches into sign-in (sign-in has its own settings object and the
    # platform is resolved where the server is chosen), and sign-in never reaches into the core's
    # HTTP client (what the two share is canfar_cli/wire.py).
    assert crossing("canfar_cli.auth", "config.py") == {}
    for core in ("canfar_cli.http", "canfar_cli.session"):
        assert crossing(core, "auth/") == {}, core
    assert crossing("canfar_cli.auth", "wire.py") == {}


def test_a_create_is_planned_without_the_network() -> None:
    # Issue 18: a create goes from its arguments to its POST body through session.py →
    # create_request.py → cmdline.py → http.py. The middle two are pure (rules, encoding, the
    # form): they reach neither the HTTP client, the session nor an event loop, so the walk
    # stays four files and a create can be checked and planned with no I/O.
    for module in ("create_request.py", "cmdline.py"):
        for forbidden in ("httpx", "anyio", "canfar_cli.http", "canfar_cli.session"):
            assert crossing(forbidden, module) == {}, (module, forbidden)
    assert "canfar_cli.cmdline" in imports()["create_request.py"]
