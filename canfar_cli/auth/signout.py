"""Signing out: forget stored tokens (and, when asked, remove the certificate file)."""

from __future__ import annotations

from typing import Any


def logout(identity: str | None = None, *, certificate: bool = False) -> list[str]:
    """Forget the sign-in of `identity` (cadc, srcnet; None = both). The certificate file is
    removed only with `certificate=True`. The official client's file is never touched. Returns
    what was done, as short phrases."""
    from canfar_cli.auth import store
    from canfar_cli.auth.credentials import certificate_path
    from canfar_cli.errors import UsageError

    if identity not in (None, "cadc", "srcnet"):
        raise UsageError(f"unknown identity {identity!r}", hint="cadc or srcnet")
    done: list[str] = []
    try:
        values = store.read_store()
    except Exception:
        values = {}
    path = certificate_path(values)

    def change(values: dict[str, Any]) -> None:
        identities = values.setdefault("identities", {})
        for name in ("cadc", "srcnet") if identity is None else (identity,):
            if identities.pop(name, None) is not None:
                done.append(f"forgot the {name} sign-in")
            if name == "srcnet":
                identities[name] = {"signed_out": True}
            if (values.get("active") or {}).get("identity") == name:
                values["active"].pop("identity", None)

    store.update_store(change)
    if certificate and identity in (None, "cadc") and path.is_file():
        path.unlink()
        done.append(f"removed {path}")
    return done
