"""`--help` shows each command's prose re-flowed to the terminal, never broken mid-sentence."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.cli.help_text import unwrap


def test_prose_is_joined_and_examples_lists_and_tables_keep_their_lines() -> None:
    doc = """First line
        goes on.

        A paragraph wrapped
        in the source, ending:
          headwater run x --var a=b
          headwater run y
        - an item
        - another item
        GET  /v1/tables   the tables
        POST /v1/query    SQL
        """
    assert unwrap(doc) == (
        "First line goes on.\n\n"
        "A paragraph wrapped in the source, ending:\n"
        "  headwater run x --var a=b\n"
        "  headwater run y\n"
        "- an item\n"
        "- another item\n"
        "GET  /v1/tables   the tables\n"
        "POST /v1/query    SQL"
    )


@pytest.mark.parametrize(
    ("command", "sentence"),
    [
        (
            ["run"],
            "Each source table loads by its strategy (full, append, incremental, merge, scd2); "
            "a load that finds nothing new commits nothing (`full` always publishes what it read).",
        ),
        (
            ["serve"],
            "With `serve: {tokens: [...]}` in headwater.yaml, every request needs "
            "`Authorization: Bearer <token>` (the Kinesis API: the token as aws_access_key_id).",
        ),
    ],
)
def test_help_paragraphs_flow_as_one_line_on_a_wide_terminal(
    command: list[str], sentence: str
) -> None:
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert sentence in [line.strip() for line in shown.output.splitlines()]
