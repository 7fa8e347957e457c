"""MkDocs build hook: the command-line reference, generated from the commands themselves.

typer renders its own Markdown (what `typer skyfence.cli utils docs` prints), with the same
vendored click that parses the command line, so the page cannot drift from `--help`. The page
`reference/cli.md` holds only the marker this hook replaces.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- skyfence-cli-reference -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    import typer
    import typer.main
    from typer.cli import get_docs_for_click

    from skyfence.cli import app

    command = typer.main.get_command(app)
    context = typer.Context(command, info_name="skyfence")
    docs = get_docs_for_click(obj=command, ctx=context, name="skyfence", title="Command line")
    return markdown.replace(MARKER, docs)
