"""`canfar create KIND IMAGE [-- CMD [ARG …]]`: launch sessions (and optionally wait for them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from canfar_cli.cli.options import Format, Kind, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of
from canfar_cli.errors import JobFailedError, UsageError

KIND_HELP = "headless, notebook, desktop, carta, firefly or contributed."
# Room for a replica suffix (`-1000`) and a uniqueness counter inside a 63-character DNS label.
NAME_STEM_LIMIT = 40


def name_from_image(image: str) -> str:
    """A readable name from an image: images.canfar.net/skaha/terminal:1.1.1 -> terminal."""
    last = image.rsplit("/", 1)[-1]
    last = last.split("@", 1)[0].split(":", 1)[0]
    stem = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:NAME_STEM_LIMIT].strip("-")
    return stem or "session"


def unique_name(stem: str, taken: set[str], replicas: int) -> str:
    """`stem`, else `stem-2`, `stem-3`, …: the first whose names (replica suffixes too) are free."""

    def names(base: str) -> list[str]:
        if replicas == 1:
            return [base]
        return [f"{base}-{index}" for index in range(1, replicas + 1)]

    candidate, counter = stem, 1
    while any(name in taken for name in names(candidate)):
        counter += 1
        candidate = f"{stem}-{counter}"
    return candidate


# In an unquoted or double-quoted value the shell would expand or unescape these; we would not.
_SHELL_SPECIAL = ("$", "`", "\\")


def env_file_line(text: str) -> tuple[str, str]:
    """One `KEY=VALUE` line of an env file, read as the shell (and docker compose) read it:
    an `export ` prefix, spaces around `=`, a value in single or double quotes (the quotes are
    not part of it), and a ` # comment` after an unquoted value. What the shell would expand or
    unescape (`$`, backquotes, backslashes outside single quotes) is refused, never guessed:
    raises ValueError with the reason."""
    if text.startswith("export ") or text.startswith("export\t"):
        text = text[len("export") :].strip()
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError("it is not KEY=VALUE")
    key, value = key.strip(), value.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        if end < 0:
            raise ValueError(f"its {quote} quote is not closed (values span one line)")
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ValueError(f"there is text after the closing quote: {rest!r}")
        value = value[1:end]
        if quote == '"' and any(ch in value for ch in _SHELL_SPECIAL):
            raise ValueError(
                "a double-quoted value holds $, ` or \\, which the shell would expand;"
                " put the value in single quotes to pass it as it is"
            )
        return key, value
    comment = min((i for i in (value.find(" #"), value.find("\t#")) if i >= 0), default=-1)
    if comment >= 0:
        value = value[:comment].rstrip()
    if any(ch in value for ch in (*_SHELL_SPECIAL, "'", '"')):
        raise ValueError(
            "the value holds $, `, \\ or a quote, which the shell would read otherwise;"
            " put the value in single quotes to pass it as it is"
        )
    return key, value


def parse_env(pairs: list[str], env_file: Path | None) -> dict[str, str]:
    """-e K=V (repeatable) over --env-file lines (see env_file_line; blank lines and # comments
    skipped)."""
    env: dict[str, str] = {}
    if env_file is not None:
        try:
            lines = env_file.read_text(encoding="utf-8-sig").splitlines()  # a BOM is no key
        except OSError as exc:
            raise UsageError(f"cannot read --env-file {env_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--env-file {env_file} is not UTF-8 text") from None
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                key, value = env_file_line(text)
            except ValueError as exc:
                raise UsageError(
                    f"--env-file {env_file} line {number} ({text!r}): {exc}",
                    hint="write KEY=VALUE, or KEY='any text' to pass a value as it is",
                ) from None
            env[key] = value
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"-e {pair!r} is not KEY=VALUE", hint="write e.g. -e SEED=42")
        env[key] = value
    return env


def job_line(plan: Any) -> str | None:
    """`# job argv: [...]`: what the job will run, as JSON (spaces and empty arguments show)."""
    import json

    argv = list(getattr(plan, "argv", None) or [])
    if not argv:
        return None
    shown = json.dumps(argv, ensure_ascii=False)
    if "cmd" not in dict(plan.form):
        return f"# job args (after the image's entrypoint): {shown}"
    return f"# job argv: {shown}"


def render_plan(plans: list[Any]) -> str:
    """The requests a create would send, as text: method and URL, headers, then the form, and
    the argv the job will see."""
    chunks = []
    for plan in plans:
        lines = [f"{plan.method} {plan.url}"]
        lines += [f"{key}: {value}" for key, value in plan.headers.items()]
        lines.append("")
        lines += [f"{key}={value}" for key, value in plan.form]
        job = job_line(plan)
        if job is not None:
            lines.append(job)
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def plan_json(plans: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "method": plan.method,
            "url": plan.url,
            "headers": dict(plan.headers),
            "form": [list(item) for item in plan.form],
            "argv": list(getattr(plan, "argv", None) or []),
            "env": dict(getattr(plan, "job_env", None) or []),
        }
        for plan in plans
    ]


def create(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., metavar="KIND", case_sensitive=False, help=KIND_HELP),
    image: str = typer.Argument(
        ..., metavar="IMAGE", help="Container image, e.g. images.canfar.net/skaha/terminal:1.1.1."
    ),
    command: list[str] | None = typer.Argument(
        None, metavar="[-- CMD [ARG]...]", help="Headless only: the program and its arguments."
    ),
    name: str | None = typer.Option(
        None,
        "-n",
        "--name",
        metavar="NAME",
        help="Session name (default: made from the image, unique).",
    ),
    cores: float | None = typer.Option(
        None, "-c", "--cores", metavar="N", help="CPU cores (default 2)."
    ),
    ram: float | None = typer.Option(
        None, "-m", "--ram", metavar="GiB", help="RAM in GiB (default 4; ps shows GB: 4.29)."
    ),
    gpus: int | None = typer.Option(
        None, "-g", "--gpus", metavar="N", help="GPUs (leave out for none)."
    ),
    env: list[str] | None = typer.Option(
        None, "-e", "--env", metavar="K=V", help="Environment variable (repeatable)."
    ),
    env_file: Path | None = typer.Option(
        None, "--env-file", metavar="PATH", help="File of K=V lines."
    ),
    replicas: int = typer.Option(
        1, "-r", "--replicas", metavar="N", help="N sessions named NAME-1 … NAME-N."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show exactly what would be sent (credentials hidden); send none."
    ),
    wait: bool = typer.Option(
        False, "--wait", help="Wait until each is Running (or has ended); exit 1 if any Failed."
    ),
    wait_timeout: float | None = typer.Option(
        None, "--wait-timeout", metavar="S", help="Give up waiting after S seconds (exit 1)."
    ),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Create sessions; print their ids.

    Prints the new ids one per line (JSON: id and name of each). Each replica gets REPLICA_ID
    (1-based) and REPLICA_COUNT in its environment. The job gets CMD and each ARG exactly as
    given (spaces and $ included; --dry-run shows its argv). Input the server would reject or
    silently mangle (", \\, line breaks, fractional -c/-m) is refused before anything is sent
    (exit 2).

    \b
    Examples:
      canfar create headless images.canfar.net/skaha/terminal:1.1.1 -- echo hello
      canfar create headless skaha/terminal:1.1.1 -r 10 -n fit -e SEED=42 --wait -- python fit.py
      canfar create notebook images.canfar.net/skaha/astroml:latest -c 4 -m 16
      canfar create headless skaha/terminal:1.1.1 --dry-run -- echo hi
      canfar create headless skaha/terminal:1.1.1 -- bash -c 'make all && ./run'
    """
    from canfar_cli.models import check_replicas

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    check_replicas(replicas)  # before a default name is made for every replica
    variables = parse_env(env or [], env_file)
    cmd, args = (command[0], command[1:]) if command else (None, None)
    if wait_timeout is not None and not wait:
        raise UsageError("--wait-timeout needs --wait")
    if wait_timeout is not None and not wait_timeout > 0:  # also refuses nan (waits forever)
        raise UsageError("--wait-timeout must be more than 0 seconds")

    options: dict[str, Any] = {
        "kind": kind.value,
        "gpu": gpus,
        "cmd": cmd,
        "args": args or None,
        "env": variables or None,
        "replicas": replicas,
    }
    if cores is not None:
        options["cores"] = int(cores) if cores.is_integer() else cores
    if ram is not None:
        options["ram"] = int(ram) if ram.is_integer() else ram

    async def choose_name(session: Any) -> str:
        if name is not None:
            return name
        from canfar_cli.models import check_image

        stem = name_from_image(check_image(image))
        taken = {str(s.get("name", "")) for s in await session.fetch()}
        return unique_name(stem, taken, replicas)

    if dry_run:

        async def plan(session: Any) -> list[Any]:
            import inspect

            result = session.plan_create(await choose_name(session), image, **options)
            return await result if inspect.isawaitable(result) else result

        plans = state.run(plan)
        if fmt == "json":
            out.json(plan_json(plans))
        else:
            out.write(render_plan(plans))
        out.message(f"dry run: {len(plans)} request(s) shown, nothing sent")
        return

    async def launch(session: Any) -> int:
        from canfar_cli.cli.present import report_failures

        outcomes = await session.create_each(await choose_name(session), image, **options)
        created = [outcome for outcome in outcomes if outcome.ok]
        if fmt == "json":
            out.json([{"id": o.value, "name": o.key} for o in created])
        else:
            out.ids(str(o.value) for o in created)  # before waiting: no id is ever lost
        code = report_failures(out, outcomes)
        if wait and created:
            await _wait(out, session, [str(o.value) for o in created], wait_timeout)
        return code

    from canfar_cli.cli.present import exit_with

    exit_with(state.run(launch))


async def _wait(out: Any, session: Any, ids: list[str], timeout: float | None) -> None:
    """Poll until every session is Running or has ended; progress on stderr."""
    from collections import Counter

    from canfar_cli.models import normalize_status

    last: list[str] = [""]

    def summary(sessions: list[dict[str, Any]]) -> str:
        from canfar_cli.output import printable

        # Server text, shown on a live display: control characters made visible, never obeyed.
        counts = Counter(printable(normalize_status(str(s.get("status", "?")))) for s in sessions)
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"waiting for {len(ids)} session(s): {parts}"

    with out.live() as update:
        live = out.live_allowed()

        def on_update(sessions: list[dict[str, Any]]) -> None:
            text = summary(sessions)
            if live:
                update(text)
            elif text != last[0]:  # no terminal: one plain line per change
                out.message(text)
            last[0] = text

        sessions = await session.wait(ids, timeout=timeout, on_update=on_update)
    failed = [s for s in sessions if normalize_status(str(s.get("status", ""))) == "Failed"]
    out.message(summary(sessions).replace("waiting for", "done:"))
    if failed:
        first = failed[0].get("id")
        raise JobFailedError(
            f"{len(failed)} of {len(ids)} session(s) Failed: "
            + ", ".join(str(s.get("id")) for s in failed),
            hint=f"`canfar logs {first}` and `canfar events {first}` may say why",
        )


def register(app: typer.Typer) -> None:
    # Extra arguments after `--` belong to the job, so options there must not be parsed.
    app.command("create")(create)
