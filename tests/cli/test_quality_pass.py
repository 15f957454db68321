"""Defects found by using the program as a demanding user and a script author would; each test
here failed before its fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from canfar_cli import config, models
from canfar_cli.cli.create import parse_env
from canfar_cli.errors import ExitCode, UsageError
from tests.support import IMAGE

# --- a server URL that points at no skaha API ------------------------------------------------


def test_a_listing_404_says_the_server_url_is_wrong_not_not_found(cli, local_server) -> None:
    # Forgetting /skaha is the common slip; the listing's 404 is not "every id is unknown".
    wrong = local_server.url.rsplit("/skaha", 1)[0] + "/wrong"
    for args in (("ps",), ("rm", "-f", "abcdefgh"), ("stats",)):
        result = cli(*args, server=wrong)
        assert result.exit_code == ExitCode.FAILED, (args, result.stderr)
        assert "hint:" in result.stderr and "server URL" in result.stderr
        assert result.stdout == ""


# --- absurd replica counts -------------------------------------------------------------------


def test_an_absurd_replica_count_is_refused_before_any_name_is_made(cli) -> None:
    # It used to build 10**23 default names in memory (the process was killed by the OOM killer).
    result = cli("create", "headless", IMAGE, "-r", "99999999999999999999999", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "replicas must be at most" in result.stderr
    assert result.stdout == ""


def test_the_library_refuses_absurd_replica_counts_too() -> None:
    with pytest.raises(UsageError, match="at most"):
        models.check_create("x", IMAGE, replicas=models.MAX_REPLICAS + 1)
    assert len(models.check_create("x", IMAGE, replicas=models.MAX_REPLICAS).names) == 10_000


# --- numbers that are not numbers --------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-c", "-m"])
def test_infinite_cores_or_ram_are_refused_before_sending(cli, flag: str) -> None:
    # `inf` passed the ">= 1" check and went to the server, which answered 400 (exit 1).
    result = cli("create", "headless", IMAGE, flag, "inf", "--dry-run", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "finite" in result.stderr
    assert result.stdout == ""


def test_a_wait_timeout_that_is_not_a_number_is_refused(cli) -> None:
    # nan compared false with 0, so it passed, and `now >= deadline` never held: no timeout.
    result = cli("create", "headless", IMAGE, "--wait", "--wait-timeout", "nan", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "--wait-timeout" in result.stderr
    assert result.stdout == ""


def test_a_duration_too_long_for_a_date_is_a_usage_error(cli) -> None:
    result = cli("prune", "--older-than", "99999999999w", "--dry-run")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "internal error" not in result.stderr
    assert "too long" in result.stderr


# --- Ctrl-C while the program is still starting -----------------------------------------------


class _InterruptingFinder:
    """Acts as a Ctrl-C that lands while canfar_cli.cli.main is being imported."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "canfar_cli.cli.main":
            raise KeyboardInterrupt
        return None


def test_an_interrupt_during_start_up_is_130_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from canfar_cli.cli import entry

    monkeypatch.delitem(sys.modules, "canfar_cli.cli.main", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptingFinder(), *sys.meta_path])
    monkeypatch.setattr(sys, "argv", ["canfar", "ps"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == ExitCode.INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"


# --- env files written for the shell (export, quotes, comments) ---------------------------------


def test_env_file_quotes_and_comments_mean_what_the_shell_means(tmp_path: Path) -> None:
    # The quotes were sent as part of the value ('"two words"'), and so was an inline comment.
    path = tmp_path / "job.env"
    path.write_text(
        "# settings\n"
        "\n"
        "export A=1\n"
        'B="two words"\n'
        "C='its'\n"
        "D=x # why x\n"
        "E = spaced\n"
        "export   F=tabbed\n"
        "G=\n"
        "H='$HOME stays literal'\n"
        'I="#not a comment"\n'
        "J=a#b\n"
    )
    assert parse_env([], path) == {
        "A": "1",
        "B": "two words",
        "C": "its",
        "D": "x",
        "E": "spaced",
        "F": "tabbed",
        "G": "",
        "H": "$HOME stays literal",
        "I": "#not a comment",
        "J": "a#b",
    }


@pytest.mark.parametrize(
    "line",
    [
        'A="unterminated\n',
        "A='x' trailing\n",
        "A=$HOME/data\n",  # the shell would expand it, we would not: refuse, never guess
        'A="$HOME"\n',
        "A=`date`\n",
        "A=back\\slash\n",
    ],
)
def test_env_file_lines_the_shell_would_read_otherwise_are_refused(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "job.env"
    path.write_text("OK=1\n" + line)
    with pytest.raises(UsageError, match="line 2"):
        parse_env([], path)


def test_env_file_values_reach_the_job_without_quotes(cli, tmp_path: Path) -> None:
    path = tmp_path / "job.env"
    path.write_text("export GREETING='hello there'\n")
    result = cli("create", "headless", IMAGE, "--env-file", str(path), "--dry-run", "--", "true")
    assert result.exit_code == 0, result.stderr
    assert "env=GREETING=hello there\n" in result.stdout


# --- a server setting that is not a URL --------------------------------------------------------


def test_config_set_refuses_a_server_that_is_not_a_url(cli) -> None:
    # `config set` promises the value is checked before it is written; a bad server was written,
    # and every later command failed without saying the value came from the config file.
    result = cli("config", "set", "server", "not a url", server=None)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "server" in result.stderr and "'local'" in result.stderr
    assert config.read_config() == {}
    assert cli("config", "set", "server", "LOCAL", server=None).exit_code == 0
    url = "https://ws-uv.canfar.net/skaha"
    assert cli("config", "set", "server", url, server=None).exit_code == 0


def test_a_bad_server_names_where_it_came_from(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANFAR_URL", "also bad")
    result = cli("ps", server=None)
    assert result.exit_code == ExitCode.USAGE
    assert "$CANFAR_URL" in result.stderr
    config.write_config({"server": "ftp://x"})
    monkeypatch.delenv("CANFAR_URL")
    result = cli("ps", server=None)
    assert result.exit_code == ExitCode.USAGE
    assert "config file" in result.stderr


# --- logs byte for byte ------------------------------------------------------------------------

RAW_LOG = b"caf\xe9 \xff\xfe ok \xe2\x9c\x93\n"


def test_logs_keep_bytes_that_are_not_utf8(cli, tmp_path: Path) -> None:
    # A job's output in Latin-1 (or binary) came out with U+FFFD in place of each odd byte.
    script = tmp_path / "latin1.sh"
    script.write_text("printf 'caf\\351 \\377\\376 ok \\342\\234\\223\\n'\n")
    made = cli("create", "headless", IMAGE, "--wait", "--", "sh", str(script))
    assert made.exit_code == 0, made.stderr
    session_id = made.stdout.strip()
    shown = cli("logs", session_id)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout_bytes == RAW_LOG
    followed = cli("logs", "-f", session_id)
    assert followed.exit_code == 0, followed.stderr
    assert followed.stdout_bytes == RAW_LOG


def test_the_library_gives_undecodable_log_bytes_back_as_surrogates(tmp_path: Path) -> None:
    from canfar_cli import Session

    script = tmp_path / "latin1.sh"
    script.write_text("printf 'caf\\351 \\377\\376 ok \\342\\234\\223\\n'\n")
    with Session(server="local") as session:
        ids = session.create("raw", IMAGE, cmd="sh", args=[str(script)])
        session.wait(ids)
        text = session.logs(ids)[ids[0]]
    assert text.encode("utf-8", "surrogateescape") == RAW_LOG


# --- tokens that cannot be a header ------------------------------------------------------------


@pytest.mark.parametrize("token", ["SECRETabc\nSECRETdef", "SECRET\x01x", "SECRÉT", "SECRET one"])
def test_a_token_that_cannot_be_sent_is_a_usage_error_that_never_shows_it(
    cli, local_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    # A token file of two lines ended as "cannot reach ...: Illegal header value b'Bearer
    # SECRET...'" (the token in the error, exit 5); a non-ASCII one as an internal error.
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    by_file = cli("--token-file", str(token_file), "ps", server=local_server.url)
    monkeypatch.setenv("CANFAR_TOKEN", token)
    by_env = cli("-v", "ps", server=local_server.url)
    for result in (by_file, by_env):
        assert result.exit_code == ExitCode.USAGE, result.stderr
        assert "SECRET" not in result.stderr + result.stdout
        assert "token" in result.stderr


def test_the_library_refuses_such_a_token_too() -> None:
    from canfar_cli import AsyncSession
    from canfar_cli.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        AsyncSession(server="local", token="SECRET\nx")
    assert "SECRET" not in str(caught.value)
    settings = config.load_settings(server="local")
    with pytest.raises(ConfigError):
        AsyncSession(settings=settings, token="SECRET two")


def test_config_set_refuses_such_a_token(cli) -> None:
    result = cli("config", "set", "token", "SECRET two", server=None)
    assert result.exit_code == ExitCode.USAGE
    assert "SECRET" not in result.stderr
    assert config.read_config() == {}


# --- a web page where the API should be ----------------------------------------------------------


@pytest.fixture
def plain_server():
    """plain_server(body, content_type) -> base URL of a web server that answers every GET with
    that 200 body (a portal, a wrong URL, something that is not skaha)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(body: bytes, content_type: str) -> str:
        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/skaha"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web_page_server(plain_server) -> str:
    return plain_server(b"<html><body>Welcome</body></html>", "text/html")


def test_a_page_that_is_not_json_gets_a_hint_at_the_server_url(cli, web_page_server) -> None:
    result = cli("ps", server=web_page_server)
    assert result.exit_code == ExitCode.FAILED
    assert "not JSON" in result.stderr
    assert "hint:" in result.stderr and "server URL" in result.stderr


@pytest.mark.parametrize("body", [b'{"a": 1}', b'[1, "x", null]', b'"text"'])
@pytest.mark.parametrize(
    "args", [("ps",), ("ps", "-a", "--json"), ("rm", "-f", "abcdefgh"), ("info", "abcdefgh")]
)
def test_json_of_the_wrong_shape_is_one_line_not_a_bug_nor_silent_data(
    cli, plain_server, body: bytes, args: tuple[str, ...]
) -> None:
    # ps was an internal error (AttributeError), `ps -a --json` printed the keys of an object as
    # if they were sessions, rm said "not found".
    if args[0] == "info" and body.startswith(b"{"):
        pytest.skip("an object is the right shape for one session")
    result = cli(*args, server=plain_server(body, "application/json"))
    assert result.exit_code == ExitCode.FAILED, result.stderr
    assert "internal error" not in result.stderr
    assert "hint:" in result.stderr and "server URL" in result.stderr
    assert result.stdout == ""


def test_stats_of_the_wrong_shape_is_one_line(cli, plain_server) -> None:
    result = cli("stats", server=plain_server(b"[1, 2]", "application/json"))
    assert result.exit_code == ExitCode.FAILED, result.stderr
    assert "internal error" not in result.stderr


# --- an empty env value is dropped by the server ------------------------------------------------


def test_an_empty_env_value_is_refused_not_dropped(cli, tmp_path: Path) -> None:
    # The server splits KEY=VALUE on '=' the Java way ("A=".split("=") is ["A"]), so an empty
    # value dropped the variable without a word: the job ran without it.
    with pytest.raises(UsageError, match="EMPTY"):
        models.check_env({"EMPTY": ""})
    result = cli("create", "headless", IMAGE, "-e", "EMPTY=", "--dry-run", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "EMPTY" in result.stderr and "drop" in result.stderr
    env_file = tmp_path / "job.env"
    env_file.write_text("EMPTY=\n")
    result = cli("create", "headless", IMAGE, "--env-file", str(env_file), "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr


def test_the_refusal_of_env_for_an_interactive_kind_reads_right(cli) -> None:
    result = cli("create", "notebook", IMAGE, "-e", "A=1")
    assert result.exit_code == ExitCode.USAGE
    assert "env only applies to headless sessions; the server ignores it for a notebook" in (
        result.stderr
    )


# --- usage errors: one line and a hint, like every other error ---------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("ps", "-k", "bogus"),
        ("ps", "--no-such-flag"),
        ("info",),
        ("logs", "--tail", "-1", "abcdefgh"),
        ("--timeout", "abc", "ps"),
        ("--no-such-global", "ps"),
        ("nosuchcommand",),
        ("config", "set", "bogus", "1"),
        ("create", "spaceship", IMAGE),
        ("create",),
    ],
)
def test_usage_errors_are_one_error_line_and_a_hint(cli, args: tuple[str, ...]) -> None:
    # They were click's four lines ("Usage: …", "Try …", "", "Error: …"), unlike every other
    # error (`error: …` + `hint: …`), which a script matching ^error: would miss.
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "-h" in lines[1]
    assert "\\n" not in lines[0] and "\\t" not in lines[0]  # not click's layout, escaped
    assert result.stdout == ""


def test_no_arguments_still_shows_the_help(cli) -> None:
    result = cli(server=None)
    assert "Usage: canfar" in result.stdout + result.stderr
    assert "Commands" in result.stdout + result.stderr


# --- a terminal whose encoding lacks a character the server sent ----------------------------------


def test_tables_json_and_blocks_survive_an_ascii_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import json

    from canfar_cli.output import Output

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    monkeypatch.setattr(sys, "stdout", stream)
    out = Output()
    out.table(["ID", "IMAGE"], [["abc", "images.canfar.net/skaha/tërminal:1"]])
    out.blocks([[("Image", "tërminal")]])
    out.ids(["ß1"])
    start = raw.tell()
    out.json([{"image": "tërminal"}])
    middle = raw.tell()
    out.json_line({"message": "pulled tërminal"})
    text = raw.getvalue().decode("ascii")
    assert "t\\xebrminal" in text.splitlines()[1]  # shown, escaped, not a crash
    assert json.loads(raw.getvalue()[start:middle].decode("ascii")) == [{"image": "tërminal"}]
    assert json.loads(raw.getvalue()[middle:].decode("ascii")) == {"message": "pulled tërminal"}


def test_ps_and_info_with_an_ascii_stdout_are_not_internal_errors() -> None:
    from tests.support.process import run_canfar

    made = run_canfar(
        [
            "--server",
            "local",
            "create",
            "headless",
            "images.canfar.net/skaha/tërminal:1",
            "-n",
            "uni",
            "--",
            "true",
        ]
    )
    assert made.returncode == 0, made.stderr
    ascii_out = {"PYTHONIOENCODING": "ascii"}
    for args in (["ps", "-a"], ["ps", "-a", "--json"], ["info", made.stdout.strip()]):
        result = run_canfar(["--server", "local", *args], env=ascii_out)
        assert result.returncode == 0, result.stderr
        assert "internal error" not in result.stderr
        assert "rminal" in result.stdout


def test_an_env_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Windows editors save UTF-8 with a BOM; the first name became '\ufeffA' and was refused.
    path = tmp_path / "job.env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\nB=2\r\n")
    assert parse_env([], path) == {"A": "1", "B": "2"}


def test_create_help_says_ram_is_in_gib(cli) -> None:
    # skaha reads `ram` as GiB (and reports decimal GB: 4 GiB shows as 4.29); the help said GB.
    result = cli("create", "-h", server=None)
    assert "GiB" in result.stdout
