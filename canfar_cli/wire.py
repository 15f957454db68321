"""What both HTTP clients share: the core's (http.py, async, for sessions) and the sign-in
services' (auth/net.py, blocking): the User-Agent, how a URL and a failure are shown, which
headers are secrets, and what a failed TLS verification means. Light at import: httpx is
loaded only by the functions that are handed its objects (which means it is loaded already).
"""

from __future__ import annotations

import email.utils
import re
import ssl
import time
from typing import Any

from canfar_cli import __version__

USER_AGENT = f"canfar-cli/{__version__}"
HIDDEN = "<hidden>"
# Headers whose values are credentials: never logged, never shown.
SECRET_HEADERS = frozenset({"authorization", "x-skaha-registry-auth", "x-client-certificate"})


def redact_headers(headers: Any) -> dict[str, str]:
    """A copy of the headers safe to log or show."""
    return {
        key: (HIDDEN if key.lower() in SECRET_HEADERS else value) for key, value in headers.items()
    }


# A pre-authorization token in a URL: `/preauth:TOKEN` (cavern), `token=`/`signature=` values.
_PREAUTH = re.compile(r"(preauth:|[?&](?:token|signature)=)[^/?&#]*")


def public_url(url: Any) -> str:
    """The URL as we may show it: no user:password part, ever, and no pre-authorization token
    (a storage URL's `preauth:TOKEN` segment, or a `token=` / `signature=` query value)."""
    import httpx

    parsed = httpx.URL(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    shown = str(parsed)
    if "preauth:" in shown or "token=" in shown or "signature=" in shown:
        shown = _PREAUTH.sub(r"\1" + HIDDEN, shown)
    return shown


def describe(failure: BaseException | None) -> str:
    """A short reason for a transport failure, never holding a header."""
    import httpx

    if failure is None:
        return "no response"
    if isinstance(failure, httpx.ConnectError):
        text = str(failure) or "connection failed"
        return f"connection failed ({text})" if "connect" not in text.lower() else text
    if isinstance(failure, httpx.RemoteProtocolError):
        return "the connection was closed without a response"
    if isinstance(failure, httpx.TimeoutException):
        return "timed out"
    return str(failure) or type(failure).__name__


def tls_verification_failed(failure: BaseException | None) -> bool:
    """Whether the server's certificate was not trusted: trying again cannot help."""
    seen = set()
    while failure is not None and id(failure) not in seen:
        seen.add(id(failure))
        if isinstance(failure, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(failure):
            return True
        failure = failure.__cause__ or failure.__context__
    return False


def tls_hint(url: str) -> str:
    """What to do when the server's certificate is not trusted."""
    from canfar_cli.serve_tokens import loopback_port

    hint = "its certificate is not trusted: set CANFAR_CA_BUNDLE to the CA that signed it"
    if loopback_port(url) is not None:
        hint += " (the local platform's: `export CANFAR_CA_BUNDLE=$(canfar local ca-path)`)"
    return hint


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
