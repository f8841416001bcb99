"""The guide command: the project's guides, read in the terminal wherever Headwater is installed."""

from __future__ import annotations

from typing import Annotated

import typer

from headwater.cli.app import app, consoles, handles_errors


@app.command()
@handles_errors
def guide(
    topic: Annotated[
        str | None, typer.Argument(help="A guide, e.g. project-file; none: list them.")
    ] = None,
    section: Annotated[
        str | None,
        typer.Argument(help="Only this section, as its heading's words joined by `-`."),
    ] = None,
) -> None:
    """Read a guide: the project file, ingestion, quality, orchestration, serving…

    Error hints point here, so the text is at hand on any machine Headwater is installed on.

    Examples:
      headwater guide
      headwater guide project-file load-strategies
      headwater guide quality | less
    """
    from rich.markdown import Markdown
    from rich.table import Table

    from headwater import guides

    out, _ = consoles()
    if topic is None:
        table = Table("guide", "about", box=None, show_edge=False)
        for name, title in guides.topics().items():
            table.add_row(name, title)
        out.print(table)
        return
    text = guides.read(topic, section)
    if out.is_terminal:
        out.print(Markdown(text))
    else:  # piped: the Markdown itself, unwrapped, to read or search
        typer.echo(text, nl=False)
