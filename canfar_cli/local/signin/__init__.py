"""The local platform's imitation of the sign-in services of CANFAR and SRCNet.

Served by `canfar local serve` next to the skaha API (see /work/shared/sign-in.md for the real
wire formats):

    registry     `/reg/cadc/resource-caps`, `/reg/srcnet/resource-caps` and the VOSI
                 capabilities documents of skaha, the credential service and storage
    ca           the local certificate authority (`ca/ca.pem`, `ca/ca.key` under the state folder)
    credentials  `/cred/priv/proxy`: a client certificate for a user name and password
    users        the users file (`users.json`, 0600, scrypt hashes); `canfar local users add`
    oidc         an OAuth 2.0 / OIDC provider at `/oidc`: discovery, registration, device flow,
                 verification page, token (device_code and refresh_token grants), userinfo
    routes       SigninServices: the router the skaha app dispatches to by path prefix, and the
                 "who is this request?" hook its authentication consults
    tls          `canfar local serve --tls`: the SSL context and the uvicorn protocol that puts
                 the client certificate into the ASGI scope

Everything here imports `cryptography` (and sqlite3) only inside these modules; nothing here is
imported by the CLI at start-up.
"""
