"""Refusals as cadc-rest sends them: `text/plain`, body `FaultName: detail` (§5)."""

from __future__ import annotations

from canfar_cli.local.skaha import SkahaError


def fault(status: int, name: str, detail: str, headers: dict[str, str] | None = None) -> SkahaError:
    return SkahaError(status, f"{name}: {detail}" if name else detail, headers)


def not_found(uri: str) -> SkahaError:
    return fault(404, "NodeNotFound", uri)


def container_not_found(uri: str) -> SkahaError:
    return fault(404, "ContainerNotFound", uri)


def duplicate(uri: str) -> SkahaError:
    return fault(409, "DuplicateNode", uri)


def denied(uri: str) -> SkahaError:
    return fault(403, "PermissionDenied", uri)


def invalid_uri(detail: str) -> SkahaError:
    return fault(400, "InvalidURI", detail)


def invalid_argument(detail: str) -> SkahaError:
    return fault(400, "InvalidArgument", detail)


def bad(detail: str) -> SkahaError:
    """A 400 whose body is the bare message (IllegalArgumentException in cadc-rest)."""
    return SkahaError(400, detail)


def not_authenticated(detail: str) -> SkahaError:
    return fault(401, "NotAuthenticated", detail)


def quota_exceeded(limit: int) -> SkahaError:
    """What cavern's PutAction answers when the allocation's quota is reached (§4.4)."""
    return SkahaError(413, f"limit: {max(0, limit)}")


def unsupported(method: str, allow: str) -> SkahaError:
    return SkahaError(405, f"unsupported: HTTP {method}", {"Allow": allow})
