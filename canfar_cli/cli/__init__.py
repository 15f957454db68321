"""The `canfar` command line: one module per command, plus what the commands share.

- entry.py: the program's entry point (a stored help page, or the Typer app); main.py: the
  Typer app, global options, the error wrapper (the one route to an exit code: a command
  returns an `ExitCode` or raises), and `COMMANDS`: each command's module and help line (only
  the command that runs is imported and built).
- state.py: CliState, what every command gets (flags, the terminal `out`, the session factory).
- One module per command: create.py, run.py, ps.py, info.py, logs.py, events.py, stats.py,
  wait.py, open_cmd.py (open), renew.py, rm.py, prune.py, images.py, limits.py, config_cmd.py
  (config), auth_cmd.py (login, auth, platform), completion.py, local.py (local …). A command
  parses, calls the core through `state.run`, and hands results to `state.out`
  (canfar_cli/output.py, the only writer); it never prints nor touches httpx. The biggest
  (create, run, local serve) are a dataclass of parsed options plus a run function.
- Shared by commands: options.py (option declarations), launch.py (the one launch path of create
  and run), waiting.py (wait and create --wait: the progress, then the verdict), removal.py (rm
  and prune), present.py (session rows, times, batch outcomes to an exit code), envfile.py
  (-e/--env-file), names.py (default names), dryrun.py (create --dry-run layout), image_kinds.py
  (an image's kinds: `images`, create's warning), units.py (CPU and RAM shown one way, RAM in
  GiB), suggest.py (unknown commands answered by meaning, then spelling).
- `canfar data …` (your files, over canfar_cli.storage): data.py (the group, the path checks
  before any request, the one way to the storage core), data_list.py (ls, stat, du),
  data_files.py (cat, mkdir, rm, url), data_transfer.py (cp, sync, mv), data_report.py (a
  transfer's progress, failures, summary and exit code), data_present.py (sizes, rows, blocks).
- Generated from the app: completion_gen.py fills templates/canfar.<shell>.tmpl into
  completions/; docs.py writes docs/cli.md; help_pages.py writes help_pages.txt, every `--help`
  page, which entry.py prints without importing Typer. Tests fail when any is out of date.
"""
