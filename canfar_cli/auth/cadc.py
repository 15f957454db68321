"""A CADC proxy certificate from a user name and password (what cadc-get-cert does).

registry → `ivo://cadc.nrc.ca/cred` capabilities → the CDP proxy interface with BasicAA → its
accessURL `?daysValid=N` with HTTP Basic auth → one PEM (certificate, key, chain), stored as
~/.ssl/cadcproxy.pem (0600, atomic). Nothing is stored unless the answer is a usable certificate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from canfar_cli.auth.certificates import CertificateInfo, default_path, parse_pem
from canfar_cli.errors import CredentialError, UsageError
from canfar_cli.files import write_private

if TYPE_CHECKING:
    from canfar_cli.auth.settings import SigninSettings
    from canfar_cli.auth.state import SigninState

CRED_URI = "ivo://cadc.nrc.ca/cred"
CDP_PROXY = "ivo://ivoa.net/std/CDP#proxy-1.0"
MAX_DAYS = 30


def credential_service_url(settings: SigninSettings) -> str:
    """The accessURL of the credential service's BasicAA proxy interface."""
    from canfar_cli.auth import net

    registry = settings.service("registry_cadc")
    caps = net.resource_caps(registry, settings, "registry_cadc")
    if CRED_URI not in caps:
        raise net.garbage("registry", registry, f"no {CRED_URI} entry", "registry_cadc")
    root = net.capabilities(caps[CRED_URI], settings)
    for _standard, url, methods, _use in net.find_interfaces(root, CDP_PROXY):
        if any(method.endswith("#BasicAA") for method in methods):
            return url
    raise net.garbage(
        "capabilities service", caps[CRED_URI], f"no {CDP_PROXY} interface taking BasicAA"
    )


def login_cadc(
    username: str,
    password: str,
    days: int = MAX_DAYS,
    *,
    settings: SigninSettings | None = None,
    path: str | Path | None = None,
    state: SigninState | None = None,
) -> CertificateInfo:
    """Fetch a proxy certificate valid `days` days, store it at `path` (default
    ~/.ssl/cadcproxy.pem) and make CADC the active identity. Wrong user name or password:
    CredentialError (exit 3), nothing stored or changed."""
    from canfar_cli.auth import net
    from canfar_cli.auth.settings import signin_settings
    from canfar_cli.auth.state import CadcSignin, SigninState

    if not username or ":" in username or not password:
        raise UsageError("a user name (without ':') and a password are needed")
    if not 1 <= int(days) <= MAX_DAYS:
        raise UsageError(f"--days must be 1 to {MAX_DAYS}, got {days}")
    settings = settings or signin_settings()
    state = state or SigninState.load()
    url = credential_service_url(settings)
    response = net.request(
        "GET",
        url,
        params={"daysValid": str(int(days))},
        auth=(username, password),
        settings=settings,
        what="credential service",
    )
    if response.status_code == 429:
        from canfar_cli.wire import retry_after_seconds

        wait = retry_after_seconds(response.headers.get("retry-after"))
        raise CredentialError(
            "the credential service refuses more tries for now (too many wrong passwords)",
            hint=f"wait {wait:.0f} s, then try again" if wait else "wait, then try again",
        )
    if response.status_code in (401, 403):
        raise CredentialError(
            f"the credential service refused user {username!r}: wrong user name or password",
            hint="try again: `canfar login cadc`",
        )
    if response.status_code != 200:
        raise net.garbage("credential service", url, f"HTTP {response.status_code}")
    try:
        user, not_after = parse_pem(response.content, "the credential service's answer")
    except CredentialError as exc:
        raise net.garbage("credential service", url, exc.message) from None
    target = Path(path).expanduser() if path else default_path()
    write_private(target, response.content)
    registry = settings.service("registry_cadc")

    def activate(fresh: SigninState) -> None:
        fresh.active_identity = "cadc"
        fresh.cadc = CadcSignin(str(target), written=True, registry=registry)

    state.update(activate)
    return CertificateInfo(str(target), user, not_after)
