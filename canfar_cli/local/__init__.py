"""The local platform: the skaha v1 API served on this machine, running sessions for real.

Modules:
    settings   LocalSettings: where state lives, who the user is, limits (from the environment)
    store      the SQLite state shared by the server, in-process clients and runners
    procs      process helpers: liveness by pid + start time + boot id, process-group signals
    runner     `python -m canfar_cli.local.runner`: the detached supervisor of one session
    skaha      the skaha v1 rules: validation, record shaping, time formats, events table
    asgi       a small request/response layer for a plain ASGI app (no framework)
    app        create_app(): the ASGI app with its routes
    faults     fault-injection middleware (serving only)
    serve      `canfar local serve` on uvicorn (the only module that imports uvicorn)

Nothing here is imported by the CLI at start-up; the core reaches it only over HTTP.
"""
