"""The local certificate authority: made on first use under the state folder (`ca/ca.pem`,
`ca/ca.key`, both 0600), it signs the client certificates of the credential service and the
server certificate of `canfar local serve --tls`.

Client certificates are plain X.509 end-entity certificates with the user name as CN (what CADC's
proxy certificates carry, as far as the skaha API cares); the skaha API maps a verified client
certificate to its CN.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from canfar_cli.files import locked
from canfar_cli.files import write_private as write_secret

CA_DIR = "ca"
CA_NAME = "canfar local platform CA"
CA_DAYS = 3650
SERVER_DAYS = 365
# Allow for clocks a little apart (the real services back-date too).
BACKDATE = dt.timedelta(minutes=5)


def ca_paths(home: Path) -> tuple[Path, Path]:
    folder = home / CA_DIR
    return folder / "ca.pem", folder / "ca.key"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CertificateRejected(Exception):
    """A client certificate that is not (or no longer) good: the reason, for the 401 text."""


@dataclass
class LocalCA:
    certificate: x509.Certificate
    key: Any  # an EC private key
    path: Path

    @classmethod
    def load_or_create(cls, home: Path) -> LocalCA:
        """The CA of the state folder `home`, made the first time (under a lock, so two servers
        starting at once agree on one CA)."""
        cert_path, key_path = ca_paths(home)
        with locked(cert_path.parent / ".lock"):
            if not (cert_path.exists() and key_path.exists()):
                cls._create(cert_path, key_path)
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return cls(certificate, key, cert_path)

    @staticmethod
    def _create(cert_path: Path, key_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "canfar local"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        now = _now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_secret(key_path, key_pem)
        write_secret(cert_path, certificate.public_bytes(serialization.Encoding.PEM))

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def _builder(
        self, subject: x509.Name, public_key: Any, not_before: dt.datetime, not_after: dt.datetime
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )

    def issue_client(
        self,
        user: str,
        seconds: float,
        *,
        not_before: dt.datetime | None = None,
    ) -> bytes:
        """One PEM as the credential service answers: certificate, private key (RSA, the
        traditional `RSA PRIVATE KEY` form of cadcproxy.pem files), then the CA chain."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Valid for `seconds` from now (or from `not_before`, which tests use for an expired one).
        origin = not_before or _now()
        start = origin - BACKDATE if not_before is None else origin
        end = origin + dt.timedelta(seconds=seconds)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "canfar local"),
                x509.NameAttribute(NameOID.COMMON_NAME, user),
            ]
        )
        certificate = (
            self._builder(subject, key.public_key(), start, end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return certificate.public_bytes(serialization.Encoding.PEM) + key_pem + self.pem()

    def server_files(self, folder: Path) -> tuple[Path, Path]:
        """A fresh server certificate for 127.0.0.1, ::1 and localhost: (cert path, key path),
        both 0600 in `folder`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
        certificate = (
            self._builder(
                subject, key.public_key(), now - BACKDATE, now + dt.timedelta(days=SERVER_DAYS)
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = folder / "server.pem", folder / "server.key"
        write_secret(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        chain = certificate.public_bytes(serialization.Encoding.PEM) + self.pem()
        write_secret(cert_path, chain)
        return cert_path, key_path

    def user_of(self, der: bytes) -> str:
        """The CN of a client certificate (DER) this CA issued and that is valid now; raises
        CertificateRejected otherwise. The TLS layer has checked the chain already (but not the
        dates, see tls.py); the signature is checked again here all the same."""
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise CertificateRejected("the client certificate cannot be read") from None
        try:
            certificate.verify_directly_issued_by(self.certificate)
        except Exception:  # InvalidSignature, ValueError, TypeError
            raise CertificateRejected("the client certificate was not issued here") from None
        now = _now()
        if now > certificate.not_valid_after_utc:
            raise CertificateRejected("the client certificate has expired")
        if now < certificate.not_valid_before_utc:
            raise CertificateRejected("the client certificate is not valid yet")
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or not isinstance(names[0].value, str) or not names[0].value:
            raise CertificateRejected("the client certificate names no user (CN)")
        return names[0].value
