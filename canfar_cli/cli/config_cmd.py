"""`canfar config path|show|get|set|unset`: the small TOML config file (never prints a secret)."""

from __future__ import annotations

from enum import Enum

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of

# The keys of canfar_cli.config.KEYS (a test keeps them equal); an Enum so help and completion
# can offer them without importing the config module at start-up.
CONFIG_KEYS = (
    "server",
    "token",
    "token_file",
    "certificate",
    "timeout",
    "concurrency",
    "poll_interval",
    "platform",
    "ca_bundle",
    "registry_cadc",
    "registry_srcnet",
    "oidc_issuer_srcnet",
    "registry_user",
    "registry_secret_file",
)
Key = Enum("Key", {key: key for key in CONFIG_KEYS}, type=str)  # type: ignore[misc]

config_app = typer.Typer(
    help=(
        "Read and change the config file.\n\n"
        "Precedence: flag > environment > config file > default."
    ),
    no_args_is_help=True,
)

KEY_HELP = "One of: " + ", ".join(CONFIG_KEYS) + "."


@config_app.command("path")
def config_path_cmd(ctx: typer.Context) -> None:
    """Print where the config file lives (it may not exist yet).

    \b
    Example:
      canfar config path
    """
    from canfar_cli.config import config_path

    state_of(ctx).out.write(f"{config_path()}\n")


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Print the settings in the config file; secrets are shown as <hidden>.

    \b
    Example:
      canfar config show
      canfar config show --json
    """
    from canfar_cli.config import read_config, redacted

    out = state_of(ctx).out
    values = redacted(read_config())
    if resolve_format(output, as_json) == "json":
        out.json(values)
        return
    if not values:
        out.message("the config file sets nothing (see `canfar config path`)")
        return
    for key, value in sorted(values.items()):
        out.write(f"{key} = {value}\n")


@config_app.command("get")
def config_get(
    ctx: typer.Context,
    key: Key = typer.Argument(..., metavar="KEY", help=KEY_HELP),
) -> None:
    """Print one setting from the config file (exit 4 when it is not set). A secret prints as
    <hidden>.

    \b
    Example:
      canfar config get server
    """
    from canfar_cli.config import read_config, redacted
    from canfar_cli.errors import NotFoundError

    values = read_config()
    if key.value not in values:
        raise NotFoundError(f"{key.value} is not set in the config file", status=404)
    state_of(ctx).out.write(f"{redacted(values)[key.value]}\n")


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Key = typer.Argument(..., metavar="KEY", help=KEY_HELP),
    value: str = typer.Argument(..., help="The value (checked before it is written)."),
) -> None:
    """Set one setting in the config file (written atomically, mode 0600).

    \b
    Examples:
      canfar config set server https://ws-uv.canfar.net/skaha
      canfar config set server local
      canfar config set concurrency 64
    """
    from canfar_cli.config import set_value

    path = set_value(key.value, value)
    state_of(ctx).out.message(f"{key.value} set in {path}")


@config_app.command("unset")
def config_unset(
    ctx: typer.Context,
    key: Key = typer.Argument(..., metavar="KEY", help=KEY_HELP),
) -> None:
    """Remove one setting from the config file.

    \b
    Example:
      canfar config unset token
    """
    from canfar_cli.config import unset_value

    path = unset_value(key.value)
    state_of(ctx).out.message(f"{key.value} removed from {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
