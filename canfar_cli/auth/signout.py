"""Signing out: after it, nothing canfar stored signs requests for that identity.

The stored tokens are forgotten (and the official client's tokens no longer picked up); the
certificate canfar wrote at sign-in is removed. A certificate canfar did not write (from
`cadc-get-cert`, or the official client) is left where it is and named, with how to remove it,
unless `certificate=True` asks for it to go too. The official client's file is never touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canfar_cli.auth.state import SigninState


def logout(
    identity: str | None = None, *, certificate: bool = False, state: SigninState | None = None
) -> list[str]:
    """Sign out of `identity` (cadc, srcnet; None = both). Returns what was done and what was
    kept, as short phrases."""
    from canfar_cli.auth.state import SigninState
    from canfar_cli.errors import CredentialError, UsageError

    if identity not in (None, "cadc", "srcnet"):
        raise UsageError(f"unknown identity {identity!r}", hint="cadc or srcnet")
    names = ("cadc", "srcnet") if identity is None else (identity,)
    if state is None:
        try:
            state = SigninState.load()
        except CredentialError:
            state = SigninState()
    cadc = state.certificate()
    path = state.certificate_path()
    done: list[str] = []

    def change(fresh: SigninState) -> None:
        if "cadc" in names and fresh.cadc is not None:
            fresh.cadc = None
            done.append("forgot the cadc sign-in")
        if "srcnet" in names:
            if fresh.srcnet is not None or (state.tokens() is not None):
                done.append("forgot the srcnet tokens")
            fresh.srcnet, fresh.srcnet_signed_out = None, True
        if fresh.active_identity in names:
            fresh.active_identity = None

    state.update(change)
    if "cadc" in names and path.is_file():
        written = cadc is not None and cadc.written and Path(cadc.certificate) == path
        if written or certificate:
            path.unlink()
            done.append(f"removed the certificate {path}")
        else:
            done.append(
                f"kept the certificate {path} (canfar did not write it; it still signs requests:"
                f" remove it with `rm {path}` or `canfar auth logout cadc --certificate`)"
            )
    return done
