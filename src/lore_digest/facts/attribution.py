"""Which patch each trailer belongs to (b4's rules for follow-up trailers).

A trailer given in a reply is attributed by climbing the reply's parents to the first
patch or cover letter of the series; one given on the cover letter counts for every
patch. Trailers already present in a patch (carried over from an earlier revision) are
kept too, attributed to that patch, since b4 applies them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lore_digest.facts.model import MailFacts
from lore_digest.mail.trailers import Trailer, parse_trailers_from_segments
from lore_digest.vocabulary import REVIEW_TRAILERS


@dataclass(frozen=True, slots=True)
class GivenTrailer:
    """A trailer and the mail it was given in."""

    kind: str
    name: str
    email: str
    value: str
    message_id: str
    via_cover: bool  # given on the cover letter, so it counts for every patch
    differs_from_sender: bool  # the trailer names someone else than the mail's sender
    sent_by_name: str = ""  # who sent the mail that carries it
    sent_by_email: str = ""

    @property
    def credited(self) -> bool:
        """Whether the named person may be credited with it.

        A reply's trailer naming someone other than its sender is a claim about that
        person ("Reviewed-by: Marc" sent by Mallory): shown as "Marc, sent by Mallory",
        never counted for Marc. Trailers carried inside a patch are the author's record
        of earlier reviews (b4 keeps them), credited as such.
        """
        return not self.differs_from_sender


@dataclass(frozen=True, slots=True)
class PatchTrailers:
    """One patch of the series and the trailers it collected."""

    number: int
    subject: str
    message_id: str
    trailers: tuple[GivenTrailer, ...]

    @property
    def reviewed(self) -> bool:
        """Whether any Reviewed-by / Acked-by / Tested-by applies to this patch."""
        return any(t.kind in REVIEW_TRAILERS and t.credited for t in self.trailers)


def series_patches(
    mails: Sequence[MailFacts], version: int
) -> tuple[MailFacts | None, list[MailFacts]]:
    """(cover letter, patches by number) of one version of the series among `mails`."""
    cover: MailFacts | None = None
    patches: dict[int, MailFacts] = {}
    for mail in mails:
        s = mail.subject
        if s.is_reply or not s.is_patch or s.version != version:
            continue
        if s.is_cover:
            cover = cover or mail
        else:
            number = s.counter or 1
            patches.setdefault(number, mail)
    return cover, [patches[n] for n in sorted(patches)]


def _given(trailer: Trailer, mail: MailFacts, via_cover: bool, in_patch: bool) -> GivenTrailer:
    return GivenTrailer(
        kind=trailer.kind,
        name=trailer.name,
        email=trailer.email,
        value=trailer.value,
        message_id=mail.message_id,
        via_cover=via_cover,
        differs_from_sender=not in_patch
        and (
            trailer.email.lower() != mail.from_email.lower()
            if trailer.email
            else trailer.name.strip().lower() != mail.from_name.strip().lower()
        ),
        sent_by_name=mail.from_name,
        sent_by_email=mail.from_email,
    )


def attribute_trailers(mails: Sequence[MailFacts], version: int) -> list[PatchTrailers]:
    """Per patch of `version`, the trailers it carries and those given in replies."""
    cover, patches = series_patches(mails, version)
    by_id = {m.message_id: m for m in mails}
    targets = {p.message_id: p for p in patches}
    collected: dict[str, list[GivenTrailer]] = {p.message_id: [] for p in patches}
    for patch in patches:
        for trailer in parse_trailers_from_segments(list(patch.segments)):
            collected[patch.message_id].append(_given(trailer, patch, False, True))
    for mail in mails:
        if _is_posting(mail):
            continue  # patches and covers (of any revision) are not follow-ups
        trailers = parse_trailers_from_segments(list(mail.segments))
        if not trailers:
            continue
        target = _climb(mail, by_id, set(targets), cover.message_id if cover else None)
        if target is None:
            continue
        receivers = list(targets) if target == "cover" else [target]
        for trailer in trailers:
            given = _given(trailer, mail, target == "cover", False)
            for patch_id in receivers:
                collected[patch_id].append(given)
    return [
        PatchTrailers(
            number=p.subject.counter or 1,
            subject=p.subject.subject,
            message_id=p.message_id,
            trailers=tuple(_dedupe(collected[p.message_id])),
        )
        for p in patches
    ]


def _climb(
    mail: MailFacts, by_id: dict[str, MailFacts], patch_ids: set[str], cover_id: str | None
) -> str | None:
    """Patch id (or "cover") a reply answers, following parents; None if neither.

    Climbing stops at the first posting (patch or cover letter): a reply to another
    revision's patch belongs to that revision, even when it was sent in this thread.
    """
    seen: set[str] = set()
    node = mail.parent_id
    while node is not None and node not in seen:
        if node in patch_ids:
            return node
        if node == cover_id:
            return "cover"
        seen.add(node)
        parent = by_id.get(node)
        if parent is None or _is_posting(parent):
            return None
        node = parent.parent_id
    return None


def _is_posting(mail: MailFacts) -> bool:
    """A patch or cover letter as sent (not a reply to one)."""
    return mail.subject.is_patch and not mail.subject.is_reply


def _dedupe(trailers: list[GivenTrailer]) -> list[GivenTrailer]:
    """One trailer per (kind, person): the first mail that gave it wins."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for t in trailers:
        key = (t.kind, t.email or t.value, t.name if not t.email else "")
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out
