"""The guides (the Markdown files of ``docs/``), as an installed package holds them.

The wheel carries them as ``headwater/_docs`` (pyproject.toml), so an error's hint can say
``headwater guide project-file load-strategies`` and the text is there on any machine; a
source checkout reads ``docs/`` itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from headwater.errors import HeadwaterError


def folder() -> Path:
    """Where the guides are: inside the installed package, else the checkout's docs/."""
    installed = Path(__file__).with_name("_docs")
    return installed if installed.is_dir() else Path(__file__).parents[1] / "docs"


def topics() -> dict[str, str]:
    """Each guide's name (its file name without ``.md``) → its title."""
    out = {}
    for path in sorted(folder().glob("*.md")):
        first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
        out[path.stem] = first.lstrip("#").strip()
    return out


def read(topic: str, section: str | None = None) -> str:
    """The guide ``topic``, or only its section whose heading reads as ``section`` (the
    heading's words in lower case joined by ``-``, as Markdown anchors are)."""
    known = topics()
    if topic not in known:
        raise HeadwaterError(f"no guide `{topic}`", hint=f"the guides are: {', '.join(known)}")
    text = (folder() / f"{topic}.md").read_text(encoding="utf-8")
    if section is None:
        return text
    headings = list(re.finditer(r"^(#{1,6}) (.+)$", text, flags=re.M))
    for i, heading in enumerate(headings):
        if slug(heading[2]) != slug(section):
            continue
        level = len(heading[1])
        end = next((h.start() for h in headings[i + 1 :] if len(h[1]) <= level), len(text))
        return text[heading.start() : end].rstrip() + "\n"
    sections = ", ".join(slug(h[2]) for h in headings if len(h[1]) == 2)
    raise HeadwaterError(
        f"the guide `{topic}` has no section `{section}`", hint=f"its sections: {sections}"
    )


def slug(heading: str) -> str:
    """A heading as its Markdown anchor: ``Load strategies`` → ``load-strategies``."""
    words = re.sub(r"[^\w\s-]", "", heading.lower()).split()
    return "-".join(words)
