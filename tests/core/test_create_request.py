"""Unit tests of canfar_cli.create_request: the refusals of a create and the form it sends."""

from __future__ import annotations

import pytest

from canfar_cli.create_request import MAX_REPLICAS, CreateRequest, check_image, check_name
from canfar_cli.errors import UsageError
from tests.support import IMAGE


def refused(**overrides: object) -> UsageError:
    arguments: dict = {"name": "job", "image": IMAGE, **overrides}
    with pytest.raises(UsageError) as caught:
        CreateRequest(**arguments).check()
    assert caught.value.exit_code == 2
    assert caught.value.message
    return caught.value


# --- refusals (issue 3, "Refused before sending") ----------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["my_job", "job.1", "job 1", "jöb", "-job", "job-", "", "a" * 64, "job/1"],
)
def test_names_the_server_would_reject_are_refused(name: str) -> None:
    error = refused(name=name)
    assert error.hint


def test_upper_case_names_are_refused_with_the_lowercase_suggested() -> None:
    error = refused(name="MyJob")
    assert "'myjob'" in (error.hint or "")


def test_the_replica_suffix_counts_toward_the_63_characters() -> None:
    CreateRequest(name="a" * 63, image=IMAGE).check()  # fits alone
    error = refused(name="a" * 61, replicas=10)  # a...-10 is 64 long
    assert "64" in error.message and "-10" in error.message
    spec = CreateRequest(name="a" * 60, image=IMAGE, replicas=10).check()
    assert spec.names[-1] == "a" * 60 + "-10"


def test_valid_names_pass_unchanged() -> None:
    for name in ("a", "job-1", "x" * 63, "0abc9"):
        assert CreateRequest(name=name, image=IMAGE).check().names == [name]


@pytest.mark.parametrize("env", [{"A": "x=y"}, {"A": "=", "B": "1"}])
def test_env_values_with_equals_are_refused(env: dict) -> None:
    error = refused(env=env)
    assert "'='" in error.message and "drop" in error.message


@pytest.mark.parametrize("key", ["1A", "A-B", "A B", "", "A=B", "É"])
def test_env_keys_that_are_not_variable_names_are_refused(key: str) -> None:
    error = refused(env={key: "v"})
    assert "not a valid name" in error.message


def test_replica_variables_are_reserved() -> None:
    refused(env={"REPLICA_ID": "3"})


@pytest.mark.parametrize("args", [['say "hi"'], ["a\\b"], ["line\nbreak"], ["ok", ""]])
def test_args_the_server_would_mangle_are_refused(args: list[str]) -> None:
    refused(cmd="python", args=args)


def test_args_as_text_are_split_on_whitespace() -> None:
    spec = CreateRequest(name="j", image=IMAGE, cmd="python", args="fit.py  --n 3").check()
    assert spec.args == ["fit.py", "--n", "3"]
    assert ("args", "fit.py --n 3") in spec.form(0)


def test_cmd_with_a_double_quote_is_refused() -> None:
    error = refused(cmd='say"')
    assert "single quotes" in (error.hint or "")


@pytest.mark.parametrize("kind", ["notebook", "desktop", "carta", "firefly", "contributed"])
@pytest.mark.parametrize(
    "extra", [{"cmd": "echo"}, {"args": ["x"]}, {"env": {"A": "1"}}, {"args": "x y"}]
)
def test_cmd_args_env_for_interactive_kinds_are_refused(kind: str, extra: dict) -> None:
    error = refused(kind=kind, **extra)
    assert "headless" in error.message


def test_gpu_zero_is_refused() -> None:
    error = refused(gpu=0)
    assert "gpu" in error.message.lower()
    assert CreateRequest(name="j", image=IMAGE, gpu=2).check().form(0)[5] == (
        "gpus",
        "2",
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("cores", 0),
        ("cores", -1),
        ("cores", 0.5),
        ("ram", 0),
        ("replicas", 0),
        ("replicas", -3),
        ("replicas", 1.5),
        ("cores", "2"),
        ("cores", True),
        ("gpu", -1),
        ("cores", float("nan")),
    ],
)
def test_counts_below_one_or_not_numbers_are_refused(field: str, value: object) -> None:
    refused(**{field: value})


@pytest.mark.parametrize("kind", ["batch", "desktop-app", "", "HEADLESSS"])
def test_unknown_kinds_are_refused(kind: str) -> None:
    error = refused(kind=kind)
    assert "headless" in (error.hint or "")


def test_kind_is_case_insensitive() -> None:
    assert CreateRequest(name="j", image=IMAGE, kind=" Notebook ").check().kind == "notebook"


@pytest.mark.parametrize("image", ["terminal", "ubuntu:22.04", "", "  ", "images.canfar.net/a b"])
def test_images_without_registry_host_are_refused(image: str) -> None:
    refused(image=image)


def test_default_registry_is_prefixed_to_project_paths() -> None:
    spec = CreateRequest(name="j", image="skaha/terminal:1.1.1").check()
    assert spec.image == IMAGE
    for full in (IMAGE, "localhost:5000/x/y:1", "harbor.example.org/p/r:t"):
        assert check_image(full) == full


# --- the form a create sends ---------------------------------------------------------------


def test_replicas_get_numbered_names_and_replica_env_in_order() -> None:
    spec = CreateRequest(
        name="fit", image=IMAGE, cmd="python", args=["run.py"], env={"A": "1"}, replicas=3
    ).check()
    assert spec.names == ["fit-1", "fit-2", "fit-3"]
    form = spec.form(1)
    assert form[:5] == [
        ("name", "fit-2"),
        ("image", IMAGE),
        ("type", "headless"),
        ("cores", "2"),
        ("ram", "4"),
    ]
    assert [v for k, v in form if k == "env"] == ["A=1", "REPLICA_ID=2", "REPLICA_COUNT=3"]
    assert ("cmd", "python") in form and ("args", "run.py") in form


def test_interactive_forms_carry_no_env() -> None:
    form = CreateRequest(name="nb", image=IMAGE, kind="notebook", cores=3).check().form(0)
    assert ("type", "notebook") in form and ("cores", "3") in form
    assert not [k for k, _ in form if k in ("env", "cmd", "args")]


def test_a_name_with_a_line_break_is_refused() -> None:
    with pytest.raises(UsageError):
        check_name("fit\n")


def test_absurd_replica_counts_are_refused_before_any_name_is_made() -> None:
    # It used to build 10**23 default names in memory (the process was killed by the OOM killer).
    with pytest.raises(UsageError, match="at most"):
        CreateRequest("x", IMAGE, replicas=MAX_REPLICAS + 1).check()
    assert len(CreateRequest("x", IMAGE, replicas=MAX_REPLICAS).check().names) == 10_000


# --- the walk of a create through the core (issue 18) ---------------------------------------


@pytest.mark.anyio
async def test_a_create_reaches_its_post_body_through_four_core_files() -> None:
    """From `check_create`'s arguments to the POST handed to the HTTP client, a create runs
    code in session.py, create_request.py, cmdline.py and http.py only (what the HTTP client
    calls below it is the wire, not the create's walk). A fifth module, or a decorator in
    between, fails here."""
    import sys
    import threading
    from pathlib import Path
    from types import CodeType, FrameType
    from typing import Any

    import httpx

    from canfar_cli import AsyncSession, create_request

    package = Path(create_request.__file__).resolve().parent
    http_file = str(package / "http.py")
    # The two methods and the closures they define (a task's frame has no caller to look at).
    entry: set[CodeType] = set()
    codes = [AsyncSession.check_create.__code__, AsyncSession.create_checked.__code__]
    while codes:
        code = codes.pop()
        entry.add(code)
        codes += [const for const in code.co_consts if isinstance(const, CodeType)]
    walked: set[str] = set()
    posts: list[bytes] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or not frame.f_code.co_filename.startswith(str(package)):
            return
        outer: FrameType | None = frame
        while outer is not None:
            if outer is not frame and outer.f_code.co_filename == http_file:
                return  # below the HTTP client
            if outer.f_code in entry:
                walked.add(Path(frame.f_code.co_filename).relative_to(package).as_posix())
                return
            outer = outer.f_back

    def server(request: httpx.Request) -> httpx.Response:
        posts.append(request.content)
        return httpx.Response(200, text=f"abcd{len(posts):04d}")

    async with AsyncSession(server="local", transport=httpx.MockTransport(server)) as session:
        threading.setprofile(profile)
        sys.setprofile(profile)
        try:
            spec = session.check_create("fit", IMAGE, cmd="echo", args=["a b"], replicas=2)
            outcomes = await session.create_checked(spec)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    assert sorted(str(o.value) for o in outcomes) == ["abcd0001", "abcd0002"]  # sent at once
    assert len(posts) == 2 and b"CANFAR_SPACE" in posts[0]
    assert walked == {"session.py", "create_request.py", "cmdline.py", "http.py"}
