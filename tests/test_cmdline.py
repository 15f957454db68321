"""Unit tests of the two pure halves of "command lines as typed": canfar_cli.cmdline (what the
client sends) and canfar_cli.local.jobspec (what the server and Kubernetes make of it)."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlencode

import pytest

from canfar_cli import cmdline, create_request
from canfar_cli.errors import UsageError
from canfar_cli.local import jobspec

IMAGE = "images.canfar.net/skaha/terminal:1.1.1"
INJECTED = [("HOME", "/home/me"), ("skaha_sessionid", "abc12345")]


def through_server(line: cmdline.CommandLine) -> tuple[list[str], dict[str, str]]:
    """What the job gets: the form values over the wire, split and read as the server does."""
    form = []
    if line.cmd is not None:
        form.append(("cmd", line.cmd))
    if line.args is not None:
        form.append(("args", line.args))
    form += [("env", f"{key}={value}") for key, value in line.env]
    fields = parse_qsl(urlencode(form), keep_blank_values=True)  # the wire, both ways
    cmd = next((v for k, v in fields if k == "cmd"), None)
    args = next((v for k, v in fields if k == "args"), None)
    env = jobspec.env_entries(v for k, v in fields if k == "env")
    return jobspec.build(cmd, args, env, INJECTED)


# --- cmdline: encoding ---------------------------------------------------------------------------


def test_spaces_travel_as_one_shared_variable() -> None:
    line = cmdline.encode("bash", ["-c", "make all && ./run"])
    assert line.args == "-c make$(CANFAR_SPACE)all$(CANFAR_SPACE)&&$(CANFAR_SPACE)./run"
    assert line.env == [("CANFAR_SPACE", " ")]
    assert line.argv == ["bash", "-c", "make all && ./run"]
    # The server's Java split keeps the single-space value: exactly two parts.
    assert jobspec.env_entries(["CANFAR_SPACE= "]) == [("CANFAR_SPACE", " ")]


def test_no_space_no_extra_variable_and_dollars_doubled() -> None:
    line = cmdline.encode("echo", ["$(HOME)", "$$", "a$"], {"K": "x$y"})
    assert line.args == "$$(HOME) $$$$ a$$"
    assert line.env == [("K", "x$$y")]
    assert line.job_env == [("K", "x$y")]


def test_cmd_with_a_space_is_encoded_too() -> None:
    line = cmdline.encode("my prog", None)
    assert line.cmd == "my$(CANFAR_SPACE)prog" and line.args is None
    assert through_server(line)[0] == ["my prog"]


def test_inner_and_leading_empty_arguments_survive() -> None:
    for args in (["a", "", "b"], ["", "x"], ["a", "", "", "b"]):
        line = cmdline.encode("echo", args)
        assert through_server(line)[0] == ["echo", *args]


@pytest.mark.parametrize(
    "args",
    [
        ["$(HOME)", "$$", "$", "$(", "$(HOME", "a $ b", "$$(HOME)", "$ (x)"],
        ["it's", "O'Brien", "a=b=c", "--title=M31 field", "x\ty"],
        ["ünïcödé", "日本語 テキスト", "emoji 😀 ok", "[bold]x[/bold]"],
        ["  two leading", "trailing  ", " ", "   "],
    ],
)
def test_encode_then_server_gives_the_argv_byte_for_byte(args: list[str]) -> None:
    line = cmdline.encode("prog", args, {"V": "a b $(HOME) $$ ü"})
    argv, env = through_server(line)
    assert argv == ["prog", *args]
    assert env["V"] == "a b $(HOME) $$ ü"
    assert env["HOME"] == "/home/me"  # the injected variables are untouched


def _random_text(rng: random.Random) -> str:
    """Printable unicode (spaces, $, ( and ) often) without " \\ or control characters."""
    alphabet = " $()=ab'é日😀\t-"
    out = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.6:
            out.append(rng.choice(alphabet))
        else:
            while True:
                ch = chr(rng.randint(0x20, 0x2FFFF))
                if ch.isprintable() and ch not in '"\\' and not 0xD800 <= ord(ch) <= 0xDFFF:
                    break
            out.append(ch)
    return "".join(out)


def test_round_trip_of_random_argv() -> None:
    rng = random.Random(20261127)
    for _ in range(2000):
        cmd = _random_text(rng) or "x"
        args = [_random_text(rng) for _ in range(rng.randint(0, 6))]
        if args and args[-1] == "":
            args[-1] = "end"
        value = _random_text(rng).replace("=", "") or "v"
        line = cmdline.encode(cmd, args, {"USER_VAR": value})
        argv, env = through_server(line)
        assert argv == [cmd, *args], (cmd, args, line)
        assert env["USER_VAR"] == value


# --- cmdline: refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "args", "env", "words", "hint"),
    [
        ("echo", ['say "hi"'], None, "argument 1", "single quotes"),
        ("echo", ["ok", "a\\b"], None, "argument 2", "script file"),
        ("echo", ["line\nbreak"], None, "line break", "script file"),
        ("echo", ["cr\rhere"], None, "line break", "script file"),
        ("echo", ["bell\x07"], None, "control character (U+0007)", "script file"),
        ("echo", ["esc\x1b[31m"], None, "U+001B", "script file"),
        ("echo", ["nel\x85"], None, "U+0085", "script file"),
        ("echo", ["ls\u2028"], None, "line separator", "script file"),
        ('ec"ho', None, None, "cmd", "single quotes"),
        ("echo", None, {"K": 'a"b'}, "variable K", "single quotes"),
        ("echo", None, {"K": "a\\b"}, "variable K", "script file"),
        ("echo", None, {"K": "two\nlines"}, "variable K", "script file"),
    ],
)
def test_what_the_yaml_would_mangle_is_refused(cmd, args, env, words, hint) -> None:
    with pytest.raises(UsageError) as caught:
        cmdline.encode(cmd, args, env)
    assert words in caught.value.message
    assert hint in (caught.value.hint or "")
    assert "\n" not in caught.value.message


def test_a_trailing_empty_argument_is_refused_inner_ones_are_not() -> None:
    for args in (["a", ""], [""], ["a", "", ""]):
        with pytest.raises(UsageError, match="empty and last"):
            cmdline.encode("echo", args)
    cmdline.encode("echo", ["", "a"])


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"K": "a=b"}, "contains '='"),
        ({"K": ""}, "empty value"),
        ({"CANFAR_SPACE": "x"}, "reserved"),
        ({"CANFAR_SPACEX": "x"}, "reserved"),
        ({"CANFAR_ARG_1": "x"}, "reserved"),
    ],
)
def test_env_the_server_would_drop_or_canfar_owns_is_refused(env, words) -> None:
    with pytest.raises(UsageError, match=words):
        cmdline.encode("echo", None, env)


def test_other_canfar_names_are_fine() -> None:
    assert cmdline.encode("echo", None, {"CANFAR_ARGS": "x"}).env == [("CANFAR_ARGS", "x")]


@pytest.mark.parametrize(("what", "value"), [("cores", 1.5), ("ram", 4.5)])
def test_fractional_cores_and_ram_are_refused(what: str, value: float) -> None:
    with pytest.raises(UsageError, match="whole number") as caught:
        create_request.CreateRequest(name="j", image=IMAGE, **{what: value}).check()  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
    form = create_request.CreateRequest(name="j", image=IMAGE, cores=2.0, ram=8.0).check().form(0)
    assert ("cores", "2") in form and ("ram", "8") in form


def test_create_spec_sends_the_encoded_line_and_previews_the_argv() -> None:
    spec = create_request.CreateRequest(
        name="fit", image=IMAGE, cmd="python", args=["fit.py", "--title", "M31 field"],
        env={"SEED": "4$2"}, replicas=2,
    ).check()  # fmt: skip
    form = spec.form(1)
    assert ("args", "fit.py --title M31$(CANFAR_SPACE)field") in form
    envs = [v for k, v in form if k == "env"]
    assert envs == ["SEED=4$$2", "CANFAR_SPACE= ", "REPLICA_ID=2", "REPLICA_COUNT=2"]
    assert spec.argv == ["python", "fit.py", "--title", "M31 field"]
    assert dict(spec.job_env(1))["SEED"] == "4$2"


# --- jobspec: the server's side ---------------------------------------------------------------


def test_env_entries_keep_what_splits_in_two() -> None:
    assert jobspec.env_entries(["A=1", "B=2=3", "C=", "D", "E= "]) == [("A", "1"), ("E", " ")]


def test_yaml_escapes_are_read_as_yaml_reads_them() -> None:
    spec = jobspec.decode(
        "echo", r"a\nb \t \\ \"q\" \x41 \u00e9 \U0001F600 \/ \e", [("K", r"v\tw")]
    )
    assert spec.args == ["a\nb", "\t", "\\", '"q"', "A", "é", "😀", "/", "\x1b"]
    assert spec.env == [("K", "v\tw")]


def test_a_raw_line_break_folds_into_a_space() -> None:
    assert jobspec.decode("echo", "one\ntwo", []).args == ["one two"]
    assert jobspec.decode("echo", "one\n\ntwo", []).args == ["one\ntwo"]
    assert jobspec.decode(None, None, [("K", "a\nb")]).env == [("K", "a b")]


@pytest.mark.parametrize(
    ("cmd", "args", "env", "words"),
    [
        ("echo", 'say "hi"', [], "expected ',' or ']'"),
        ("echo", 'x"', [], "expected ',' or ']'"),
        ('ec"ho', None, [], "expected ',' or ']'"),
        ("echo", r"a\qb", [], "unknown escape character q"),
        ("echo", r"\x4", [], "hexadecimal"),
        ("echo", "bell\x07", [], "special characters"),
        ("echo", None, [("K", 'a"b')], "expected <block end>"),
        ("echo", "end\\", [], "unexpected end"),
    ],
)
def test_what_breaks_the_yaml_fails(cmd, args, env, words) -> None:
    with pytest.raises(jobspec.JobSpecError, match=words):
        jobspec.decode(cmd, args, env)


def test_a_quote_can_also_make_valid_yaml_with_other_pieces() -> None:
    # args 'a","b' is one piece; written unescaped it reads as two arguments.
    assert jobspec.decode("echo", 'a","b', []).args == ["a", "b"]


def test_kubernetes_expansion() -> None:
    env = {"HOME": "/h", "X": "x"}
    assert jobspec.expand("$(HOME)/a", env) == "/h/a"
    assert jobspec.expand("$$(HOME)", env) == "$(HOME)"
    assert jobspec.expand("$$$$", env) == "$$"
    assert jobspec.expand("$(NOPE)", env) == "$(NOPE)"
    assert jobspec.expand("$(", env) == "$("
    assert jobspec.expand("$(HOME", env) == "$(HOME"
    assert jobspec.expand("a$", env) == "a$"
    assert jobspec.expand("$X$(X)", env) == "$Xx"


def test_env_values_expand_from_earlier_variables_only() -> None:
    spec = jobspec.JobSpec(
        ["echo"], ["$(A)", "$(HOME)"], [("A", "1"), ("B", "$(A)-$(C)-$(HOME)"), ("C", "3")]
    )
    argv, env = jobspec.resolve(spec, [("HOME", "/h")])
    assert argv == ["echo", "1", "/h"]
    assert env["B"] == "1-$(C)-$(HOME)"  # C and HOME come later
    # Injected variables come after the user's, so they win.
    assert jobspec.resolve(jobspec.JobSpec([], [], [("HOME", "mine")]), [("HOME", "/h")])[1] == {
        "HOME": "/h"
    }


def test_the_official_clients_requests_are_mangled() -> None:
    """Args joined as typed, no escaping: what the real server makes of them."""
    typed = ["-c", "make all && ./run"]
    argv, _ = jobspec.build("bash", " ".join(typed), [], INJECTED)
    assert argv == ["bash", "-c", "make", "all", "&&", "./run"]
    argv, _ = jobspec.build("echo", " ".join(["$(HOME)", "$$"]), [], INJECTED)
    assert argv == ["echo", "/home/me", "$"]
    assert jobspec.env_entries(["K=a=b", "E="]) == []
