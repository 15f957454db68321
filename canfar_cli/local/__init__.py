"""The local platform: the skaha v1 API served on this machine, running sessions for real.

Modules:
    settings   LocalSettings: where state lives, who the user is, limits (from the environment)
    statedir   the state folder's privacy: 0700/0600 whatever the umask, checked at every start
    portable   POSIX only (require_posix); the switch off the Linux-only fast paths
    store      the SQLite state shared by the server, in-process clients and the supervisor
    procs      process helpers: liveness by pid + start time + boot id, process-group signals
    supervisor `python -m canfar_cli.local.supervisor`: the one detached process per state folder
               that runs every headless job (started on demand, exits when idle)
    housekeeping  lazy sweeps: dead supervisors, reboots, interactive expiry, cleanup
    skaha      the skaha v1 rules: validation, record shaping, time formats, events table
    asgi       a small request/response layer for a plain ASGI app (no framework)
    app        create_app(): the ASGI app: routing, authentication, thin handlers
    rows       the rows and first events of new sessions; insertion with fresh ids
    resources  cores/ram checks against /context, the figures of view=stats
    metrics    a running job's usage, the machine's memory (/proc on Linux, ps elsewhere)
    control    waking the supervisor, ending a removed session's processes
    serverlog  where the platform's log goes: server.log in its state folder when in process,
               stderr when serving
    faults     fault-injection middleware (serving only)
    serve      `canfar local serve` on uvicorn (the only module that imports uvicorn)

Nothing here is imported by the CLI at start-up; the core reaches it only over HTTP. The tokens
`local serve` records for its clients are a file format both sides share: canfar_cli/serve_tokens.py
(outside this package, standard library only, read by config.load_settings for a loopback URL).
"""
