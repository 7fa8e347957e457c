"""The `skyfence` command: wiring only; the work is done by the modules it calls.

One module per command (or group), and this table of them: adding a command is one module and
one line below. Every command imports what it needs when it runs: `skyfence --help` and
`zones list` must not pay for numpy, pyarrow, the web server, matplotlib or Spark
(tests/test_cli_startup.py).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from skyfence.cli import audit, config, demo, interference, records, serve, watch, zonesets
from skyfence.cli.common import console

ABOUT = (
    "skyfence: watch restricted airspace in ADS-B traffic; explain and record every "
    "incursion. It never guides an interception."
)


# typer prints a value's type as its Python name in angle brackets (`<path>`, `<str>`, and
# `<boolean>` after a flag); a parameter without a metavar of its own gets the word click prints
WORDS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "boolean": ""}


def _word(param: Any) -> str:
    name = str(param.type.name)
    return WORDS.get(name, name.upper())


def _worded(kind: Any, word: str) -> Any:
    """A copy of an argument's type that says `word`: the type column of an argument ignores
    its metavar (`config check` showed <path> beside FILE)."""
    worded = copy.copy(kind)
    worded.get_metavar = lambda param, ctx: word
    worded.worded = True
    return worded


def _plain(params: list[Any], ctx: Any) -> list[Any]:
    for param in params:
        if isinstance(param, TyperArgument) and not getattr(param.type, "worded", False):
            if param.type.get_metavar(param=param, ctx=ctx) is None:
                param.type = _worded(param.type, _word(param))
            many = "..." if param.nargs != 1 else ""
            param.metavar = param.metavar or (param.name or "value").upper() + many
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _word(param)  # a flag takes no value
    return params


def _given_once(command: TyperCommand, ctx: Any, args: list[str]) -> None:
    """An option that takes one value, given twice, is refused: click keeps the last silently,
    so `watch -o a.jsonl -o b.csv` wrote no a.jsonl, and a second `--store` or `--config` hid
    the first. Flags (`--web --no-web`) and repeatable options are not concerned."""
    if ctx.resilient_parsing:
        return
    _, _, order = command.make_parser(ctx).parse_args(args=list(args))  # errors: as the parse's
    for param in dict.fromkeys(order):
        if not isinstance(param, TyperOption) or param.multiple or param.is_flag or param.count:
            continue
        n = sum(p is param for p in order)
        if n > 1:  # "Invalid value for '--out' / '-o': given 2 times, ..."
            raise typer.BadParameter(
                f"given {n} times, and it takes one value: give it once", ctx, param
            )


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _given_once(self, ctx, args)
        rest = super().parse_args(ctx, args)
        for param in self.get_params(ctx):
            if ctx.params.get(param.name) is not None and _names_a_file(param):
                ctx.params[param.name] = _home(ctx.params[param.name])
        return rest


def _names_a_file(param: Any) -> bool:
    """A path, or a text that may name a file (`-z FILE|SET`, `-s URL|FILE`: no set name or
    URL starts with `~`)."""
    return _word(param) == "PATH" or "FILE" in (param.metavar or "")


def _home(value: Any) -> Any:
    """`~` as the home folder, as a shell reads it: quoted (`--store '~/events.sqlite'`) or
    from a service file that runs no shell, `--store` was refused for a missing folder `~`
    and `-o` made one in the working folder."""
    if isinstance(value, list | tuple):
        return type(value)(_home(v) for v in value)
    if isinstance(value, str | Path) and str(value).startswith("~"):
        return type(value)(os.path.expanduser(value))
    return value


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)


app = typer.Typer(help=ABOUT, no_args_is_help=True, add_completion=False, cls=_Group)
zones_app = typer.Typer(
    help="List, show, check and import zone sets.", no_args_is_help=True, cls=_Group
)
app.add_typer(zones_app, name="zones")
config_app = typer.Typer(help="Check the config file of watch.", no_args_is_help=True, cls=_Group)
app.add_typer(config_app, name="config")

# the commands: one module each, one line here
app.command(cls=_Command)(audit.audit)
app.command(cls=_Command)(watch.watch)
app.command(cls=_Command)(serve.serve)
app.command(cls=_Command)(demo.demo)
app.command(cls=_Command)(records.report)
app.command(cls=_Command)(records.export)
app.command(cls=_Command)(interference.interference)
zones_app.command("list", cls=_Command)(zonesets.zones_list)
zones_app.command("show", cls=_Command)(zonesets.zones_show)
zones_app.command("check", cls=_Command)(zonesets.zones_check)
zones_app.command("import", cls=_Command)(zonesets.zones_import)
zones_app.command("import-openair", hidden=True, cls=_Command)(zonesets.zones_import_openair)
config_app.command("check", cls=_Command)(config.config_check)


def _print_version(value: bool) -> None:
    if value:
        import skyfence

        console.print(f"skyfence {skyfence.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """skyfence: watch restricted airspace in ADS-B traffic; explain and record every
    incursion. It never guides an interception."""
