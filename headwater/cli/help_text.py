"""Command help as written in docstrings, shown with its prose re-flowed by the terminal.

Typer keeps the line breaks of a docstring's later paragraphs, so help wrapped at 100
characters in the source broke mid-sentence in a narrower terminal. Prose lines are joined
here; examples (indented), lists and aligned tables keep their lines.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer


def unwrap(doc: str) -> str:
    """``doc`` with each paragraph's prose lines joined into one line."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.split("\n"):
            if lines and _prose(lines[-1]) and _prose(line) and not lines[-1].endswith(":"):
                lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _prose(line: str) -> bool:
    """A line of running text: not indented (an example), not a list item, not aligned
    columns (two spaces inside), not Click's no-rewrap marker."""
    text = line.strip()
    return (
        bool(text)
        and not line[0].isspace()
        and "  " not in text
        and not text.startswith(("-", "*", "\b"))
    )


class Typer(typer.Typer):
    """typer.Typer whose commands show their docstrings re-flowed (:func:`unwrap`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().command(*args, **kwargs)

        def unwrapped(function: Callable[..., Any]) -> Any:
            if function.__doc__:
                function.__doc__ = unwrap(function.__doc__)
            return register(function)

        return unwrapped
