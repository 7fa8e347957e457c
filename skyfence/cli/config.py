"""`skyfence watch --config FILE` and `skyfence config check FILE`: the file's rules live in
`skyfence.config`; here the file becomes the options' defaults, and the check is printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from skyfence.cli.common import console, fail


def read_config(ctx: typer.Context, path: Path | None) -> Path | None:
    """Eager: the file is read before the other options, and its values become their defaults
    (click's `default_map`), so a flag given on the command line wins. Nothing has started
    yet when it refuses the file."""
    if path is not None:
        from skyfence.config.file import ConfigError, read_watch_config

        path = path.expanduser()  # eager: read before the command's other paths are expanded

        try:
            config = read_watch_config(path, ctx.command)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        ctx.default_map = {**(ctx.default_map or {}), **config.defaults}
    return path


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        is_eager=True,
        callback=read_config,
        help="TOML file of these options, one key per flag (docs/reference/config.md); "
        "flags given as well win.",
    ),
]


def config_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The TOML file of watch --config.")],
) -> None:
    """Check a config file of watch without starting anything.

    Its keys and types, environment variables, zones, feed URLs, recordings, receiver
    positions and webhook URLs; every problem with its line, exit status 2.
    """
    from skyfence.config.check import check_watch_config
    from skyfence.config.file import ConfigError

    root: Any = ctx.find_root().command
    watch = root.get_command(ctx, "watch")  # its options are the file's keys
    try:
        checked = check_watch_config(file, watch)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    console.print(f"{escape(str(file))}: {escape(checked.summary)}", highlight=False)
