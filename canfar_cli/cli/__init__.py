"""The `canfar` command line: one module per command, plus what the commands share.

- entry.py: the program's entry point; main.py: the Typer app, global options, the error wrapper.
- state.py: CliState, what every command gets (flags, the terminal `out`, the session factory).
- One module per command: create, ps, info, logs, events, stats, rm, prune, config_cmd,
  completion, local. A command parses, calls the core through `state.run`, and hands results to
  `state.out` (canfar_cli/output.py, the only writer); it never prints nor touches httpx.
- Shared by commands: options.py (option declarations), present.py (session rows, times, batch
  outcomes), removal.py (rm and prune), envfile.py (-e/--env-file), names.py (default names),
  dryrun.py (create --dry-run layout), progress.py (create --wait progress).
- Generated from the app: completion_gen.py fills templates/canfar.<shell>.tmpl into
  completions/; docs.py writes docs/cli.md. Tests fail when either is out of date.
"""
