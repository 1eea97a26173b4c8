"""The shape of the code: imports go one way along the pipeline, and never in a circle.

    source → store → threads → facts → summaries → report → renderers / delivery

Each package (or top-level module) of lore_digest has a layer below; it may import
its own layer and the layers before it, never a later one. Every import counts, also
those inside functions and under TYPE_CHECKING: a cycle that only bites at run time is
still a cycle a newcomer has to untangle. docs/design.md shows the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lore_digest"

# Lowest first. A unit is a subpackage (`report`) or a top-level module (`settings`).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "config", "fsutil", "version", "statefile", "templatecache"),  # plumbing
    ("mail",),  # parsing one message: headers, MIME, bodies, subjects, trailers
    ("vocabulary",),  # the domain's shared words and rules
    ("sources",),  # git, mbox, lore HTTP: raw mail and checkpoints
    ("store",),  # SQLite, the only SQL
    ("threading",),  # reply trees, series grouping
    ("ingest",),  # source → store → threads: one ingester for every source
    ("trees",),  # maintainers' git trees: commits indexed, patches matched to them
    ("facts",),  # revisions, trailers, status
    ("model",),  # Thread and Summary, shared by summaries and reports
    ("summarize",),  # offline and LLM prose
    ("report",),  # a week's Report and its Markdown/JSON
    ("settings",),  # the config file
    ("digest",),  # the one pipeline API: a week of a list → Report
    ("site", "deliver", "export", "channels"),  # renderers and delivery of Reports
    ("runner", "demo", "jobs"),  # unattended runs, parallel workers, the demo
    ("cli", "__main__", "__init__"),  # the command line and the package face
)
LAYER_OF = {unit: index for index, units in enumerate(LAYERS) for unit in units}


def _unit(path: Path) -> str:
    """The unit a source file belongs to."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_units(path: Path) -> set[str]:
    """Units of lore_digest that one file imports, wherever the import statement is."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "lore_digest":
                # `from lore_digest import digest` names a unit; any other name comes from
                # the package face, `__init__`, the top layer.
                names = [
                    f"lore_digest.{alias.name}" if _is_unit(alias.name) else "lore_digest.__init__"
                    for alias in node.names
                ]
        for name in names:
            parts = name.split(".")
            if parts[0] == "lore_digest" and len(parts) > 1:
                found.add(parts[1])
    return found


def _is_unit(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        graph.setdefault(unit, set()).update(_imported_units(path) - {unit})
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between units, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = 1
        stack.append(unit)
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state and (found := visit(unit)) is not None:
            return found
    return None


def test_every_unit_has_a_layer() -> None:
    unknown = sorted(set(_graph()) - set(LAYER_OF))
    assert not unknown, f"add these to LAYERS (and docs/design.md): {unknown}"


def test_no_import_cycle_between_packages() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_imports_go_one_way_along_the_pipeline() -> None:
    graph = _graph()
    unknown = sorted({t for targets in graph.values() for t in targets} - set(LAYER_OF))
    assert not unknown, f"imports of units without a layer: {unknown}"
    backwards = sorted(
        f"{unit} (layer {LAYER_OF[unit]}) imports {target} (layer {LAYER_OF[target]})"
        for unit, targets in graph.items()
        for target in targets
        if LAYER_OF[target] > LAYER_OF[unit]
    )
    assert not backwards, "imports against the pipeline:\n" + "\n".join(backwards)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set()}, None),
    ],
)
def test_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert _cycle(graph) == expected


def test_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lore_digest.report.model import Report\n"
        "def f():\n    import lore_digest.site.build\n    from lore_digest import digest\n"
    )
    assert _imported_units(source) == {"report", "site", "digest"}
    face = tmp_path / "y.py"
    face.write_text("from lore_digest import __version__, Digest\n")
    assert _imported_units(face) == {"__init__"}
