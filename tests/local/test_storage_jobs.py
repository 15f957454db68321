"""The cavern's nodes are the jobs' homes: what a headless job writes in its home is a node,
and what is put through /files is in the job's home (storage.md §7; the issue's offline loop)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from tests.support.api import api, create, wait_for
from tests.support.storage import CORE, names, properties, storage


def test_a_job_reads_what_was_put_and_its_output_is_a_node(local_server: Any) -> None:
    user = local_server.user
    script = b"cat input.txt > out.txt\necho done >> out.txt\n"
    with storage(local_server) as http:
        assert http.put(f"/arc/files/home/{user}/fit.sh", content=script).status_code == 201
        assert http.put(f"/arc/files/home/{user}/input.txt", content=b"42\n").status_code == 201
        with api(local_server) as skaha:
            session_id = create(skaha, cmd="sh", args="fit.sh")
            assert wait_for(skaha, session_id, ("Completed", "Failed"))["status"] == "Completed"
        assert "out.txt" in names(http.get(f"/arc/nodes/home/{user}").text)
        node = properties(ET.fromstring(http.get(f"/arc/nodes/home/{user}/out.txt").text))
        assert node[CORE + "length"] == "8"
        assert CORE + "MD5" not in node  # written through POSIX: no checksum, as on cavern
        got = http.get(f"/arc/files/home/{user}/out.txt")
        assert got.status_code == 200 and got.content == b"42\ndone\n"
