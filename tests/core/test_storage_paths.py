"""Storage paths as users write them (canfar_cli.storage.paths): pure parsing, no I/O."""

from __future__ import annotations

import pytest

from canfar_cli.errors import ExitCode, UsageError
from canfar_cli.storage.paths import LocalPath, RemotePath, parse_path, resource_of, vos_base

SERVICES = {"arc": "ivo://cadc.nrc.ca/arc", "vault": "ivo://cadc.nrc.ca/vault"}


def test_official_and_vostools_forms_are_the_same_node() -> None:
    assert parse_path("arc:/home/me/x", SERVICES) == parse_path("arc:home/me/x", SERVICES)
    assert parse_path("arc:home//me/./x/", SERVICES) == RemotePath("arc", "/home/me/x")


def test_home_is_expanded_with_the_user_and_refused_without_one() -> None:
    path = parse_path("arc:~/data/x.fits", SERVICES)
    assert isinstance(path, RemotePath) and path.home
    assert path.expand("alice") == RemotePath("arc", "/home/alice/data/x.fits")
    assert parse_path("arc:~", SERVICES).expand("bob") == RemotePath("arc", "/home/bob")  # type: ignore[union-attr]
    with pytest.raises(UsageError) as caught:
        path.expand(None)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "CANFAR_USER" in (caught.value.hint or "")


def test_someone_elses_home_by_name() -> None:
    assert parse_path("arc:~carol/x", SERVICES) == RemotePath("arc", "/home/carol/x")


def test_full_uri_maps_to_the_service_name() -> None:
    assert parse_path("vos://cadc.nrc.ca~vault/me/x.fits", SERVICES) == RemotePath(
        "vault", "/me/x.fits"
    )
    assert parse_path("vos://cadc.nrc.ca!arc/home/me", SERVICES) == RemotePath("arc", "/home/me")
    with pytest.raises(UsageError, match="no storage service"):
        parse_path("vos://example.org~cavern/x", SERVICES)


@pytest.mark.parametrize("text", ["arc:/home/../etc", "arc:a/..", "vos://cadc.nrc.ca~arc/a/../b"])
def test_dot_dot_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match=r"\.\."):
        parse_path(text, SERVICES)


@pytest.mark.parametrize("text", ["arc:/home/a\0b", "x\0y", ""])
def test_nul_and_empty_are_refused(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_path(text, SERVICES)
    assert caught.value.exit_code == 2


def test_unknown_service_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        parse_path("arcc:/home/me", SERVICES)
    assert "arcc" in caught.value.message
    assert "arc:, vault:" in (caught.value.hint or "")
    # Without a list of services any well-formed name is accepted (the CLI checks later).
    assert parse_path("ukCAM:/home/me") == RemotePath("ukCAM", "/home/me")


def test_service_names_are_matched_without_case_when_unambiguous() -> None:
    assert parse_path("ARC:/x", SERVICES) == RemotePath("arc", "/x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local:/tmp/x", "/tmp/x"),
        ("/tmp/x", "/tmp/x"),
        ("x.txt", "x.txt"),
        ("./a:b", "./a:b"),
        ("dir/a:b", "dir/a:b"),
    ],
)
def test_local_paths(text: str, expected: str) -> None:
    assert parse_path(text, SERVICES) == LocalPath(expected)


def test_trailing_slash_is_remembered_but_not_part_of_identity() -> None:
    path = parse_path("arc:/home/me/new/", SERVICES)
    assert isinstance(path, RemotePath) and path.slash
    assert path == RemotePath("arc", "/home/me/new")


def test_path_arithmetic() -> None:
    root = RemotePath("arc", "/home/me")
    assert root.child_path("a/b") == RemotePath("arc", "/home/me/a/b")
    assert root.child_path("a/b").parent.parent == root
    assert root.contains(RemotePath("arc", "/home/me/a"))
    assert not root.contains(RemotePath("arc", "/home/meow"))
    assert not root.contains(RemotePath("vault", "/home/me/a"))
    assert RemotePath("arc", "/home/me/a b#c").url_path() == "/home/me/a%20b%23c"


def test_uris() -> None:
    assert vos_base("ivo://cadc.nrc.ca/arc") == "vos://cadc.nrc.ca~arc"
    assert resource_of("vos://cadc.nrc.ca~arc/home/a%20b") == ("ivo://cadc.nrc.ca/arc", "/home/a b")
