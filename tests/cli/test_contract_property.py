"""Keep it true (issue 9): generated command lines thrown at the CLI in-process, the contract
asserted for each: no traceback, an exit code from the table, stdout empty on failure, exactly
one `error:` line (a `hint:` aside; a batch of ids: one per id that failed).

Several hundred examples by default; CANFAR_PROPERTY_EXAMPLES=5000 for a longer run.

Hypothesis is imported inside the tests (its import is ~0.1 s of CPU): every xdist worker
collects this module, one or two run its tests."""

from __future__ import annotations

import os

import pytest

from tests.cli.fakes import healthy, state_with

EXAMPLES = int(os.environ.get("CANFAR_PROPERTY_EXAMPLES", "300"))
CODES = {0, 1, 2, 3, 4, 5}
COMMANDS = ["create", "ps", "info", "logs", "events", "stats", "rm", "prune", "config", "images"]
# Words users of other tools type for commands canfar names otherwise (issue 20: by meaning).
OTHER_TOOLS = ["delete", "kill", "stop", "logout", "whoami", "status", "ls"]
# Commands of several ids: one error line per id that failed.
BATCH = {"info", "logs", "events", "rm"}
# Watching and following never end against a session that stays Running: left out.
ENDLESS = {"-w", "--watch", "-f", "--follow", "--wait"}
WORDS = [
    "headless",
    "notebook",
    "desktop",
    "images.canfar.net/skaha/terminal:1.1.1",
    "skaha/terminal:1.1.1",
    "abc12345",
    "zzz99999",
    "-r",
    "3",
    "0",
    "-1",
    "1e20",
    "-n",
    "fit",
    "-c",
    "2.5",
    "-m",
    "99999999999999999999",
    "-e",
    "A=1",
    "B",
    "--dry-run",
    "-o",
    "json",
    "wide",
    "-q",
    "-a",
    "--json",
    "--",
    "echo",
    "path",
    "get",
    "show",
    "server",
    "--older-than",
    "1h",
    "--status",
    "Running",
    "-h",
    "--concurrency",
    "129",
    "--timeout",
    "nan",
    "caf\udce9",
    "--server",
    "http://h:70000/x",
    # Issue 20: RAM without cores, timeouts past what a socket can hold, an unusable folder.
    "4",
    "1e18",
    "86401",
    "--home",
    "/proc/nope",
    "-k",
    "desktop-app",
]


def test_any_command_line_keeps_the_contract(cli) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    token = st.one_of(
        st.sampled_from(WORDS),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
        st.text(alphabet="\udcff\x00\x1b\n -a", max_size=4),
    )

    @settings(
        max_examples=EXAMPLES,
        database=None,  # nothing written into the work tree
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(command=st.sampled_from(COMMANDS + OTHER_TOOLS), words=st.lists(token, max_size=7))
    def keeps_the_contract(command: str, words: list[str]) -> None:
        check_the_contract(cli, command, words)

    keeps_the_contract()


def check_the_contract(cli, command: str, words: list[str]) -> None:
    argv = [command] + [w for w in words if w not in ENDLESS and "\x00" not in w]
    result = cli(*argv, obj=state_with(healthy))
    stderr = result.stderr
    assert "Traceback" not in stderr + result.stdout
    assert "internal error" not in stderr, (argv, stderr)
    assert result.exit_code in CODES, (argv, result.exit_code, stderr)
    if result.exit_code != 0:
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        if command == "create" and result.stdout:
            return  # a partial batch prints the ids it made (none fail here, but be exact)
        if command in BATCH and result.exit_code == 1 and result.stdout:
            # A partial batch (`info ID NOT-AN-ID`) shows the items that were found.
            assert len(errors) >= 1, (argv, stderr)
            return
        assert result.stdout == "", (argv, result.stdout)
        if command in BATCH and len(errors) > 1:
            # A batch says what became of each id that failed: one line each, no more.
            assert len(errors) <= len(argv) - 1, (argv, stderr)
        else:
            assert len(errors) == 1, (argv, stderr)


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_any_size_leaves_the_local_platform_listable(cli) -> None:
    """Issue 20: one `run … -m 4` left the user's whole local platform answering 500. Whatever
    sizes a session is made with, every command that lists still works, and it can be removed."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=int(os.environ.get("CANFAR_PROPERTY_LOCAL_EXAMPLES", "12")),
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        kind=st.sampled_from(["headless", "notebook"]),
        cores=st.sampled_from([None, "1", "2"]),
        ram=st.sampled_from([None, "1", "4", "8"]),
    )
    def stays_listable(kind: str, cores: str | None, ram: str | None) -> None:
        check_listable(cli, kind, cores, ram)

    stays_listable()


def check_listable(cli, kind: str, cores: str | None, ram: str | None) -> None:
    sizes = (["-c", cores] if cores else []) + (["-m", ram] if ram else [])
    command = ["--", "true"] if kind == "headless" else []
    made = cli("create", kind, "images.canfar.net/skaha/astroml:latest", *sizes, *command)
    assert made.exit_code == 0, made.stderr
    (session_id,) = made.stdout.split()
    for argv in (["ps", "-a"], ["info", session_id], ["prune", "--dry-run"], ["stats"]):
        result = cli(*argv)
        assert result.exit_code == 0, (sizes, argv, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli("rm", "-f", session_id).exit_code == 0
