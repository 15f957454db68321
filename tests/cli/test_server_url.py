"""A server setting that is not a URL, or a URL where no skaha API answers: one clear line
and a hint at the server URL, never a bug, never "not found", never silent data."""

from __future__ import annotations

import pytest

from canfar_cli import config
from canfar_cli.errors import ExitCode


def test_a_listing_404_says_the_server_url_is_wrong_not_not_found(cli, local_server) -> None:
    # Forgetting /skaha is the common slip; the listing's 404 is not "every id is unknown".
    wrong = local_server.url.rsplit("/skaha", 1)[0] + "/wrong"
    for args in (("ps",), ("rm", "-f", "abcdefgh"), ("stats",)):
        result = cli(*args, server=wrong)
        assert result.exit_code == ExitCode.FAILED, (args, result.stderr)
        assert "hint:" in result.stderr and "server URL" in result.stderr
        assert result.stdout == ""


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
