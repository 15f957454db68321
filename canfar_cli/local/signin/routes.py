"""SigninServices: the router of the local sign-in services, and the skaha API's
"who is this request?" hook.

The skaha app (app.py) sends every request whose path `serves()` to `handle()`, and asks
`identify()` who a skaha request acts as before its own token check:
    - `Authorization: Bearer T` where T is an access token of the local OIDC provider: its user
      (an expired or revoked one is 401, whatever else the request carries);
    - a client certificate (over `--tls`, in the ASGI "tls" extension) issued by the local CA:
      its CN (an expired one is 401);
    - otherwise None: the app's own rules apply (its serve token, or the local user), except that
      under `--tls` (`require_credentials`) a request with neither is 401.
"""

from __future__ import annotations

import base64
import html
import json
import re
import ssl
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from canfar_cli.local.asgi import JSON, Params, Request, Response, parse_query, text
from canfar_cli.local.signin import registry
from canfar_cli.local.signin.settings import MAX_DAYS_VALID, MIN_SECONDS_VALID, SigninSettings
from canfar_cli.local.skaha import SkahaError

PREFIXES = ("/reg/", "/cred/", "/oidc/", "/slow/")
EXACT = ("/skaha/capabilities", "/oidc")
XML = "text/xml"
HTML = "text/html; charset=utf-8"
_HOST_RULE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?\Z|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _json(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value).encode("utf-8")
    return Response(status, body, JSON, {**NO_STORE, **(headers or {})})


class SigninServices:
    def __init__(self, home: Path, settings: SigninSettings | None = None) -> None:
        self.home = home
        self._settings = settings
        self._ca: Any = None
        self._provider: Any = None
        self._users: Any = None
        # Set by `canfar local serve --tls`: the skaha API then needs a client certificate or a
        # token (the serve token or one of the local OIDC provider's).
        self.require_credentials = False
        from canfar_cli.local.signin.throttle import Throttle

        self.throttle = Throttle()

    def check_password(self, user: str, password: str) -> bool:
        """The user's password, within the limits of throttle.py: SkahaError 429 when too many
        wrong ones were tried; a wrong one is answered slower and slower."""
        wait = self.throttle.password_wait(user)
        if wait is not None:
            raise SkahaError(
                429,
                "TooManyRequests: too many wrong passwords for this user; try again later",
                {"Retry-After": str(int(wait + 0.999))},
            )
        if self.users.check(user, password):
            self.throttle.succeeded(user)
            return True
        delay = self.throttle.failed(user)
        if delay:
            import time

            time.sleep(delay)  # a worker thread (see handle): the event loop goes on
        return False

    # --- lazily made parts (nothing heavy until a sign-in request comes) ------------------

    @property
    def settings(self) -> SigninSettings:
        if self._settings is None:
            self._settings = SigninSettings.from_env()
        return self._settings

    @property
    def ca(self) -> Any:
        if self._ca is None:
            from canfar_cli.local.signin.ca import LocalCA

            self._ca = LocalCA.load_or_create(self.home)
        return self._ca

    @property
    def provider(self) -> Any:
        if self._provider is None:
            from canfar_cli.local.signin.oidc import Provider

            self._provider = Provider(self.home, self.settings)
        return self._provider

    @property
    def users(self) -> Any:
        if self._users is None:
            from canfar_cli.local.signin.users import Users

            self._users = Users(self.home)
        return self._users

    # --- the skaha API's hook --------------------------------------------------------------

    def identify(self, request: Request, bearer: str | None) -> str | None:
        """The user a skaha request acts as by a credential of these services, or None."""
        if bearer:
            from canfar_cli.local.signin.oidc import TokenRejected

            try:
                user = self.provider.user_of(bearer)
            except TokenRejected as exc:
                raise SkahaError(
                    401,
                    f"Unauthorized: {exc}",
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                ) from None
            if user is not None:
                return str(user)
        der = client_certificate(request)
        if der is not None:
            from canfar_cli.local.signin.ca import CertificateRejected

            try:
                return str(self.ca.user_of(der))
            except CertificateRejected as exc:
                raise SkahaError(401, f"Unauthorized: {exc}") from None
        return None

    # --- routing ------------------------------------------------------------------------------

    @staticmethod
    def serves(path: str) -> bool:
        return path in EXACT or path.startswith(PREFIXES)

    async def handle(self, request: Request) -> Response:
        if request.path.startswith("/slow/"):
            await anyio.sleep(self.settings.slow_seconds)
            if request.path.endswith("/capabilities"):
                service = base_url(request) + request.path.rsplit("/", 1)[0]
                return Response(200, registry.skaha_capabilities(service).encode(), XML)
            return text(200, "slow\n")
        # Key generation, password hashing and SQLite: off the event loop.
        return await anyio.to_thread.run_sync(self.route, request)

    def route(self, request: Request) -> Response:
        path, method = request.path, request.method
        base = base_url(request)
        if method == "HEAD":
            method = "GET"
        if path == "/reg/cadc/resource-caps":
            self._only(method, "GET")
            body = registry.resource_caps(registry.cadc_entries(base), "CADC")
            return text(200, body)
        if path == "/reg/srcnet/resource-caps":
            self._only(method, "GET")
            entries = registry.srcnet_entries(base, self.settings.extra_platforms)
            return text(200, registry.resource_caps(entries, "SRCNet"))
        documents = {
            "/skaha/capabilities": registry.skaha_capabilities,
            "/cred/capabilities": registry.cred_capabilities,
        }
        if path in documents:
            self._only(method, "GET")
            service = base + path.rsplit("/", 1)[0]
            return Response(200, documents[path](service).encode(), XML)
        if path == "/cred/availability":
            self._only(method, "GET")
            return Response(200, _availability().encode(), XML)
        if path == "/cred/priv/proxy":
            self._only(method, "GET")
            return self.proxy_certificate(request)
        if path == "/oidc" or path.startswith("/oidc/"):
            return self.oidc(request, method, base + "/oidc", path[len("/oidc") :])
        raise SkahaError(404, f"not found: {path}")

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method not in allowed.split(", "):
            raise SkahaError(405, f"unsupported: HTTP {method}", {"Allow": allowed})

    # --- the credential service ------------------------------------------------------------

    def proxy_certificate(self, request: Request) -> Response:
        challenge = {"WWW-Authenticate": 'Basic realm="canfar local"'}
        credentials = basic_credentials(request)
        if credentials is None:
            raise SkahaError(401, "Unauthorized: a user name and password are required", challenge)
        user, password = credentials
        if not self.check_password(user, password):
            raise SkahaError(401, "Unauthorized: wrong user name or password", challenge)
        raw = request.params.get("daysValid")
        days = float(MAX_DAYS_VALID)
        if raw is not None and raw.strip():
            try:
                days = float(raw)
            except ValueError:
                days = float("nan")
            if not days > 0 or days == float("inf"):
                raise SkahaError(400, f"BadRequest: daysValid must be a positive number: {raw}")
        # As the real service: capped at its maximum, raised to its minimum.
        seconds = max(MIN_SECONDS_VALID, min(days, MAX_DAYS_VALID) * 86400.0)
        if self.settings.cert_seconds is not None:
            seconds = self.settings.cert_seconds
        pem = self.ca.issue_client(user, seconds)
        return Response(200, pem, "text/plain", dict(NO_STORE))

    # --- the OIDC provider ---------------------------------------------------------------------

    def oidc(self, request: Request, method: str, issuer: str, rest: str) -> Response:
        from canfar_cli.local.signin.oidc import OAuthError

        try:
            return self._oidc(request, method, issuer, rest)
        except OAuthError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="oidc"'} if exc.status == 401 else {}
            return _json(exc.status, exc.body(), headers)

    def _oidc(self, request: Request, method: str, issuer: str, rest: str) -> Response:
        from canfar_cli.local.signin.oidc import OAuthError

        provider = self.provider
        if rest == "/.well-known/openid-configuration":
            self._only(method, "GET")
            return _json(200, provider.discovery(issuer), {"Cache-Control": "max-age=60"})
        if rest == "/register":
            self._only(method, "POST")
            from canfar_cli.local.signin.throttle import MAX_REGISTRATION

            if len(request.body) > MAX_REGISTRATION:
                raise OAuthError(
                    "invalid_client_metadata", f"the body is over {MAX_REGISTRATION} bytes"
                )
            wait = self.throttle.registration_wait()
            if wait is not None:
                return _json(
                    429,
                    {"error": "too_many_requests", "error_description": "too many clients"},
                    {"Retry-After": str(int(wait + 0.999))},
                )
            return _json(201, provider.register(request.body))
        if rest == "/verify":
            self._only(method, "GET, POST")
            return self.verify_page(request, method)
        if rest == "/userinfo":
            self._only(method, "GET, POST")
            return self.userinfo(request)
        if rest in ("/device", "/token", "/revoke"):
            self._only(method, "POST")
            form = _form(request)
            client_id = provider.client(request.headers, form)
            if rest == "/device":
                return _json(200, provider.device(client_id, form.get("scope"), issuer))
            if rest == "/token":
                return _json(200, provider.token(client_id, form))
            token = form.get("token", "")
            if not token:
                raise OAuthError("invalid_request", "token is required")
            provider.revoke(client_id, token)
            return Response(200, b"", None, dict(NO_STORE))
        raise SkahaError(404, f"not found: {request.path}")

    def userinfo(self, request: Request) -> Response:
        from canfar_cli.local.signin.oidc import TokenRejected, subject_of

        bearer = bearer_token(request)
        user = None
        if bearer:
            try:
                user = self.provider.user_of(bearer)
            except TokenRejected:
                user = None
        if user is None:
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return _json(401, {"error": "invalid_token"}, challenge)
        return _json(200, {"sub": subject_of(user), "preferred_username": user})

    def verify_page(self, request: Request, method: str) -> Response:
        """The page a user opens to approve a device: a form (user code, name, password)."""
        from canfar_cli.local.signin.oidc import DeviceCodeError

        params = request.params
        code = params.get("user_code") or ""
        if method == "GET":
            return _page(200, "Sign in to the local platform", _form_html(code, ""))
        user = (params.get("username") or "").strip()
        password = params.get("password") or ""
        approve = (params.get("action") or "approve").lower() != "deny"
        if not code or not user:
            return _page(400, "Missing fields", _form_html(code, "Enter the code and your name."))
        try:
            right = self.check_password(user, password)
        except SkahaError as exc:
            return _page(429, "Too many tries", f"<p>{html.escape(exc.message)}</p>")
        if not right:
            return _page(401, "Wrong user name or password", _form_html(code, "Try again."))
        try:
            self.provider.decide(code, user, approve=approve)
        except DeviceCodeError as exc:
            return _page(400, "Code not accepted", f"<p>{html.escape(exc.message)}</p>")
        outcome = "approved" if approve else "denied"
        return _page(
            200,
            f"Device {outcome}",
            f"<p>The request was {outcome} for {html.escape(user)}. You may close this window"
            " and return to your terminal.</p>",
        )


# --- request helpers --------------------------------------------------------------------------


def base_url(request: Request) -> str:
    """scheme://host:port of the request, as the client addressed the server."""
    scope = request.scope or {}
    scheme = scope.get("scheme") or "http"
    host = request.headers.get("host", "").strip()
    if not _HOST_RULE.match(host):
        server = scope.get("server") or ("127.0.0.1", 80)
        address = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
        host = f"{address}:{server[1]}" if server[1] is not None else address
    return f"{scheme}://{host}"


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep and user else None


def client_certificate(request: Request) -> bytes | None:
    """The DER client certificate of a TLS request (see tls.py), or None."""
    extensions = (request.scope or {}).get("extensions") or {}
    chain = (extensions.get("tls") or {}).get("client_cert_chain") or []
    if not chain:
        return None
    try:
        return ssl.PEM_cert_to_DER_cert(chain[0])
    except ValueError:
        return None


def _form(request: Request) -> dict[str, str]:
    """The form fields of a POST (form-urlencoded only), first value of each."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return {}
    params = Params(parse_query(request.body))
    names = {key.lower() for key, _ in parse_query(request.body)}
    return {name: params.get(name) or "" for name in names}


def _availability() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">\n'
        "  <vosi:available>true</vosi:available>\n"
        "</vosi:availability>\n"
    )


def _form_html(code: str, note: str) -> str:
    note_html = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"{note_html}"
        '<form method="post" action="verify">\n'
        '<p><label>Code <input name="user_code" value="'
        f'{html.escape(code, quote=True)}" autocomplete="off"></label></p>\n'
        '<p><label>User name <input name="username" autocomplete="username"></label></p>\n'
        '<p><label>Password <input name="password" type="password"'
        ' autocomplete="current-password"></label></p>\n'
        '<p><button name="action" value="approve">Approve</button>\n'
        '<button name="action" value="deny">Deny</button></p>\n'
        "</form>\n"
    )


def _page(status: int, title: str, body: str) -> Response:
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )
    return Response(status, page.encode("utf-8"), HTML, dict(NO_STORE))
