"""Which parts of the tree a series touches, by name: what readers filter a week by.

A maintainer looks for "VGIC" or "KVM/arm64", not for a list of paths. The names come,
in this order of preference, from

- the list's configured path groups (config `path_groups = {VGIC =
  ["arch/arm64/kvm/vgic/"]}`), matched with the kernel's MAINTAINERS pattern rules
  (`dir/` is everything below, `*` never crosses a `/`);
- the MAINTAINERS file (`--maintainers`): for each file the title of the most specific
  section covering it (KVM/arm64 for arch/arm64/kvm/, not also ARM64 PORT), catch-alls
  such as THE REST left out;
- else the files' directories, cut to three levels ("arch/arm64/kvm",
  "tools/testing/selftests"), the one with most files first.

Computed from the files the series' patches touch (`SeriesFacts.files`), so it is a
fact of the mail, like the status; a thread that is no series (a pull request, a
question) touches no file and so no subsystem. With a MAINTAINERS file, a file only
THE REST covers names nothing (another project's: kvm-unit-tests, kvmtool).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

from lore_digest.facts.maintainers import Maintainers, Section

__all__ = ["DIRECTORY_LEVELS", "MAX_SUBSYSTEMS", "Subsystems", "matches"]

DIRECTORY_LEVELS: Final = 3
# Names shown per thread (a tree-wide cleanup touches dozens); filters and the JSON
# see them all.
MAX_SUBSYSTEMS: Final = 4


class Subsystems:
    """Files -> subsystem names for one list (see the module docstring for the rules)."""

    def __init__(
        self,
        groups: Mapping[str, Sequence[str]] | None = None,
        maintainers: Maintainers | None = None,
    ) -> None:
        self._groups = (
            Maintainers(
                [Section(title=name, files=tuple(patterns)) for name, patterns in groups.items()],
                source="path_groups",
            )
            if groups
            else None
        )
        self._maintainers = maintainers

    def of(self, files: Sequence[str]) -> tuple[str, ...]:
        """The names of what `files` touch, the one with most files first."""
        if not files:
            return ()
        table = self._groups or self._maintainers
        counts: Counter[str] = Counter()
        for path in files:
            if table is None:
                counts[_directory(path)] += 1
                continue
            covering = table.sections_for_files([path], catch_all=False)
            if covering:  # the most specific only: KVM/arm64, not also ARM64 PORT
                counts[covering[0].title] += 1
        return tuple(sorted(counts, key=lambda name: (-counts[name], name)))


def _directory(path: str) -> str:
    """ "arch/arm64/kvm/vgic/vgic-its.c" -> "arch/arm64/kvm"; a top-level file is itself."""
    parts = path.strip("/").split("/")
    return "/".join(parts[:-1][:DIRECTORY_LEVELS]) or parts[-1]


def matches(subsystems: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether a thread's subsystems hold one of the names asked for: case does not matter,
    and a part of a long MAINTAINERS title is enough ("KVM/arm64" finds "KERNEL VIRTUAL
    MACHINE FOR ARM64 (KVM/arm64)")."""
    have = [name.lower() for name in subsystems]
    return any(w.strip().lower() in name for w in wanted if w.strip() for name in have)
