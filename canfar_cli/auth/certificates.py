"""X.509 proxy certificates: where they live, who they name and until when they hold.

`cryptography` is imported only when a certificate is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from canfar_cli.errors import CredentialError

LOGIN_HINT = "sign in again: `canfar login cadc`"


def default_path() -> Path:
    """~/.ssl/cadcproxy.pem, where cadc-get-cert and the official client put it."""
    return Path.home() / ".ssl" / "cadcproxy.pem"


@dataclass(frozen=True)
class CertificateInfo:
    path: str
    user: str
    not_after: float  # unix seconds

    @property
    def seconds_left(self) -> float:
        return self.not_after - time.time()

    @property
    def expired(self) -> bool:
        return self.seconds_left <= 0


def parse_pem(data: bytes, where: str) -> tuple[str, float]:
    """(user, not_after) of the first certificate in a PEM that also holds a private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from cryptography.x509.oid import NameOID

    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CredentialError(f"{where} holds no readable certificate", hint=LOGIN_HINT) from None
    import re

    match = re.search(
        rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", data, re.S
    )
    key_found = match is not None
    if match is not None:
        # Readable is what is asked here; whether the key is sound and matches the certificate,
        # the TLS set-up checks before any request. Skipping cryptography's own check of an
        # RSA key's numbers saves ~50 ms of CPU on every read (a sign-in, `auth status`).
        try:
            load_pem_private_key(match.group(0), password=None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError):
            key_found = False
    if not key_found:
        raise CredentialError(
            f"{where} holds a certificate but not its private key", hint=LOGIN_HINT
        )
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    user = str(names[0].value) if names else certificate.subject.rfc4514_string()
    return user, certificate.not_valid_after_utc.timestamp()


def read_certificate(path: str | Path) -> CertificateInfo:
    """Who and until when; CredentialError (exit 3) when unreadable."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialError(
            f"certificate {path} cannot be read: {exc.strerror}", hint=LOGIN_HINT
        ) from None
    user, not_after = parse_pem(data, f"certificate {path}")
    return CertificateInfo(str(path), user, not_after)


def _quick_read(path: Path) -> CertificateInfo | None:
    """Who and until when through the ssl module (already loaded to send the request), which
    costs nothing next to importing cryptography (~0.1 s) on every command. None when the
    interpreter lacks it or the file is not plainly readable: then the full read decides."""
    import ssl

    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return None
    try:
        decoded = decode(str(path))
        not_after = ssl.cert_time_to_seconds(decoded["notAfter"])
    except Exception:
        return None
    user = ""
    for rdn in decoded.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and not user:
                user = value
    return CertificateInfo(str(path), user, float(not_after))


def certificate_info(path: str | Path) -> CertificateInfo:
    """Who and until when, the quick way where it can (no cryptography import, no key check:
    the TLS set-up checks the key before anything is sent); CredentialError when unreadable."""
    path = Path(path).expanduser()
    return _quick_read(path) or read_certificate(path)


def usable_certificate(path: str | Path) -> CertificateInfo:
    """The certificate when it can be sent; CredentialError (exit 3) when expired or unreadable.
    (Whether the key matches is checked when the TLS context loads it, before any request.)"""
    info = certificate_info(path)
    if info.expired:
        raise CredentialError(f"certificate {info.path} has expired", hint=LOGIN_HINT)
    return info


def check_given_certificate(path: str | Path) -> None:
    """A certificate given explicitly (--cert, CANFAR_CERTIFICATE): expired → CredentialError
    (exit 3). A file that cannot be read as one is left to the TLS set-up, which refuses it as a
    setting (exit 2) before anything is sent."""
    info = _quick_read(Path(path).expanduser())
    if info is not None and info.expired:
        raise CredentialError(
            f"certificate {info.path} has expired",
            hint="get a new one (`canfar login cadc`, or the tool that made it)",
        )
