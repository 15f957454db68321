"""Load: 100 concurrent creates of a short job and 100 concurrent GETs, on a 2-core machine."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from tests.support import IMAGE
from tests.support.forkserver import FORKS


@pytest.mark.e2e(long=True)
@pytest.mark.anyio
async def test_100_creates_and_100_gets_at_once(local_server: Any) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    created: list[str] = []
    gets: list[int] = []
    async with httpx.AsyncClient(
        base_url=local_server.url + "/v1",
        timeout=120,
        limits=limits,
        headers=local_server.headers,
    ) as http:

        async def create_one(index: int) -> None:
            data = {"name": f"load-{index}", "image": IMAGE, "cmd": "echo", "args": str(index)}
            response = await http.post("/session", data=data)
            assert response.status_code == 200, response.text
            created.append(response.text.strip())

        async def get_one(index: int) -> None:
            path = "/session" if index % 2 else "/context"
            response = await http.get(path)
            assert response.status_code == 200, response.text
            gets.append(response.status_code)

        async with anyio.create_task_group() as group:
            for index in range(100):
                group.start_soon(create_one, index)
                group.start_soon(get_one, index)
        assert len(created) == 100 and len(set(created)) == 100
        assert gets == [200] * 100

        # Every session is accounted for, and each runs to its end with its own output.
        deadline = time.monotonic() + 120
        while True:
            listed = (await http.get("/session")).json()
            statuses = {s["id"]: s["status"] for s in listed}
            assert set(statuses) == set(created)
            if all(status == "Completed" for status in statuses.values()):
                break
            assert "Failed" not in statuses.values(), statuses
            assert time.monotonic() < deadline, statuses
            await anyio.sleep(0.2)
        names = {s["id"]: s["name"] for s in listed}
        for session_id in created[:10]:
            log = (await http.get(f"/session/{session_id}", params={"view": "logs"})).text
            assert names[session_id] == f"load-{log.strip()}"


@pytest.mark.e2e(long=True)
def test_many_processes_share_the_state(local_server: Any) -> None:
    """Four client processes create in-process at once, next to the server and the runners.
    (`python -c` forked from the fork server, which has imported the app: each is a process of
    its own that makes its own app on the shared state folder, ~0.3 s of CPU sooner.)"""
    import os

    code = (
        "import anyio, httpx\n"
        "from canfar_cli.local.app import create_app\n"
        "async def main():\n"
        "    t = httpx.ASGITransport(app=create_app())\n"
        "    async with httpx.AsyncClient(transport=t, base_url='http://local/skaha') as c:\n"
        "        for i in range(10):\n"
        "            r = await c.post('/v1/session', data={'name': 'p', 'cmd': 'true',\n"
        f"                'image': '{IMAGE}'}})\n"
        "            assert r.status_code == 200, r.text\n"
        "            print(r.text, end='')\n"
        "anyio.run(main)\n"
    )
    env = dict(os.environ, CANFAR_LOCAL_HOME=str(local_server.home))
    with open(2, "wb", closefd=False) as stderr:  # the test's, as a started process has
        clients = [FORKS.spawn([code], env, stderr, program="python-c") for _ in range(4)]
    with httpx.Client(
        base_url=local_server.url + "/v1", timeout=60, headers=local_server.headers
    ) as http:
        served = [http.post("/session", data={"name": "s", "image": IMAGE, "cmd": "true"})
                  for _ in range(10)]  # fmt: skip
        assert all(r.status_code == 200 for r in served)
        created = {r.text.strip() for r in served}
        for client in clients:
            assert client.stdout is not None
            out = client.stdout.read()
            client.stdout.close()
            assert client.wait(timeout=120) == 0
            created |= set(out.decode().split())
        assert len(created) == 50
        deadline = time.monotonic() + 120
        while True:
            statuses = {s["id"]: s["status"] for s in http.get("/session").json()}
            assert set(statuses) == created
            if set(statuses.values()) == {"Completed"}:
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
