"""SRCNet sign-in: the OAuth 2.0 device flow (RFC 8628) and silent token refresh.

As steps a notebook can drive:

    login = start_device_login()          # discovery, client registration, device code
    print(login.verification_uri, login.user_code)
    user = login.wait()                   # polls until approved; stores the tokens

Nothing is stored before the sign-in succeeds (an interrupted wait leaves no trace). The client
secret and tokens live only in the sign-in store (0600); they are never printed, logged, or shown
by repr(). Refreshing holds the store's lock and re-reads the store under it, so two processes
refreshing at once both end with the newest tokens and neither overwrites the other's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import CredentialError, ServerError

if TYPE_CHECKING:
    from canfar_cli.auth.settings import SigninSettings
    from canfar_cli.auth.state import SigninState, SrcnetSignin

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "openid profile email offline_access"
LOGIN_HINT = "sign in again: `canfar login srcnet`"
REFRESH_MARGIN = 60.0  # refresh when the access token has less than this left
# The least pause between two polls of a device login: a service that asks for none (interval
# 0, as the local platform can be told to) is polled 20 times a second, not in a busy loop.
MIN_POLL_PAUSE = 0.05


def _settings(settings: SigninSettings | None) -> SigninSettings:
    if settings is not None:
        return settings
    from canfar_cli.auth.settings import signin_settings

    return signin_settings()


def _json(response: Any, what: str, url: str) -> dict[str, Any]:
    from canfar_cli.auth import net

    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise net.garbage(what, url, f"HTTP {response.status_code}, not a JSON object")
    return body


def discover(settings: SigninSettings) -> dict[str, Any]:
    """The issuer's OpenID configuration, its `issuer` checked against the one asked for."""
    from canfar_cli.auth import net

    issuer = settings.service("oidc_issuer_srcnet")
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = net.request(
        "GET",
        url,
        settings=settings,
        what="sign-in service (OIDC discovery)",
    )
    if response.status_code != 200:
        raise net.garbage(
            "sign-in service", url, f"HTTP {response.status_code}", "oidc_issuer_srcnet"
        )
    doc = _json(response, "sign-in service", url)
    if doc.get("issuer") != issuer:
        raise net.garbage(
            "sign-in service", url, f"its issuer is not {issuer}", "oidc_issuer_srcnet"
        )
    needed = ("device_authorization_endpoint", "registration_endpoint", "token_endpoint")
    missing = [key for key in needed if not isinstance(doc.get(key), str)]
    if missing:
        raise net.garbage("sign-in service", url, f"no {', '.join(missing)}")
    return doc


@dataclass
class DeviceLogin:
    """A device sign-in under way: show `verification_uri` and `user_code`, then `wait()`."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float
    issuer: str
    token_endpoint: str
    userinfo_endpoint: str | None
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    device_code: str = field(repr=False)
    settings: SigninSettings = field(repr=False)
    revocation_endpoint: str | None = None

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.expires_at - time.time())

    def poll(self) -> dict[str, Any] | None:
        """One look at the token endpoint: the tokens, or None while the user has not answered.
        Refused → CredentialError; expired → CredentialError."""
        from canfar_cli.auth import net

        response = net.request(
            "POST",
            self.token_endpoint,
            data={"grant_type": DEVICE_GRANT, "device_code": self.device_code},
            auth=(self.client_id, self.client_secret),
            settings=self.settings,
            what="sign-in service (token)",
        )
        body = _json(response, "sign-in service", self.token_endpoint)
        if response.status_code == 200:
            if not isinstance(body.get("access_token"), str):
                raise net.garbage("sign-in service", self.token_endpoint, "no access_token")
            return body
        error = body.get("error")
        if error == "authorization_pending":
            return None
        if error == "slow_down":
            self.interval += 5
            return None
        if error == "access_denied":
            raise CredentialError("the sign-in was denied", hint="`canfar login srcnet` to retry")
        if error == "expired_token":
            raise CredentialError(
                "the sign-in code expired before it was approved",
                hint="`canfar login srcnet` for a new code",
            )
        raise net.garbage("sign-in service", self.token_endpoint, f"error {error!r}")

    def cancel(self) -> None:
        """Tell the service this login is abandoned (Ctrl-C), so that no pending code is left
        behind: the device code is revoked (RFC 7009) where the service offers revocation.
        Best effort: nothing is raised."""
        from canfar_cli.auth import net
        from canfar_cli.errors import CanfarError

        if not self.revocation_endpoint:
            return
        with contextlib.suppress(CanfarError):
            net.request(
                "POST",
                self.revocation_endpoint,
                data={"token": self.device_code, "token_type_hint": "device_code"},
                auth=(self.client_id, self.client_secret),
                settings=self.settings,
                timeout=min(self.settings.timeout, 5.0),
                what="sign-in service (revocation)",
            )

    def wait(
        self,
        on_tick: Callable[[float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> str:
        """Poll every `interval` seconds until approved; store the tokens; the user name.
        `on_tick(seconds_left)` is called about once a second (for a countdown). Interrupted
        (Ctrl-C), the login is cancelled at the service before the interrupt goes on."""
        try:
            return self._wait(on_tick, sleep)
        except KeyboardInterrupt:
            self.cancel()
            raise

    def _wait(
        self,
        on_tick: Callable[[float], None] | None,
        sleep: Callable[[float], None],
    ) -> str:
        while True:
            if self.seconds_left <= 0:
                raise CredentialError(
                    "the sign-in code expired before it was approved",
                    hint="`canfar login srcnet` for a new code",
                )
            tokens = self.poll()
            if tokens is not None:
                return self._finish(tokens)
            pause = max(self.interval, MIN_POLL_PAUSE)
            waited = 0.0
            while waited < pause and self.seconds_left > 0:
                if on_tick is not None:
                    on_tick(self.seconds_left)
                step = min(1.0, pause - waited)
                sleep(step)
                waited += step

    def _finish(self, tokens: dict[str, Any]) -> str:
        from canfar_cli.auth.state import SigninState, srcnet_of

        user = userinfo(self.userinfo_endpoint, tokens["access_token"], self.settings)
        record = srcnet_of(
            {
                "issuer": self.issuer,
                "token_endpoint": self.token_endpoint,
                "userinfo_endpoint": self.userinfo_endpoint,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "user": user,
                "registry": self.settings.service("registry_srcnet"),
                **_token_fields(tokens, None),
            },
            "canfar",
        )

        def activate(fresh: SigninState) -> None:
            fresh.srcnet, fresh.srcnet_signed_out = record, False
            fresh.active_identity = "srcnet"

        SigninState.load(official=False).update(activate)
        return user


def _token_fields(tokens: dict[str, Any], old_refresh: str | None) -> dict[str, Any]:
    try:
        lifetime = float(tokens.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    refresh = tokens.get("refresh_token")
    return {
        "access_token": tokens["access_token"],
        "refresh_token": refresh if isinstance(refresh, str) and refresh else old_refresh,
        "expires_at": time.time() + lifetime,
    }


def userinfo(url: str | None, access_token: str, settings: SigninSettings) -> str:
    """preferred_username (or sub) of the token's user; "" when there is no userinfo service."""
    from canfar_cli.auth import net

    if not url:
        return ""
    response = net.request(
        "GET",
        url,
        headers={"Authorization": f"Bearer {access_token}"},
        settings=settings,
        what="sign-in service (userinfo)",
    )
    if response.status_code != 200:
        raise net.garbage("sign-in service", url, f"HTTP {response.status_code}")
    body = _json(response, "sign-in service", url)
    return str(body.get("preferred_username") or body.get("sub") or "")


def start_device_login(settings: SigninSettings | None = None) -> DeviceLogin:
    """Discovery, client registration and device authorization: a DeviceLogin to show and wait."""
    from canfar_cli.auth import net

    settings = _settings(settings)
    doc = discover(settings)
    issuer = settings.service("oidc_issuer_srcnet")
    registration = doc["registration_endpoint"]
    response = net.request(
        "POST",
        registration,
        json={
            "client_name": "canfar-cli",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "response_types": ["token"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": SCOPE,
        },
        settings=settings,
        what="sign-in service (registration)",
    )
    client = _json(response, "sign-in service", registration)
    if response.status_code not in (200, 201) or not isinstance(client.get("client_id"), str):
        raise net.garbage("sign-in service", registration, f"HTTP {response.status_code}")
    client_id, client_secret = client["client_id"], str(client.get("client_secret") or "")
    device_url = doc["device_authorization_endpoint"]
    response = net.request(
        "POST",
        device_url,
        data={"client_id": client_id, "scope": SCOPE},
        auth=(client_id, client_secret),
        settings=settings,
        what="sign-in service (device authorization)",
    )
    body = _json(response, "sign-in service", device_url)
    needed = ("device_code", "user_code", "verification_uri")
    if response.status_code != 200 or any(not isinstance(body.get(k), str) for k in needed):
        raise net.garbage("sign-in service", device_url, f"HTTP {response.status_code}")
    try:
        expires_in = float(body.get("expires_in", 600))
        interval = float(body.get("interval", 5))
    except (TypeError, ValueError):
        raise net.garbage("sign-in service", device_url, "bad expires_in or interval") from None
    return DeviceLogin(
        user_code=body["user_code"],
        verification_uri=body["verification_uri"],
        verification_uri_complete=body.get("verification_uri_complete"),
        expires_at=time.time() + expires_in,
        interval=max(0.0, interval),
        issuer=issuer,
        token_endpoint=doc["token_endpoint"],
        userinfo_endpoint=doc.get("userinfo_endpoint"),
        client_id=client_id,
        client_secret=client_secret,
        device_code=body["device_code"],
        settings=settings,
        revocation_endpoint=doc.get("revocation_endpoint")
        if isinstance(doc.get("revocation_endpoint"), str)
        else None,
    )


# --- using the tokens -------------------------------------------------------------------------


def access_token(
    settings: SigninSettings, rejected: str | None = None, *, state: SigninState | None = None
) -> str:
    """A current access token, refreshed first when expired or within a minute of it (or when
    the server refused `rejected`). CredentialError (exit 3) when there is none or it cannot be
    refreshed. `state`: the sign-in state already read (the store is read again only under the
    lock, to refresh)."""
    from canfar_cli.auth.state import SigninState, locked

    if state is None:
        state = SigninState.load()
    record = state.tokens()
    if record is None:
        raise CredentialError("not signed in to SRCNet", hint="`canfar login srcnet`")
    if rejected is None and record.fresh(REFRESH_MARGIN):
        return record.access_token
    with locked(state.path):
        fresh = SigninState.load(state.path)  # another process may have refreshed meanwhile
        record = fresh.tokens()
        if record is None:
            raise CredentialError("not signed in to SRCNet", hint="`canfar login srcnet`")
        if record.fresh(REFRESH_MARGIN) and (rejected is None or record.access_token != rejected):
            return record.access_token
        new = _refresh(record, settings)
        fresh.srcnet, fresh.srcnet_signed_out = new, False
        fresh.active_identity = fresh.active_identity or "srcnet"
        _write(fresh)
    state.srcnet = new
    return new.access_token


def _write(state: SigninState) -> None:
    import json

    from canfar_cli import files
    from canfar_cli.auth.state import store_path

    path = state.path or store_path()
    files.write_private(path, json.dumps(state.as_json(), indent=2, sort_keys=True) + "\n")


def _refresh(record: SrcnetSignin, settings: SigninSettings) -> SrcnetSignin:
    import dataclasses

    from canfar_cli.auth import net

    refresh, endpoint = record.refresh_token, record.token_endpoint
    if not refresh or not endpoint:
        raise CredentialError(
            "the SRCNet sign-in has expired and cannot be renewed", hint=LOGIN_HINT
        )
    response = net.request(
        "POST",
        endpoint,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(record.client_id, record.client_secret),
        settings=settings,
        what="sign-in service (token refresh)",
    )
    body = _json(response, "sign-in service", endpoint)
    if response.status_code != 200:
        error = body.get("error")
        if error in ("invalid_grant", "invalid_client", "unauthorized_client") or (
            response.status_code in (400, 401)
        ):
            raise CredentialError(
                "the SRCNet sign-in has ended: the sign-in service refused to renew it",
                hint=LOGIN_HINT,
            )
        raise ServerError(
            f"token refresh failed: HTTP {response.status_code}", status=response.status_code
        )
    if not isinstance(body.get("access_token"), str):
        raise net.garbage("sign-in service", endpoint, "no access_token")
    fields = _token_fields(body, refresh)
    return dataclasses.replace(record, source="canfar", **fields)
