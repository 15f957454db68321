"""The local platform's storage services: a cavern (arc) and a vault, faithful to CANFAR's.

`../shared/storage.md` is the specification (§1.3, §2.3, §3, §4, §5, §7, §8). Served by the local
app under BASE/arc (cavern over `<ARC>`, the folder whose `home/<user>` the jobs use as their
homes), BASE/cavern (the same tree under the SRCNet name), BASE/vault (a tree of its own) and
BASE/minoc (vault's byte host). Modules:
    settings.py      CANFAR_LOCAL_QUOTA, CANFAR_LOCAL_VAULT, CANFAR_LOCAL_VAULT_LAG
    errors.py        `FaultName: detail` refusals with the statuses of §5
    nodes.py         node documents: the NodeWriter shape (XML, JSON) and the node reader
    props.py         node properties stored on the files (user xattrs, else a sidecar database)
    tree.py          the node tree over a folder: nodes, permissions, create/update/delete/move
    quota.py         per-user quota and the usage of an allocation
    preauth.py       pre-authorized URL tokens (HMAC, bound to URI + grant + user)
    files.py         the byte endpoints: cavern /files, vault /files (303) and minoc
    negotiation.py   synctrans (both forms), /transfers jobs, /xfer documents
    uws.py           the UWS jobs (transfers, moves, recursive deletes)
    capabilities.py  the VOSI capabilities documents
    routes.py        the router the local app hands storage requests to
"""
