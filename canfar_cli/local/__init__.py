"""The local platform: the skaha v1 API served on this machine, running sessions for real.

Modules:
    settings   LocalSettings: where state lives, who the user is, limits (from the environment)
    store      the SQLite state shared by the server, in-process clients and the supervisor
    procs      process helpers: liveness by pid + start time + boot id, process-group signals
    supervisor `python -m canfar_cli.local.supervisor`: the one detached process per state folder
               that runs every headless job (started on demand, exits when idle)
    housekeeping  lazy sweeps: dead supervisors, reboots, interactive expiry, cleanup
    skaha      the skaha v1 rules: validation, record shaping, time formats, events table
    asgi       a small request/response layer for a plain ASGI app (no framework)
    app        create_app(): the ASGI app with its routes
    faults     fault-injection middleware (serving only)
    serve      `canfar local serve` on uvicorn (the only module that imports uvicorn)

Nothing here is imported by the CLI at start-up; the core reaches it only over HTTP.
"""
