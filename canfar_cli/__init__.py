"""canfar-cli: sessions of the CANFAR Science Platform from the command line and from Python.

The package root stays light: `canfar --help` imports it, so the session classes (which pull in
httpx and anyio) are loaded only when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AsyncSession", "Session", "__version__"]

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession, Session


def __getattr__(name: str) -> Any:
    if name in ("AsyncSession", "Session"):
        from canfar_cli import session

        return getattr(session, name)
    raise AttributeError(f"module 'canfar_cli' has no attribute {name!r}")
