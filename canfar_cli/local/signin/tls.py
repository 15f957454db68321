"""HTTPS for `canfar local serve --tls`: the server's TLS context, and the client certificate
put into the ASGI scope.

The TLS layer asks for a client certificate but does not require one (CERT_OPTIONAL), trusting
only the local CA: a request may instead carry a token. It checks a presented certificate's chain
but not its dates (X509_V_FLAG_NO_CHECK_TIME): an expired certificate would otherwise end the
handshake with a TLS alert, where the real platform (and so this one) answers HTTP 401 that a
client can report. The skaha API checks the dates itself (ca.LocalCA.user_of).

uvicorn does not put the peer certificate into the ASGI scope. `ClientCertH11Protocol` does, the
way the ASGI TLS extension describes (`scope["extensions"]["tls"]["client_cert_chain"]`, a list
of PEM strings, leaf first): asyncio completes the TLS handshake before it calls the protocol's
`connection_made`, so the certificate is read there once per connection from the transport's
`ssl_object`, and the app of that connection is wrapped to add it to each request's scope.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (Python's ssl module has no name for it).
X509_V_FLAG_NO_CHECK_TIME = 0x200000


def configure(context: ssl.SSLContext, ca_file: Path) -> None:
    """Make uvicorn's server context ours: TLS 1.2+, client certificates optional and issued
    by the local CA, their dates left to the application."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cafile=str(ca_file))
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME


class ClientCertH11Protocol(H11Protocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        info: dict[str, Any] = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }
        app = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                scope.setdefault("extensions", {})["tls"] = info
            await app(scope, receive, send)

        self.app = with_tls
