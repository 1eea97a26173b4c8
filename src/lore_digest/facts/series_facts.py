"""Everything computed about one series in one report: revisions, changes, trailers, status."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from lore_digest.facts.attribution import PatchTrailers, attribute_trailers, series_patches
from lore_digest.facts.bots import BotFinding, bot_findings
from lore_digest.facts.changelog import changelog_for_version
from lore_digest.facts.landed import PullPatch
from lore_digest.facts.model import MailFacts
from lore_digest.facts.revisions import RevisionChain
from lore_digest.facts.status import Appliers, PullInfo, StatusFacts, series_status
from lore_digest.mail.patch_files import touched_files

AppliersFor = Callable[[Sequence[str]], Appliers]
"""Who may apply a series touching these files (the report's trust rule)."""
PulledFor = Callable[[Sequence[MailFacts], int | None], Sequence[tuple[int, PullPatch]]]
"""Which of these patches (numbered) a maintainer carried in a pull request sent before
the given date (None: the report's end)."""


@dataclass(frozen=True, slots=True)
class RevisionRef:
    """One posted version of a series."""

    version: int
    message_id: str
    date_utc: int
    subject: str


@dataclass(frozen=True, slots=True)
class PatchMerge:
    """Where one patch of the series landed: a commit of a maintainer's tree."""

    number: int
    message_id: str
    tree: str  # the tree's label, "kvmarm.git@next"
    branch: str
    commit: str  # full sha
    how: str  # "link" | "patch-id" | "subject": the rule that matched it

    @property
    def text(self) -> str:
        """ "patch 2: kvmarm.git@next 1a2b3c4d5e6f (link)"."""
        return f"patch {self.number}: {self.tree} {self.commit[:12]} ({self.how})"


@dataclass(frozen=True, slots=True)
class SeriesFacts:
    """The facts a maintainer wants about one series, each traceable to a mail."""

    version: int
    total: int | None
    is_rfc: bool
    prefixes: tuple[str, ...]
    author_name: str
    author_email: str
    cover_message_id: str | None
    first_message_id: str  # the cover letter, else patch 1
    posted_utc: int
    revisions: tuple[RevisionRef, ...]  # every known version, oldest first, current last
    superseded_by: RevisionRef | None
    changes: str | None  # the cover letter's changelog for this version
    status: StatusFacts  # status, evidence, applied, changes requested, NAKs, reviewed
    patches: tuple[PatchTrailers, ...]
    files: tuple[str, ...] = ()  # every file the current version touches, sorted
    bot_findings: tuple[BotFinding, ...] = ()  # what robots said (never review)
    appliers_rule: str | None = None  # "maintainers" or "learned": who may apply
    merged: tuple[PatchMerge, ...] = ()  # patches found in the configured trees
    not_in_tree: str | None = None  # "applied in mail, not found in TREE after N days"

    @property
    def merge_state(self) -> str | None:
        """ "merged" (every patch in a tree), "partly merged (3/5)", or None."""
        found = {m.number for m in self.merged}
        if not found:
            return None
        if len(found) >= len(self.patches):
            return "merged"
        return f"partly merged ({len(found)}/{len(self.patches)})"

    @property
    def earlier_revisions(self) -> tuple[RevisionRef, ...]:
        """Versions before the current one."""
        return self.revisions[:-1]

    @property
    def patches_without_review(self) -> tuple[int, ...]:
        """Numbers of patches with no Reviewed-by/Acked-by/Tested-by yet."""
        return tuple(p.number for p in self.patches if not p.reviewed)


def current_version(mails: Sequence[MailFacts]) -> int | None:
    """Highest version posted in the thread (v2 is sometimes sent in reply to v1)."""
    versions = [m.subject.version for m in mails if m.subject.is_patch and not m.subject.is_reply]
    return max(versions) if versions else None


@lru_cache(maxsize=8192)
def mail_files(mail: MailFacts) -> tuple[str, ...]:
    """Files one mail's diff and diffstat touch (read once per mail: a site builds a
    series' thread for many weeks)."""
    return touched_files(mail.segments)


def series_files(cover: MailFacts | None, patches: Sequence[MailFacts]) -> tuple[str, ...]:
    """Files a series touches: its patches' diffs, else the cover letter's diffstat."""
    found = {path for patch in patches for path in mail_files(patch)}
    if not found and cover is not None:
        found.update(mail_files(cover))
    return tuple(sorted(found))


def build_series_facts(
    mails: Sequence[MailFacts],
    chain: RevisionChain | None,
    until_utc: int,
    appliers_for: AppliersFor | None = None,
    pulled_for: PulledFor | None = None,
) -> SeriesFacts | None:
    """Series facts of a thread's mail (dated before `until_utc`); None if it is no series.

    `appliers_for` says who may apply; None trusts everyone (tests of phrase rules).
    `pulled_for` finds the patches carried in a maintainer's pull request. For a
    superseded revision only pulls sent before its successor count: later ones carry
    the successor's patches, which share their titles.
    """
    version = current_version(mails)
    if version is None:
        return None
    cover, patches = series_patches(mails, version)
    first = cover or (patches[0] if patches else None)
    if first is None:
        return None
    superseded = (
        RevisionRef(
            chain.newer.version, chain.newer.message_id, chain.newer.date_utc, chain.newer.subject
        )
        if chain is not None and chain.newer is not None
        else None
    )
    files = series_files(cover, patches)
    appliers = appliers_for(files) if appliers_for is not None else None
    status = series_status(
        mails,
        author_email=first.from_email,
        superseded_by=superseded.message_id if superseded else None,
        until_utc=until_utc,
        appliers=appliers,
        revision_ids=revision_ids(mails, version, first),
        total=first.subject.total,
        pulled=pulled_for(patches, superseded.date_utc if superseded else None)
        if pulled_for is not None
        else (),
    )
    earlier = (
        [RevisionRef(r.version, r.message_id, r.date_utc, r.subject) for r in chain.earlier]
        if chain is not None
        else []
    )
    current = RevisionRef(version, first.message_id, first.date_utc, first.subject.subject)
    return SeriesFacts(
        version=version,
        total=first.subject.total,
        is_rfc=first.subject.is_rfc,
        prefixes=first.subject.extra_prefixes,
        author_name=first.from_name,
        author_email=first.from_email,
        cover_message_id=cover.message_id if cover else None,
        first_message_id=first.message_id,
        posted_utc=first.date_utc,
        revisions=(*earlier, current),
        superseded_by=superseded,
        changes=changelog_for_version("\n".join(s.text for s in cover.segments), version)
        if cover is not None and version > 1
        else None,
        status=status,
        patches=tuple(attribute_trailers(mails, version)),
        files=files,
        bot_findings=bot_findings([m for m in mails if m.date_utc < until_utc]),
        appliers_rule=appliers.rule if appliers is not None else None,
    )


def revision_ids(mails: Sequence[MailFacts], version: int, first: MailFacts) -> frozenset[str]:
    """The postings of one revision in the thread: its cover letter and patches.

    A patch of the same version from someone else is another series posted inside the
    thread (a reviewer's counter-proposal), not part of this revision. A [GIT PULL]
    mail the patches were sent under belongs to them: its "Pulled" is their fate.
    """
    author = first.from_email.lower()
    return frozenset(
        m.message_id
        for m in mails
        if not m.subject.is_reply
        and m.from_email.lower() == author
        and (m.subject.is_pull or (m.subject.is_patch and m.subject.version == version))
    ) | {first.message_id}


def thread_status(
    mails: Sequence[MailFacts], until_utc: int, appliers_for: AppliersFor | None = None
) -> StatusFacts:
    """Status of a non-series thread (a pull request, mostly).

    A thread whose first archived mail is a reply lost its posting: its sender is a
    reviewer, not the author, so the author is left unknown.
    """
    root = next((m for m in mails if m.parent_id is None), mails[0])
    appliers = appliers_for(mail_files(root)) if appliers_for is not None else None
    author = "" if root.subject.is_reply else root.from_email
    return series_status(mails, author_email=author, until_utc=until_utc, appliers=appliers)


__all__ = [
    "AppliersFor",
    "PatchMerge",
    "PullInfo",
    "RevisionRef",
    "SeriesFacts",
    "build_series_facts",
    "mail_files",
    "revision_ids",
    "series_files",
    "thread_status",
]
