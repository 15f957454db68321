"""AsyncStorage / Storage against the local platform on a real loopback socket (`canfar local
serve`): discovery, every operation, integrity, resumption, errors, faults and interruption."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from canfar_cli import AsyncStorage, Storage
from canfar_cli.errors import AuthError, NotFoundError, ServerError, UsageError
from canfar_cli.http import RetryPolicy
from canfar_cli.storage import TransferInterrupted
from canfar_cli.storage.wire import QuotaError
from tests.support.many import ten_thousand_files
from tests.support.storage import interrupted_mid_body

pytestmark = pytest.mark.anyio
QUICK = RetryPolicy(attempts=8, backoff=0.01, max_backoff=0.05, retry_after_cap=0.05)


class Recording(httpx.AsyncBaseTransport):
    """A real socket transport that remembers what was sent (method, URL, headers)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def storage_of(server: Any, **options: Any) -> AsyncStorage:
    return AsyncStorage(server.url, token=server.token, **options)


def home_folder(server: Any) -> Path:
    return Path(server.home) / "home" / server.user


async def test_discovery_and_home(local_server: Any) -> None:
    async with storage_of(local_server) as storage:
        assert await storage.services() == {
            "arc": "ivo://cadc.nrc.ca/arc",
            "vault": "ivo://cadc.nrc.ca/vault",
        }
        assert await storage.user() == local_server.user
        node = await storage.stat("arc:~")
        assert node.kind == "folder" and node.path == f"arc:/home/{local_server.user}"


async def test_round_trip_one_request_each_way_with_digest(
    local_server: Any, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "fit.py"
    source.write_bytes(data)
    transport = Recording()
    async with storage_of(local_server, transport=transport) as storage:
        await storage.services()
        await storage.user()
        transport.sent.clear()
        report = await storage.put(str(source), "arc:~/")
        assert [(i.status, i.bytes) for i in report.items] == [("done", len(data))]
        puts = [r for r in transport.sent if r.method == "PUT"]
        assert len(puts) == 1 and "/arc/files/home/" in str(puts[0].url)
        assert (
            puts[0].headers["Digest"]
            == "md5=" + __import__("base64").b64encode(hashlib.md5(data).digest()).decode()
        )
        # The file is the one the jobs see in their home (§7).
        assert (home_folder(local_server) / "fit.py").read_bytes() == data
        transport.sent.clear()
        target = tmp_path / "back"
        target.mkdir()
        await storage.get("arc:~/fit.py", str(target))
        gets = [r for r in transport.sent if r.method == "GET"]
        assert len(gets) == 1 and "/arc/files/" in str(gets[0].url)  # no listing to verify
        assert (target / "fit.py").read_bytes() == data
        assert not (target / "fit.py.part").exists()
        node = await storage.stat("arc:~/fit.py")
        assert node.size == len(data) and node.md5 == hashlib.md5(data).hexdigest()


async def test_vault_negotiates_and_follows_to_its_byte_host(
    local_server: Any, tmp_path: Path
) -> None:
    data = b"vault bytes\n" * 1000
    (tmp_path / "v.bin").write_bytes(data)
    transport = Recording()
    async with storage_of(local_server, transport=transport) as storage:
        await storage.put(str(tmp_path / "v.bin"), "vault:~/v.bin")
        assert any("synctrans" in str(r.url) for r in transport.sent)
        put = [r for r in transport.sent if r.method == "PUT"][-1]
        assert "Authorization" not in put.headers  # a pre-authorized URL takes no credential
        await storage.get("vault:~/v.bin", str(tmp_path / "w.bin"))
        assert (tmp_path / "w.bin").read_bytes() == data


async def test_a_ten_thousand_entry_folder_is_listed_whole(local_server: Any) -> None:
    folder = home_folder(local_server) / "many"
    ten_thousand_files(folder, lambda i: f"f{i:05d}")
    async with storage_of(local_server) as storage:
        listing = await storage.ls("arc:~/many")
    assert len(listing) == 10_000
    assert listing[0].name == "f00000" and listing[-1].name == "f09999"


async def test_recursive_copy_sync_and_a_second_sync_moves_nothing(
    local_server: Any, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for i in range(5):
        (tree / f"a{i}").write_text(f"a{i}")
        (tree / "sub" / f"b{i}").write_text(f"b{i}")
    async with storage_of(local_server) as storage:
        first = await storage.sync(str(tree), "arc:~/tree")
        assert len(first.done) == 12 and not first.failed  # 2 folders + 10 files
        again = await storage.sync(str(tree), "arc:~/tree")
        assert [i.status for i in again.items] == ["skipped"] * 10
        (tree / "a0").write_text("changed, and longer")
        (tree / "new").write_text("new")
        third = await storage.sync(str(tree), "arc:~/tree")
        assert sorted(i.dest.rsplit("/", 1)[1] for i in third.done) == ["a0", "new"]
        # Down again, and across services (streamed through here).
        down = await storage.sync("arc:~/tree", str(tmp_path / "copy"))
        assert not down.failed
        assert (tmp_path / "copy" / "sub" / "b3").read_text() == "b3"
        assert not (await storage.sync("arc:~/tree", str(tmp_path / "copy"))).done
        across = await storage.copy("arc:~/tree", "vault:~/", recursive=True)
        assert not across.failed and len(across.done) == 13
        # --delete removes what the source no longer has.
        (tree / "new").unlink()
        planned = await storage.sync(str(tree), "arc:~/tree", delete=True, dry_run=True)
        assert [(i.action, i.dest) for i in planned.planned] == [
            ("delete", f"arc:/home/{local_server.user}/tree/new")
        ]
        await storage.sync(str(tree), "arc:~/tree", delete=True)
        assert not await storage.exists("arc:~/tree/new")


async def test_posix_rules_are_checked_before_anything_is_sent(
    local_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("f")
    async with storage_of(local_server) as storage:
        await storage.mkdir("arc:~/dir/inner", parents=True)
        await storage.put(str(tmp_path / "f"), "arc:~/file")
        with pytest.raises(UsageError, match="is a folder"):
            await storage.copy(str(tmp_path / "d"), "arc:~/")
        with pytest.raises(UsageError, match="into itself"):
            await storage.copy("arc:~/dir", "arc:~/dir/inner", recursive=True)
        (tmp_path / "inner").write_text("a file named as the folder")
        with pytest.raises(UsageError, match="cannot overwrite a folder"):
            await storage.copy(str(tmp_path / "inner"), "arc:~/dir")
        with pytest.raises(UsageError, match="not an existing folder"):
            await storage.copy([str(tmp_path / "f"), str(tmp_path / "f")], "arc:~/file")
        with pytest.raises(NotFoundError) as missing:
            await storage.put(str(tmp_path / "f"), "arc:~/no/such/x")
        assert "mkdir -p" in (missing.value.hint or "")
        with pytest.raises(UsageError, match=r"\.\."):
            await storage.stat("arc:~/../x")
        with pytest.raises(UsageError) as unknown:
            await storage.stat("nosuch:/x")
        assert "arc:, vault:" in (unknown.value.hint or "")
        with pytest.raises(ServerError) as exists:
            await storage.mkdir("arc:~/dir")
        assert exists.value.status == 409
        with pytest.raises(UsageError, match="is a folder"):
            await storage.remove("arc:~/dir")
        with pytest.raises(UsageError, match="is a folder") as folder:
            await storage.get("arc:~/dir", str(tmp_path / "x"))  # found out by the GET itself
        assert folder.value.exit_code == 2 and "-r" in (folder.value.hint or "")
        with pytest.raises(NotFoundError):
            await storage.copy("arc:~/nope", str(tmp_path / "x"), dry_run=True)


async def test_move_rename_into_and_across(local_server: Any, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("moving")
    async with storage_of(local_server) as storage:
        await storage.mkdir("arc:~/m/into", parents=True)
        await storage.put(str(tmp_path / "f"), "arc:~/m/f")
        await storage.move("arc:~/m/f", "arc:~/m/g")  # rename (the server's move job)
        await storage.move("arc:~/m/g", "arc:~/m/into")  # into a folder
        assert [n.name for n in await storage.ls("arc:~/m/into")] == ["g"]
        await storage.move("arc:~/m/into", "vault:~/into")  # across: copy, then remove
        assert not await storage.exists("arc:~/m/into")
        assert [n.name for n in await storage.ls("vault:~/into")] == ["g"]
        report = await storage.remove("arc:~/m", recursive=True)
        assert not report.failed and not await storage.exists("arc:~/m")


async def test_resumed_download_uses_range_on_vault_and_starts_again_on_arc(
    local_server: Any, tmp_path: Path
) -> None:
    data = os.urandom(2_000_000)
    (tmp_path / "big").write_bytes(data)
    transport = Recording()
    async with storage_of(local_server, transport=transport) as storage:
        await storage.put(str(tmp_path / "big"), "vault:~/big")
        await storage.put(str(tmp_path / "big"), "arc:~/big")
        out = tmp_path / "out"
        out.mkdir()
        (out / "big.part").write_bytes(data[:700_000])  # what a broken download left
        transport.sent.clear()
        report = await storage.get("vault:~/big", str(out / "big"), resume=True)
        assert report.items[0].status == "done"
        assert (out / "big").read_bytes() == data
        ranges = [r.headers.get("Range") for r in transport.sent if r.method == "GET"]
        assert "bytes=700000-" in ranges
        (out / "big.part").write_bytes(b"garbage" * 1000)  # cavern has no Range: start again
        await storage.get("arc:~/big", str(out / "big2"), resume=True)
        os.replace(out / "big.part", out / "big2.part") if (out / "big.part").exists() else None
        assert (out / "big2").read_bytes() == data


async def test_quota_says_how_much_is_used(serve_local: Any, tmp_path: Path) -> None:
    server = serve_local(env={"CANFAR_LOCAL_QUOTA": "100K"})
    (tmp_path / "big").write_bytes(os.urandom(200_000))
    async with storage_of(server) as storage:
        with pytest.raises(QuotaError) as caught:
            await storage.put(str(tmp_path / "big"), "arc:~/big")
        assert caught.value.exit_code == 1
        assert "over quota: used 0 B of 100.0 KiB" in caught.value.message
        assert "195.3 KiB" in caught.value.message  # what did not fit
        # Nothing half-done is left behind (the server leaves 0 bytes: we delete it).
        assert not await storage.exists("arc:~/big")


async def test_others_homes_are_refused_with_exit_3(local_server: Any) -> None:
    async with storage_of(local_server) as storage:
        with pytest.raises((AuthError, NotFoundError)) as caught:
            await storage.mkdir("arc:/home/someone-else/x")
        assert caught.value.exit_code in (3, 4)


async def test_url_is_pre_authorized_and_works_without_credentials(
    local_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"shared")
    async with storage_of(local_server) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        url = await storage.url("arc:~/f")
    assert "preauth:" in url
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(url)).content == b"shared"


async def test_open_streams_both_ways(local_server: Any) -> None:
    async with storage_of(local_server) as storage:
        async with storage.open("arc:~/stream.bin", "wb") as writer:
            for _ in range(50):
                await writer.write(b"0123456789" * 10_000)
        async with storage.open("arc:~/stream.bin") as reader:
            total = 0
            async for chunk in reader:
                total += len(chunk)
        assert total == 5_000_000
        assert (await storage.stat("arc:~/stream.bin")).size == 5_000_000


async def test_faults_are_retried_and_every_file_arrives(serve_local: Any, tmp_path: Path) -> None:
    server = serve_local(fail_rate=0.25, fail_status=503, retry_after=0, drop_rate=0.1)
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(20):
        (tree / f"f{i}").write_bytes(os.urandom(1000 + i))
    # A request fails a try with p = 0.25 + 0.75 * 0.1 = 0.325; with 8 tries the ~100 requests of
    # the two copies ran out of tries about once a run in a hundred (0.325**8 each), with 12 about
    # once in a million runs: what is tested is that every kind of fault is retried.
    patient = dataclasses.replace(QUICK, attempts=12)
    async with storage_of(server, retry=patient) as storage:
        report = await storage.copy(str(tree), "arc:~/", recursive=True)
        assert not report.failed, [str(i.error) for i in report.failed]
        back = await storage.copy("arc:~/t", str(tmp_path / "back"), recursive=True)
        assert not back.failed
    for i in range(20):
        assert (tmp_path / "back" / f"f{i}").read_bytes() == (tree / f"f{i}").read_bytes()


async def test_interruption_stops_starting_files_and_reports(
    serve_local: Any, tmp_path: Path
) -> None:
    server = serve_local(latency_ms=100)
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(40):
        (tree / f"f{i:02d}").write_bytes(b"x" * 1000)
    caught: list[TransferInterrupted] = []

    class CancelAfterTwo:
        def __init__(self, scope: anyio.CancelScope) -> None:
            self.scope, self.count = scope, 0

        def start(self, total_files: int, total_bytes: int) -> None:
            pass

        def advance(self, nbytes: int) -> None:
            pass

        def file_done(self, path: str, ok: bool) -> None:
            self.count += 1
            if self.count == 2:
                self.scope.cancel()

    async with storage_of(server, concurrency=2) as storage:
        await storage.mkdir("arc:~/t")
        with anyio.CancelScope() as scope:
            try:
                await storage.copy(
                    str(tree), "arc:~/", recursive=True, progress=CancelAfterTwo(scope)
                )
            except TransferInterrupted as exc:
                caught.append(exc)
        assert caught, "the interruption was not reported"
        report = caught[0].report
        assert report.interrupted and report.exit_code == 130
        assert len(report.done) >= 2 and report.not_done
        names = {n.name for n in await storage.ls("arc:~/t")}
        # Every file there is whole (none half-written is left), and those reported done are.
        for item in report.done:
            assert item.dest.rsplit("/", 1)[1] in names
        for node in await storage.ls("arc:~/t"):
            assert node.size == 1000


def test_the_blocking_twin(local_server: Any, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("blocking")
    with Storage(local_server.url, token=local_server.token) as storage:
        storage.put(str(tmp_path / "f"), "arc:~/f")
        assert [n.name for n in storage.ls("arc:~")] == ["f"]
        with storage.open("arc:~/f") as handle:
            assert handle.read() == b"blocking"
        with storage.open("arc:~/g", "wb") as handle:
            handle.write(b"written")
        assert storage.stat("arc:~/g").size == 7
        walked = [
            (folder.name, [c.name for c in children]) for folder, children in storage.walk("arc:~")
        ]
        assert walked == [(local_server.user, ["f", "g"])]
    assert Storage.ls.__doc__ == AsyncStorage.ls.__doc__


async def test_no_pre_authorized_url_reaches_the_request_log(
    local_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(b"secret-bearing URLs")
    caplog.set_level("DEBUG", logger="canfar_cli")
    async with storage_of(local_server, loglevel=10) as storage:
        for service in ("arc", "vault"):
            await storage.put(str(tmp_path / "f"), f"{service}:~/f")
            await storage.get(f"{service}:~/f", str(tmp_path / f"{service}.back"))
        shared = [await storage.url("arc:~/f"), await storage.url("vault:~/f")]
        await storage.get("vault:~/f", str(tmp_path / "again"))
    logged = caplog.text
    assert "GET" in logged and "PUT" in logged  # the log is there
    assert local_server.token not in logged
    for url in shared:
        secret = max(url.split("/"), key=len)  # the token: the longest path segment
        assert len(secret) > 40 and secret not in logged


async def test_a_failed_xml_negotiation_says_why(local_server: Any) -> None:
    from canfar_cli.storage.paths import RemotePath

    async with storage_of(local_server) as storage:
        await storage.services()
        service = await storage._service("vault")
        target = RemotePath("vault", f"/{local_server.user}/no/such/folder/x")
        with pytest.raises(NotFoundError) as caught:
            await storage._engine.negotiate_xml_anonymous(service, target, "pushToVoSpace")
    assert "no usable" not in caught.value.message
    assert caught.value.message.startswith(str(target))


async def test_a_second_sync_to_vault_moves_nothing_even_when_its_listing_lags(
    serve_local: Any, tmp_path: Path
) -> None:
    server = serve_local(env={"CANFAR_LOCAL_VAULT_LAG": "600"})
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(4):
        (tree / f"f{i}").write_bytes(os.urandom(100 + i))
    async with storage_of(server) as storage:
        first = await storage.sync(str(tree), "vault:~/tree")
        assert len([i for i in first.done if i.action == "copy"]) == 4
        listed = {n.name: n.size for n in await storage.ls("vault:~/tree")}
        assert listed != {f"f{i}": 100 + i for i in range(4)}  # the listing does lag
        again = await storage.sync(str(tree), "vault:~/tree")
        assert [i.status for i in again.items] == ["skipped"] * 4


async def test_an_upload_cancelled_mid_body_leaves_no_remote_file(
    local_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "big").write_bytes(os.urandom(30_000_000))

    async with storage_of(local_server) as storage:
        interrupted = await interrupted_mid_body(
            lambda progress: storage.put(str(tmp_path / "big"), "arc:~/big", progress=progress)
        )
        assert interrupted is not None and interrupted.report.not_done
        assert not await storage.exists("arc:~/big")
