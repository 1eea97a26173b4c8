"""The documentation keeps up with the code: every command and every option is in
docs/usage.md, every package of the pipeline in docs/design.md, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lore_digest.cli import cli
from test_architecture import LAYERS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_and_option_is_documented(name: str) -> None:
    usage = (ROOT / "docs" / "usage.md").read_text("utf-8")
    assert f"`{name}" in usage, f"`lore-digest {name}` is not in docs/usage.md"
    command = cli.commands[name]
    for param in command.params:
        for option in getattr(param, "opts", []):
            if option.startswith("--") and option not in ("--help",):
                documented = option in usage or option in (ROOT / "docs" / "llm.md").read_text()
                assert documented, f"{name} {option} is not in docs/usage.md"


def test_every_unit_of_the_pipeline_is_in_the_design_page() -> None:
    design = (ROOT / "docs" / "design.md").read_text("utf-8")
    for units in LAYERS:
        for unit in units:
            if unit.startswith("__"):
                continue
            assert f"`{unit}" in design, f"{unit} is not described in docs/design.md"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text("utf-8")
    for target in _LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
