"""Where each setting comes from: flag > environment > config file > default.

The config file is a small flat TOML file, `config.toml` in the platformdirs user config folder
(`CANFAR_CONFIG_DIR` overrides the folder, which is how tests isolate themselves). It is written
atomically (temporary file + rename) and created with mode 0600, because it may hold a token.

Known keys:
    server        base URL of the skaha service, or "local"          env CANFAR_URL
    token         a bearer token (secret)                            env CANFAR_TOKEN
    token_file    a file holding the bearer token                    (flag --token-file)
    certificate   a PEM file with certificate and key                env CANFAR_CERTIFICATE
    timeout       seconds per request                                env CANFAR_TIMEOUT
    concurrency   requests in flight at most                         env CANFAR_CONCURRENCY
    platform      a platform by name (see `canfar platform ls`)      env CANFAR_PLATFORM
    ca_bundle     a PEM of CA certificates to trust for HTTPS        env CANFAR_CA_BUNDLE
    registry_cadc, registry_srcnet   a registry's resource-caps URL  env CANFAR_REGISTRY_CADC, ...
    oidc_issuer_srcnet               the SRCNet OIDC issuer URL      env CANFAR_OIDC_ISSUER_SRCNET
    poll_interval seconds between looks while waiting/following      env CANFAR_POLL_INTERVAL
    registry_user         the registry account of private images     env CANFAR_REGISTRY_USER
    registry_secret_file  a file holding its secret (hidden)         env CANFAR_REGISTRY_SECRET
                          (the environment variable holds the secret itself)
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canfar_cli.errors import ConfigError

PRODUCTION_URL = "https://ws-uv.canfar.net/skaha"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONCURRENCY = 32
# As the official client: more requests in flight than this only loads the server (and builds
# pools nobody uses); a huge value from a config file must not hang every command.
MAX_CONCURRENCY = 128
# Seconds per request: a socket's timeout must fit the system's time_t, and no answer is worth
# waiting for longer than a day (more is a typo, such as 1e18).
MAX_TIMEOUT = 86400.0
DEFAULT_POLL_INTERVAL = 1.0

# key -> (environment variable or None, type, is secret)
KEYS: dict[str, tuple[str | None, type, bool]] = {
    "server": ("CANFAR_URL", str, False),
    "token": ("CANFAR_TOKEN", str, True),
    "token_file": (None, str, False),
    "certificate": ("CANFAR_CERTIFICATE", str, False),
    "timeout": ("CANFAR_TIMEOUT", float, False),
    "concurrency": ("CANFAR_CONCURRENCY", int, False),
    "poll_interval": ("CANFAR_POLL_INTERVAL", float, False),
    "platform": ("CANFAR_PLATFORM", str, False),
    "ca_bundle": ("CANFAR_CA_BUNDLE", str, False),
    "registry_cadc": ("CANFAR_REGISTRY_CADC", str, False),
    "registry_srcnet": ("CANFAR_REGISTRY_SRCNET", str, False),
    "oidc_issuer_srcnet": ("CANFAR_OIDC_ISSUER_SRCNET", str, False),
    "registry_user": ("CANFAR_REGISTRY_USER", str, False),
    "registry_secret_file": (None, str, True),
}
# Sign-in services (see canfar_cli.auth); the settings above point canfar at others.
SERVICE_DEFAULTS = {
    "registry_cadc": "https://cadc-west-01.canfar.net/reg/resource-caps",
    "registry_srcnet": "https://spsrc27.iaa.csic.es/reg/resource-caps",
    "oidc_issuer_srcnet": "https://ska-iam.stfc.ac.uk/",
}


def config_dir() -> Path:
    override = os.environ.get("CANFAR_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("canfar", appauthor=False))


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The config file as a dict; {} when it does not exist. Unknown keys are kept as they are."""
    path = path or config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        values: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return values
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}",
            hint="fix it by hand or remove it",
        ) from None


def coerce(key: str, raw: Any, source: str) -> Any:
    """Turn `raw` into the key's type, or raise ConfigError naming where the value came from."""
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}", hint=f"known settings: {', '.join(KEYS)}")
    kind = KEYS[key][1]
    try:
        if kind is str:
            return _coerce_text(key, raw, source)
        if isinstance(raw, bool):
            raise ValueError
        return _coerce_number(key, kind, raw)
    except ValueError:
        wanted = {str: "a non-empty text", int: "a whole number >= 1", float: "a number > 0"}
        if key == "concurrency":
            wanted[int] = f"a whole number from 1 to {MAX_CONCURRENCY}"
        if key == "timeout":
            wanted[float] = f"a number of seconds > 0 and at most {MAX_TIMEOUT:g}"
        raise ConfigError(f"{key} from {source} must be {wanted[kind]}, got {raw!r}") from None


def _coerce_text(key: str, raw: Any, source: str) -> str:
    """A text setting, stripped; ValueError when it is empty or not text."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # bytes from argv that are not UTF-8 (surrogateescape)
        raise ConfigError(
            f"{key} from {source} is not UTF-8 text",
            hint="give it as UTF-8 text (a file name in another encoding: rename it)",
        ) from None
    if key == "token":
        return check_token(raw.strip(), source)
    if key == "server" and not _is_server(raw.strip()):
        raise ConfigError(
            f"server from {source} must be an http(s) URL or 'local', got {raw!r}",
            hint="e.g. https://ws-uv.canfar.net/skaha, or 'local' for the local platform",
        )
    return raw.strip()


def _coerce_number(key: str, kind: type, raw: Any) -> int | float:
    """A whole number >= 1 (concurrency at most MAX_CONCURRENCY), or a finite number > 0;
    ValueError otherwise."""
    text = str(raw).strip()
    if kind is int:
        if len(text) > 12:  # int() of a huge digit string is slow; no setting needs one
            raise ValueError
        whole = int(text)
        if whole < 1 or (key == "concurrency" and whole > MAX_CONCURRENCY):
            raise ValueError
        return whole
    value = float(text)
    if not math.isfinite(value) or value <= 0 or (key == "timeout" and value > MAX_TIMEOUT):
        raise ValueError
    return value


def _is_server(text: str) -> bool:
    """'local', or a URL with an http(s) scheme and a host (the rest is checked on use)."""
    if text.lower() == "local":
        return True
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of 0..65535
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host) and " " not in text


def _format_toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " or c == "\t" else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def write_config(values: dict[str, Any], path: Path | None = None) -> Path:
    """Write the flat dict atomically, mode 0600 from the first byte."""
    from canfar_cli.files import write_private

    path = path or config_path()
    lines = [f"{key} = {_format_toml_value(value)}\n" for key, value in sorted(values.items())]
    write_private(path, "".join(lines))
    return path


def set_value(key: str, raw: str) -> Path:
    value = coerce(key, raw, "the command line")
    values = read_config()
    values[key] = value
    return write_config(values)


def unset_value(key: str) -> Path:
    values = read_config()
    values.pop(key, None)
    return write_config(values)


def redacted(values: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to print: secret values replaced by a marker."""
    return {
        key: ("<hidden>" if key in KEYS and KEYS[key][2] else value)
        for key, value in values.items()
    }


@dataclass(frozen=True)
class Settings:
    server: str  # "" until chosen: see canfar_cli.auth.servers.choose_server
    token: str | None
    certificate: str | None
    timeout: float
    concurrency: int
    # Where the token came from: "flag", "environment", "config file", "serve" (the token a
    # `canfar local serve` of this state folder recorded, found by itself) or None.
    token_source: str | None = None
    # Seconds between two looks at the server while waiting for or following sessions.
    poll_interval: float = DEFAULT_POLL_INTERVAL
    # Where the credentials came from: True when given on purpose (flag, environment, config or
    # the library's arguments); False for ~/.ssl/cadcproxy.pem picked up by default.
    certificate_explicit: bool = True
    platform: str | None = None
    ca_bundle: str | None = None
    services: dict[str, str] = field(default_factory=dict)
    # The sign-in state read while choosing the server, handed down so that the credential is
    # chosen without reading auth.json again (canfar_cli.auth.state.SigninState; opaque here).
    signin: object | None = field(default=None, repr=False, compare=False)

    def service(self, key: str) -> str:
        """A sign-in service URL (registry_cadc, registry_srcnet, oidc_issuer_srcnet)."""
        return self.services.get(key) or SERVICE_DEFAULTS[key]

    def __repr__(self) -> str:  # never show the token
        token = "<hidden>" if self.token else None
        return (
            f"Settings(server={self.server!r}, token={token!r}, certificate={self.certificate!r},"
            f" timeout={self.timeout!r}, concurrency={self.concurrency!r},"
            f" poll_interval={self.poll_interval!r})"
        )


def check_token(token: str, source: str) -> str:
    """A token as it can travel in `Authorization: Bearer …`: visible ASCII only. Anything else
    (a second line, a space, a control or non-ASCII character) would fail inside httpx with an
    error that quotes the header, token and all; so it is refused here, never shown."""
    if not token or not all("!" <= ch <= "~" for ch in token):
        raise ConfigError(
            f"the token from {source} holds characters a token cannot"
            " (a space, a line break, a control or non-ASCII character)",
            hint="the token is one line of letters, digits and punctuation; check its source",
        )
    return token


def _read_token_file(path: str, source: str) -> str:
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path} ({source}): {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"token file {path} ({source}) is not text") from None
    if not token:
        raise ConfigError(f"token file {path} ({source}) is empty")
    return check_token(token, f"token file {path} ({source})")


def pick(
    key: str, flag: Any, file_values: dict[str, Any], given_by: str = "the command line"
) -> tuple[Any, str] | None:
    """The first of flag, environment, config file that is set, with its source (`given_by`
    names where a flag's value came from: the command line, or a library call's arguments)."""
    if flag is not None:
        return flag, given_by
    env = KEYS[key][0]
    if env and os.environ.get(env, "") != "":
        return os.environ[env], f"${env}"
    if key in file_values:
        return file_values[key], f"config file {config_path()}"
    return None


def load_settings(
    *,
    server: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    certificate: str | None = None,
    timeout: float | None = None,
    concurrency: int | None = None,
    poll_interval: float | None = None,
    platform: str | None = None,
    given_by: str = "the command line",
) -> Settings:
    """Resolve every setting once. Arguments are flags (None = not given); `given_by` is what
    an error about one of them says it came from (the library passes its call's arguments).

    The server: --server, then --platform, then CANFAR_URL, CANFAR_PLATFORM, the config file's
    server and platform, then the platform chosen with `canfar platform use` or at sign-in."""
    file_values = read_config()
    services = {}
    for key in ("registry_cadc", "registry_srcnet", "oidc_issuer_srcnet"):
        picked = pick(key, None, file_values)
        if picked:
            services[key] = coerce(key, *picked)
    picked = pick("ca_bundle", None, file_values)
    ca_bundle = str(Path(coerce("ca_bundle", *picked)).expanduser()) if picked else None
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigError(f"CA bundle {ca_bundle} (from {picked[1]}) does not exist")  # type: ignore[index]

    server_value: str | None = None
    platform_value: str | None = None
    if server is not None:
        server_value = coerce("server", server, given_by)
    elif platform is not None:
        platform_value = coerce("platform", platform, given_by)
    else:
        for key, env in (("server", "CANFAR_URL"), ("platform", "CANFAR_PLATFORM")):
            if os.environ.get(env, "") != "":
                value = coerce(key, os.environ[env], f"${env}")
                server_value, platform_value = (value, None) if key == "server" else (None, value)
                break
        else:
            if "server" in file_values:
                server_value = coerce(
                    "server", file_values["server"], f"config file {config_path()}"
                )
            elif "platform" in file_values:
                platform_value = coerce(
                    "platform", file_values["platform"], f"config file {config_path()}"
                )
    # No server named: a platform (named, or the active one) is resolved where the server is
    # chosen (canfar_cli.auth.servers.choose_server), which reads the sign-in state; "" until then.
    token_value, token_source = _token_setting(token, token_file, file_values)
    certificate_value, certificate_explicit = _certificate_setting(certificate, file_values)

    picked = pick("timeout", timeout, file_values, given_by)
    timeout_value = coerce("timeout", *picked) if picked else DEFAULT_TIMEOUT
    picked = pick("concurrency", concurrency, file_values, given_by)
    concurrency_value = coerce("concurrency", *picked) if picked else DEFAULT_CONCURRENCY
    picked = pick("poll_interval", poll_interval, file_values, given_by)
    interval_value = coerce("poll_interval", *picked) if picked else DEFAULT_POLL_INTERVAL

    settings = Settings(
        server=server_value or "",
        token=token_value,
        token_source=token_source,
        certificate=certificate_value,
        timeout=timeout_value,
        concurrency=concurrency_value,
        poll_interval=interval_value,
        certificate_explicit=certificate_explicit,
        platform=platform_value,
        ca_bundle=ca_bundle,
        services=services,
    )
    return with_local_server(settings) if settings.server else settings


def with_local_server(settings: Settings) -> Settings:
    """For a `canfar local serve` of this state folder on loopback: the token it recorded
    (unless one was given) and, over https, its CA (unless a bundle was given), so that it
    needs no setting at all. Unchanged for any other server."""
    import dataclasses

    from canfar_cli.serve_tokens import find_ca, find_token, loopback_port

    if loopback_port(settings.server) is None:
        return settings
    changes: dict[str, Any] = {}
    if settings.token is None:
        token = find_token(settings.server)
        if token is not None:
            changes.update(token=token, token_source="serve")
    if settings.ca_bundle is None and settings.server.startswith("https:"):
        ca = find_ca(settings.server)
        if ca is not None:
            changes["ca_bundle"] = ca
    return dataclasses.replace(settings, **changes) if changes else settings


def _token_setting(
    token: str | None, token_file: str | None, file_values: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The bearer token given and where from ("flag", "environment", "config file"): a token
    given directly beats a token file at the same level; a flag beats everything. (The token a
    `canfar local serve` recorded is found once the server is chosen: with_local_server.)"""
    if token is not None:
        return coerce("token", token, "the command line"), "flag"
    if token_file is not None:
        return _read_token_file(token_file, "--token-file"), "flag"
    if os.environ.get("CANFAR_TOKEN", "").strip():
        return check_token(os.environ["CANFAR_TOKEN"].strip(), "$CANFAR_TOKEN"), "environment"
    if "token" in file_values:
        return coerce("token", file_values["token"], f"config file {config_path()}"), "config file"
    if "token_file" in file_values:
        path = coerce("token_file", file_values["token_file"], "config file")
        return _read_token_file(path, f"config file {config_path()}"), "config file"
    return None, None


def _certificate_setting(
    certificate: str | None, file_values: dict[str, Any]
) -> tuple[str | None, bool]:
    """The client certificate (PEM) and whether it was given (flag, environment, file) rather
    than found at the default ~/.ssl/cadcproxy.pem."""
    picked = pick("certificate", certificate, file_values)
    if not picked:
        default_pem = Path.home() / ".ssl" / "cadcproxy.pem"
        return (str(default_pem) if default_pem.is_file() else None), False
    pem = str(Path(coerce("certificate", *picked)).expanduser())
    if not Path(pem).is_file():
        raise ConfigError(f"certificate {pem} (from {picked[1]}) does not exist")
    return pem, True


def registry_credentials(
    user: str | None = None, secret_file: str | None = None
) -> tuple[str, str] | None:
    """(user, secret) for a private image, or None when no registry user is set anywhere.

    The user: the flag, $CANFAR_REGISTRY_USER, the config's registry_user. The secret: the
    flag's file, $CANFAR_REGISTRY_SECRET (the secret itself), the config's registry_secret_file.
    A user with no secret (or a secret file with no user) is a setting error."""
    file_values = read_config()
    picked = pick("registry_user", user, file_values)
    if picked is None:
        if secret_file is not None:
            raise ConfigError(
                "--registry-secret-file needs a registry user",
                hint="give --registry-user USER (or set registry_user)",
            )
        return None
    name = coerce("registry_user", *picked)
    if secret_file is not None:
        secret = _read_secret(secret_file, "--registry-secret-file")
    elif os.environ.get("CANFAR_REGISTRY_SECRET", "").strip():
        secret = os.environ["CANFAR_REGISTRY_SECRET"].strip()
    elif "registry_secret_file" in file_values:
        path = coerce("registry_secret_file", file_values["registry_secret_file"], "config file")
        secret = _read_secret(path, f"config file {config_path()}")
    else:
        raise ConfigError(
            f"the registry user {name!r} has no secret",
            hint="give --registry-secret-file PATH, set CANFAR_REGISTRY_SECRET,"
            " or `canfar config set registry_secret_file PATH`",
        )
    return name, secret


def _read_secret(path: str, source: str) -> str:
    try:
        secret = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read registry secret file {path} ({source}): {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"registry secret file {path} ({source}) is not text") from None
    if not secret:
        raise ConfigError(f"registry secret file {path} ({source}) is empty")
    return secret
