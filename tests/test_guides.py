"""The guides ship with the package, and every hint that cites one names a real guide."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import headwater
from headwater import guides
from headwater.cli import app
from headwater.errors import HeadwaterError

PACKAGE = Path(headwater.__file__).parent
ROOT = PACKAGE.parent
CITED = re.compile(r"headwater guide ([\w-]+)(?: ([a-z][\w-]*))?")


def sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")}


def test_every_guide_a_hint_cites_exists() -> None:
    cited = {(match[1], match[2]) for text in sources().values() for match in CITED.finditer(text)}
    assert ("project-file", "load-strategies") in cited
    for topic, section in cited:
        assert guides.read(topic, section).strip(), (topic, section)


def test_no_hint_points_to_a_file_an_installed_package_lacks() -> None:
    pointing = {
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path, text in sources().items()
        for line in text.splitlines()
        if re.search(r"(hint=|Reference:).*docs/[\w-]+\.md", line)
    }
    assert pointing == set()


def test_a_section_is_read_up_to_the_next_heading_of_its_level() -> None:
    text = guides.read("project-file", "load-strategies")
    assert text.startswith("## Load strategies\n")
    assert "\n## " not in text
    full = (ROOT / "docs" / "project-file.md").read_text(encoding="utf-8")
    assert text.rstrip() in full
    with pytest.raises(HeadwaterError, match="the guide `quality` has no section `nope`"):
        guides.read("quality", "nope")
    with pytest.raises(HeadwaterError, match="no guide `nope`"):
        guides.read("nope")


def test_the_guide_command() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["guide"])
    assert listed.exit_code == 0
    assert set(guides.topics()) == {p.stem for p in (ROOT / "docs").glob("*.md")}
    for name in guides.topics():
        assert name in listed.output
    read = runner.invoke(app, ["guide", "project-file", "load-strategies"])
    assert read.exit_code == 0
    assert read.output == guides.read("project-file", "load-strategies")
    missing = runner.invoke(app, ["guide", "nope"])
    assert missing.exit_code == 1
    assert missing.output.startswith("error: no guide `nope`\nhint: the guides are: architecture")


@pytest.mark.slow
def test_the_wheel_carries_the_guides(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path(ROOT / ".venv" / "bin" / "uv"))
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("headwater-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"headwater/_docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= names
