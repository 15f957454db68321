"""What signing in needs to know, and nothing more: timeouts, the CA bundle, the sign-in
services (registries, OIDC issuer) and the server in use, which decides them for a local one.

Its own small object, so that sign-in never needs the session settings (canfar_cli.config
builds those; this module reads the same sources: flag > environment > config file > default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    from canfar_cli.config import Settings

SERVICE_KEYS = ("registry_cadc", "registry_srcnet", "oidc_issuer_srcnet")
# Where a `canfar local serve` (any loopback server of the local platform) has its own.
LOCAL_PATHS = {
    "registry_cadc": "/reg/cadc/resource-caps",
    "registry_srcnet": "/reg/srcnet/resource-caps",
    "oidc_issuer_srcnet": "/oidc",
}


@dataclass(frozen=True)
class SigninSettings:
    timeout: float = 30.0
    ca_bundle: str | None = None
    services: dict[str, str] = field(default_factory=dict)  # the ones set (env, config)
    server: str | None = None  # the server in use; its own services when it is loopback
    # Whether it was named (flag, environment, config), not the active platform's: a named
    # local server's own services win over the ones set, an active platform's do not.
    named: bool = True

    def local_base(self) -> str | None:
        """scheme://host:port of the server in use when it is a local platform on loopback;
        "local" means the `canfar local serve` of this state folder (one must be running)."""
        from canfar_cli.serve_tokens import loopback_port, running

        server = (self.server or "").strip()
        if server.lower() == "local":
            url = running()
            if url is None:
                raise UsageError(
                    "no `canfar local serve` of this state folder is running to sign in to",
                    hint="start one: `canfar local serve --tls &`",
                )
            server = url
        if not server or loopback_port(server) is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(server)
        return f"{parts.scheme}://{parts.netloc}"

    def service(self, key: str) -> str:
        """A sign-in service URL: a local server's own when that is the server in use, else
        the one set, else the public one."""
        from canfar_cli.config import SERVICE_DEFAULTS

        base = self.local_base()
        if base is not None and (self.named or not self.services.get(key)):
            return base + LOCAL_PATHS[key]
        return self.services.get(key) or SERVICE_DEFAULTS[key]

    def ca_for(self, url: str) -> str | None:
        """The CA bundle to trust for `url`: the one set, else a local server's own CA."""
        if self.ca_bundle:
            return self.ca_bundle
        from canfar_cli.serve_tokens import find_ca

        return find_ca(url)

    @classmethod
    def of(cls, settings: Settings) -> SigninSettings:
        return cls(
            settings.timeout,
            settings.ca_bundle,
            dict(settings.services),
            settings.server,
            named=settings.platform is None,
        )


def signin_settings(
    server: str | None = None, timeout: float | None = None, *, active: str | None = None
) -> SigninSettings:
    """Read from the flags given, the environment and the config file (as config does);
    `active`: the server in use when none is named (the active platform's URL)."""
    from pathlib import Path

    from canfar_cli.config import DEFAULT_TIMEOUT, coerce, pick, read_config
    from canfar_cli.errors import ConfigError

    values = read_config()
    services = {}
    for key in SERVICE_KEYS:
        picked = pick(key, None, values)
        if picked:
            services[key] = coerce(key, *picked)
    picked = pick("ca_bundle", None, values)
    ca_bundle = str(Path(coerce("ca_bundle", *picked)).expanduser()) if picked else None
    if picked and ca_bundle and not Path(ca_bundle).is_file():
        raise ConfigError(f"CA bundle {ca_bundle} (from {picked[1]}) does not exist")
    picked = pick("timeout", timeout, values)
    timeout_value = coerce("timeout", *picked) if picked else DEFAULT_TIMEOUT
    picked = pick("server", server, values)
    server_value = coerce("server", *picked) if picked else active
    return SigninSettings(timeout_value, ca_bundle, services, server_value, named=bool(picked))
