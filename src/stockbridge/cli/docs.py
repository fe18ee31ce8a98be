"""Documents generated from the running configuration: `stockbridge docs ownership`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockbridge.cli.base import app, console, err, load
from stockbridge.config import EXAMPLE_CONFIG
from stockbridge.guide import BEGIN_MARKER, END_MARKER, render_ownership

docs_app = typer.Typer(help="Documents generated from the configuration.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")


@docs_app.command("ownership")
def docs_ownership(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML configuration (default: the example configuration)."),
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option(help="Replace the generated block of this Markdown file instead of printing."),
    ] = None,
) -> None:
    """Print the ownership matrix (data, system of record, flows, cadence) and the exception runbook
    (meaning, check, fix, owner) as Markdown, from the configuration and the exception catalogue."""
    text = render_ownership(load(config or Path(EXAMPLE_CONFIG)))
    if write is None:
        print(text, end="")
        return
    document = write.read_text(encoding="utf-8")
    start, end = document.find(BEGIN_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        err.print(f"{write}: no generated block (add the lines {BEGIN_MARKER!r} and {END_MARKER!r})")
        raise typer.Exit(2)
    updated = document[: start + len(BEGIN_MARKER)] + "\n\n" + text + "\n" + document[end:]
    write.write_text(updated, encoding="utf-8")
    console.print(f"{write}: generated block updated")
