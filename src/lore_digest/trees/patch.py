"""A posted patch as the tree matcher sees it: Message-ID, author, title and diff.

`patch_from_mail` reads them from raw mail as `git am` would: the author and subject of
the commit are those of the in-body `From:`/`Subject:` lines at the top of the body when
there are any (a patch sent on behalf of its author), else those of the mail; the title
is the subject without its `[PATCH v2 3/7]` prefixes; the diff is every diff segment of
the body (the commit message, diffstat and signature around it are no part of it).
"""

from __future__ import annotations

from dataclasses import dataclass

from lore_digest.mail.body import split_body
from lore_digest.mail.headers import in_body_headers, parse_from, parse_headers
from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import parse_subject


@dataclass(frozen=True, slots=True)
class PatchToMatch:
    """One posted patch: subject is its title (no `[PATCH …]`), diff the mail's diff text."""

    message_id: str
    author_email: str
    author_name: str
    subject: str
    diff: str


def patch_from_mail(raw: bytes) -> PatchToMatch:
    """The patch a raw mail posts (its diff '' when it holds none)."""
    headers = parse_headers(raw)
    text = message_text(raw).text
    name, email, subject = headers.from_name, headers.from_email, headers.subject
    for field, value in in_body_headers(text):
        if field == "from":
            name, email = parse_from(value)
        elif field == "subject":
            subject = value
    diffs = [segment.text for segment in split_body(text) if segment.kind == "diff"]
    return PatchToMatch(
        message_id=headers.message_id,
        author_email=email,
        author_name=name,
        subject=parse_subject(subject).title,
        diff="\n".join(diffs) + "\n" if diffs else "",
    )
