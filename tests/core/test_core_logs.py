"""The library's logs: bytes that are not UTF-8 come back as surrogates, losslessly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import IMAGE, RAW_LOG, RAW_LOG_SCRIPT


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_the_library_gives_undecodable_log_bytes_back_as_surrogates(tmp_path: Path) -> None:
    from canfar_cli import Session

    script = tmp_path / "latin1.sh"
    script.write_text(RAW_LOG_SCRIPT)
    with Session(server="local") as session:
        ids = session.create("raw", IMAGE, cmd="sh", args=[str(script)])
        session.wait(ids)
        texts = session.logs(ids)
        assert texts is not None
        text = texts[ids[0]]
    assert text.encode("utf-8", "surrogateescape") == RAW_LOG
