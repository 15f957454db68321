"""canfar-cli: sessions of the CANFAR Science Platform from the command line and from Python.

The package root stays light: `canfar --help` and the local platform's job supervisor import it,
so the session and storage classes (which pull in httpx and anyio) are loaded only when first
asked for, and not even `typing` is imported here.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["AsyncSession", "AsyncStorage", "Session", "Storage", "__version__"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from canfar_cli.blocking import Session
    from canfar_cli.session import AsyncSession
    from canfar_cli.storage.blocking import Storage
    from canfar_cli.storage.core import AsyncStorage


def __getattr__(name: str) -> object:
    if name == "AsyncSession":
        from canfar_cli.session import AsyncSession

        return AsyncSession
    if name == "Session":
        from canfar_cli.blocking import Session

        return Session
    if name in ("AsyncStorage", "Storage"):
        from canfar_cli import storage

        return getattr(storage, name)
    raise AttributeError(f"module 'canfar_cli' has no attribute {name!r}")
