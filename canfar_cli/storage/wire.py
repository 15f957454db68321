"""What the storage services say, in our terms: their refusals as CanfarErrors (§5), the
`Digest` header (§4.6), and errors re-worded to name the user's path rather than a URL.

Refusals are `text/plain` `FaultName: detail` bodies with the statuses of §5; 413 carries
`limit: N` (the bytes left in the allocation). Pre-authorized URLs never reach a message: the
HTTP client shows them redacted (canfar_cli.http.public_url) and we name paths, not URLs.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

from canfar_cli.errors import (
    AuthError,
    CanfarError,
    NotFoundError,
    ServerError,
    UnreachableError,
    UsageError,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "QuotaError",
    "digest_header",
    "md5_of_digest",
    "refusal",
    "with_subject",
]

SIGN_IN_HINT = (
    "sign in (`canfar login`), or give a token (CANFAR_TOKEN, --token-file) or a current"
    " certificate (--cert)"
)
NOT_YOURS_HINT = "it is not yours to read or change; check the path (`~` is your home)"
_FAULT = re.compile(r"^([A-Z][A-Za-z]+):\s*(.*)$", re.DOTALL)
_LIMIT = re.compile(r"limit:\s*(-?\d+)")


class QuotaError(ServerError):
    """413: the allocation is full. `left` is the bytes the server says remain (its `limit:`);
    `quota` / `used` are filled in when the allocation's node reports them."""

    def __init__(
        self,
        message: str,
        *,
        left: int | None,
        quota: int | None = None,
        used: int | None = None,
        reason: str = "",
        needed: int | None = None,
    ) -> None:
        super().__init__(
            message,
            status=413,
            reason=reason,
            hint="free some space (`canfar data du -h`, `canfar data rm`), or ask for more",
        )
        self.left = left
        self.quota = quota
        self.used = used
        self.needed = needed


def human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def quota_message(
    subject: str,
    left: int | None,
    quota: int | None,
    used: int | None,
    needed: int | None = None,
) -> str:
    size = f" ({human(needed)})" if needed is not None else ""
    if quota is not None and used is not None:
        return f"{subject}{size}: over quota: used {human(used)} of {human(quota)}"
    if left is not None:
        return f"{subject}{size}: over quota: {human(max(left, 0))} left in the allocation"
    return f"{subject}{size}: over quota"


def fault_of(text: str) -> tuple[str, str]:
    """(FaultName, detail) of a `FaultName: detail` body ("" when it has no fault name)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = _FAULT.match(first)
    if match is None:
        return "", first
    return match.group(1), match.group(2).strip()


def _text(response: httpx.Response) -> str:
    from canfar_cli.http import server_text

    if "html" in response.headers.get("content-type", ""):
        return ""
    return server_text(response)


def refusal(method: str, shown: str, response: httpx.Response, retries: int) -> CanfarError | None:
    """A storage service's refusal as a CanfarError whose message is the server's reason (the
    caller puts the user's path in front with `with_subject`). 5xx are left to the HTTP
    client's rules (retried, then exit 5)."""
    status = response.status_code
    if status >= 500:
        return None
    text = _text(response)
    fault, detail = fault_of(text)
    reason = text.splitlines()[0] if text else f"HTTP {status}"
    if not text and "html" in response.headers.get("content-type", ""):
        reason = f"HTTP {status} from a web page, not from the storage service"
    if status == 401:
        return AuthError(f"not signed in ({reason})", status=status, reason=text, hint=SIGN_IN_HINT)
    if status == 403:
        return AuthError(
            f"permission denied ({reason})", status=status, reason=text, hint=NOT_YOURS_HINT
        )
    if status == 404:
        parent = fault == "ContainerNotFound" or "parent" in text.lower()
        return NotFoundError(
            "its folder does not exist" if parent else "no such file or folder",
            status=status,
            reason=text,
            hint="make the folder first: `canfar data mkdir -p FOLDER`" if parent else None,
        )
    if status == 409:
        return ServerError(
            "already exists" if fault in ("DuplicateNode", "") else reason,
            status=status,
            reason=text,
        )
    if status == 412:
        return ServerError(
            f"the server refused the bytes: checksum mismatch ({detail or reason})",
            status=status,
            reason=text,
            hint="the file changed or was corrupted on the way; try again",
        )
    if status == 413:
        match = _LIMIT.search(text)
        left = int(match.group(1)) if match else None
        return QuotaError(quota_message("", left, None, None).lstrip(": "), left=left, reason=text)
    if status == 423:
        return ServerError("locked", status=status, reason=text, hint="it is locked on the server")
    if status == 400 and "director" in text.lower():
        # A folder asked for as a file (the GET of a single remote file goes without a look
        # first): the same answer as when planning finds it.
        return UsageError("is a folder", hint="copy folders with -r")
    if status == 400 and "not empty" in text:
        return ServerError(
            "folder not empty", status=status, reason=text, hint="remove it with -r (recursive)"
        )
    return ServerError(reason if fault == "" else f"{fault}: {detail}", status=status, reason=text)


def with_subject(exc: CanfarError, subject: str) -> CanfarError:
    """The same error, its message starting with `subject` (the user's path) in place of URLs."""
    message = exc.message
    if message.startswith(subject):
        return exc
    text = f"{subject}: {message}"
    new: CanfarError
    if isinstance(exc, QuotaError):
        new = QuotaError(
            quota_message(subject, exc.left, exc.quota, exc.used, exc.needed),
            left=exc.left,
            quota=exc.quota,
            used=exc.used,
            reason=exc.reason,
            needed=exc.needed,
        )
    elif isinstance(exc, ServerError):
        hint = exc.hint
        if hint and "FOLDER" in hint and "/" in subject:
            hint = hint.replace("FOLDER", subject.rsplit("/", 1)[0])
        new = type(exc)(text, status=exc.status, reason=exc.reason, hint=hint)
    elif isinstance(exc, UnreachableError):
        new = UnreachableError(text, hint=exc.hint, maybe_done=exc.maybe_done)
    else:
        try:
            new = type(exc)(text, hint=exc.hint)
        except TypeError:
            return exc
    new.__cause__ = exc.__cause__
    return new


def digest_header(md5: bytes) -> str:
    """`md5=<base64 of the 16 raw bytes>` (RFC 3230, as cadc-rest reads it)."""
    return "md5=" + base64.b64encode(md5).decode("ascii")


def md5_of_digest(value: str | None) -> str | None:
    """The hex MD5 in a Digest (or Content-MD5) header: `md5=<base64>` or hex; None if absent."""
    if not value:
        return None
    for part in value.split(","):
        algorithm, sep, encoded = part.strip().partition("=")
        if not sep:
            algorithm, encoded = "md5", part.strip()
        if algorithm.strip().lower() != "md5":
            continue
        encoded = encoded.strip()
        if re.fullmatch(r"[0-9a-fA-F]{32}", encoded):
            return encoded.lower()
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 16 else None
    return None
