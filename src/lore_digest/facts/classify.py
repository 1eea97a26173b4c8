"""Thread categories, by rules on the root subject and sender (written down in the README)."""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from typing import Final

from lore_digest.mail.subject import LoreSubject
from lore_digest.vocabulary import is_pull_as_patches, is_stable_posting, is_syzbot


class Category(StrEnum):
    """Report sections, in the order they are printed."""

    PATCH = "PATCH"
    RFC = "RFC"
    PULL = "GIT PULL"
    BUG = "Bug report"
    OTHER_PROJECT = "Other projects"
    STABLE = "Stable review"
    DISCUSSION = "Question/Discussion"
    OTHER = "Other"


CATEGORY_ORDER = tuple(Category)

# Bracket prefixes (case-insensitive) that mark patches for projects other than the kernel:
# kvmarm's, the default; a list names its own (config `other_projects`, nvdimm: ndctl).
OTHER_PROJECTS = frozenset(
    {
        "kvm-unit-tests",
        "kvmtool",
        "qemu",
        "libvirt",
        "kvm-unit-test",
        "rust-vmm",
        "crosvm",
        "cloud-hypervisor",
        "edk2",
        "tf-a",
        "linux-kvm-unit-tests",
        "selftests-tools",
    }
)
# ... or open the title ("kvmtool: arm64: ...").
_OTHER_PROJECT_TITLES: Final = ("kvmtool", "kvm-unit-tests", "qemu")
_BUG_RE = re.compile(
    r"\b(BUG|WARNING|KASAN|UBSAN|KCSAN|Oops|panic|regression|general protection fault)\b[:\s]",
    re.IGNORECASE,
)
_BUG_PREFIXES = frozenset({"syzbot", "bug", "regression", "bug report"})
_DISCUSSION_PREFIXES = frozenset({"question", "discussion", "discuss", "query", "rfc discussion"})
_DISCUSSION_RE = re.compile(r"\b(question|discussion|how to|why)\b", re.IGNORECASE)


def classify(
    subject: LoreSubject,
    from_email: str,
    *,
    has_replies: bool,
    other_projects: Collection[str] | None = None,
) -> Category:
    """Category of a thread from its root message (first matching rule wins).

    `other_projects`: the list's bracket prefixes of other projects' patches (None:
    kvmarm's, OTHER_PROJECTS); a title opening with one of them counts too."""
    prefixes = {p.lower() for p in subject.extra_prefixes}
    if subject.is_pull or is_pull_as_patches(subject):
        return Category.PULL
    if is_syzbot(from_email) or prefixes & _BUG_PREFIXES:
        return Category.BUG
    if subject.is_patch:
        if is_stable_posting(subject):
            return Category.STABLE
        if other_project(subject, other_projects) is not None:
            return Category.OTHER_PROJECT
        return Category.RFC if subject.is_rfc else Category.PATCH
    if _BUG_RE.search(subject.title):
        return Category.BUG
    if subject.is_rfc:
        return Category.RFC
    if (
        prefixes & _DISCUSSION_PREFIXES
        or subject.title.rstrip().endswith("?")
        or _DISCUSSION_RE.search(subject.title)
        or (has_replies and not subject.is_reply)
    ):
        return Category.DISCUSSION
    return Category.OTHER


# Other spellings of a project's prefix: one name selects its MAINTAINERS file.
_PROJECT_ALIASES: Final = {
    "kvm-unit-test": "kvm-unit-tests",
    "linux-kvm-unit-tests": "kvm-unit-tests",
}


def project_name(name: str) -> str:
    """One name for each project's spellings, lowercased ("Kvm-Unit-Test" -> "kvm-unit-tests"):
    what other_project returns, and what a project's MAINTAINERS file is keyed by."""
    lowered = name.strip().lower()
    return _PROJECT_ALIASES.get(lowered, lowered)


def known_projects(other_projects: Collection[str] | None = None) -> frozenset[str]:
    """The other projects a list's postings can be for (`other_projects` as in classify),
    each by its project_name."""
    return frozenset(project_name(p) for p in _projects(other_projects))


def other_project(
    subject: LoreSubject, other_projects: Collection[str] | None = None
) -> str | None:
    """The other project a posting is for, lowercased ("kvm-unit-tests"), else None: its
    bracket prefix (one name for each project's spellings), or the name its title opens
    with (`other_projects` as in classify)."""
    projects = _projects(other_projects)
    for prefix in subject.extra_prefixes:
        if prefix.lower() in projects:
            return project_name(prefix)
    titles = _OTHER_PROJECT_TITLES if other_projects is None else tuple(projects)
    return next((name for name in titles if _opens_with(subject.title, (name,))), None)


def _projects(other_projects: Collection[str] | None) -> frozenset[str]:
    if other_projects is None:
        return OTHER_PROJECTS
    return frozenset(p.strip().lower() for p in other_projects if p.strip())


def _opens_with(title: str, names: Collection[str]) -> bool:
    """Whether the title opens with one of the names as a word ("kvmtool: arm64: ...")."""
    return any(re.match(rf"{re.escape(name)}\b", title, re.IGNORECASE) for name in names)
