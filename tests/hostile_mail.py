"""Crafted hostile mail (as mbox bytes) for the site's escaping and layout tests.

Every field a page shows is attacked: subjects and From names carrying markup and event
handlers, a Message-ID that tries to close an attribute, bodies with javascript: links
and Markdown that an unsafe renderer would turn into links or images, RTL overrides,
and a 10,000-character subject that is one unbroken word. Each payload that could run
sets SENTINEL on window or opens a dialog, so a browser test can tell if any did.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

LIST = "hostile"
WEEK = "2024-W10"  # Monday 2024-03-04
EARLIER_WEEK = "2024-W09"
SENTINEL = "__lore_digest_pwned"
RLO = "\u202e"
LONG_SUBJECT_CHARS = 10_000

_MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
_RUN = f"window.{SENTINEL}=1"

SCRIPT = f"<script>{_RUN}</script>"
IMG = f'<img src=x onerror="{_RUN};alert(1)">'
SVG = f"<svg onload={_RUN}>"
COVER_ID = '"><svg onload=alert(1)>@x'
V1_ID = "v1'\"><script>alert(2)</script>@x"
SLASH_ID = "a/b#c?d%e&f=@x"
QUOTE_ID = 'applied"onmouseover="alert(12)\'&x@evil.example'


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _mail(
    *,
    message_id: str,
    subject: str,
    from_name: str,
    from_addr: str,
    date: datetime,
    body: str,
    in_reply_to: str | None = None,
    raw_subject: bool = False,
) -> bytes:
    """One mail; header values are written verbatim (that is the point)."""
    lines = [
        f"From {from_addr} {date.strftime('%a %b %d %H:%M:%S %Y')}",
        f"From: {from_name} <{from_addr}>",
        f"To: {LIST}@lists.example.org",
        f"Subject: {subject if raw_subject else _b64_word(subject)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <{message_id}>",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\n".join(lines).encode("utf-8")


BODY_LINKS = f"""\
This series fixes things. [click me](javascript:alert(3)) and <a href="javascript:alert(4)">here</a>
and ![tracker](http://evil.example/pixel.png) and {SCRIPT} and {IMG} and {SVG}.
A link that tries to break out: [ok](https://example.com/"onmouseover="alert(5)) and
<javascript:alert(6)> and JaVaScRiPt:alert(7) and data:text/html,<script>alert(8)</script>
and <iframe src="javascript:alert(9)"></iframe> {RLO}gnp.exe ({RLO}txt.evil).

Signed-off-by: Mallory <mallory@evil.example>
"""

REPLY_BODY = f"""\
On Mon, Mallory wrote:
> quoted {SCRIPT}

Looks wrong to me. Reviewed-by: nobody

Reviewed-by: <script>{_RUN}</script> Eve <eve@evil.example>
Tested-by: {IMG} <tester@evil.example>
"""


def hostile_mails() -> list[bytes]:
    """The crafted mails, oldest first (a v1 in EARLIER_WEEK, the rest in WEEK)."""
    d = _MONDAY
    long_subject = "Re: [PATCH v2 0/2] " + "W" * (LONG_SUBJECT_CHARS - 19)
    return [
        _mail(
            message_id=V1_ID,
            subject=f"[PATCH 0/2] {SCRIPT} KVM: arm64: evil series",
            from_name=f'"{IMG}"',
            from_addr="mallory@evil.example",
            date=d - timedelta(days=7),
            body=BODY_LINKS,
        ),
        _mail(
            message_id=COVER_ID,
            subject=f"[PATCH v2 0/2] {SCRIPT} KVM: arm64: evil series",
            from_name=f'"{IMG}"',
            from_addr="mallory@evil.example",
            date=d,
            body="Changes in v2:\n- " + SCRIPT + "\n\n" + BODY_LINKS,
        ),
        _mail(
            message_id="p1@evil.example",
            subject=f"[PATCH v2 1/2] KVM: {RLO}gnp.exe {IMG}",
            from_name=f'"{IMG}"',
            from_addr="mallory@evil.example",
            date=d + timedelta(seconds=5),
            body=f"{BODY_LINKS}\n---\ndiff --git a/x b/x\n+{SCRIPT}\n",
            in_reply_to=COVER_ID,
        ),
        _mail(
            message_id=SLASH_ID,
            subject=f"[PATCH v2 2/2] KVM: {SVG}",
            from_name=f'"{RLO}eve{SCRIPT}"',
            from_addr="mallory@evil.example",
            date=d + timedelta(seconds=9),
            body=BODY_LINKS,
            in_reply_to=COVER_ID,
        ),
        _mail(
            message_id="long@evil.example",
            subject=long_subject,
            from_name='"javascript:alert(10)"',
            from_addr="eve@evil.example",
            date=d + timedelta(hours=3),
            body=REPLY_BODY,
            in_reply_to=COVER_ID,
            raw_subject=True,
        ),
        _mail(
            message_id="long-root@evil.example",
            subject="[PATCH] " + "Y" * (LONG_SUBJECT_CHARS - 8),
            from_name='"Long Title"',
            from_addr="long@evil.example",
            date=d + timedelta(hours=5),
            body=BODY_LINKS,
            raw_subject=True,
        ),
        _mail(
            message_id="q@evil.example",
            subject=f"Question: {SCRIPT}{RLO} what about javascript:alert(11)?",
            from_name=f'"{SVG}"',
            from_addr="q@evil.example",
            date=d + timedelta(days=1),
            body=f"Why does this break? {BODY_LINKS}",
        ),
        _mail(
            message_id=QUOTE_ID,
            subject=f"Re: [PATCH v2 0/2] {SCRIPT} KVM: arm64: evil series",
            from_name="Maintainer",
            from_addr="maint@kernel.example",
            date=d + timedelta(days=2),
            body=f"Applied to next, thanks!\n\n[1/2] KVM: {SCRIPT}\n      commit: 0123456789ab\n",
            in_reply_to=COVER_ID,
        ),
    ]


def hostile_mbox() -> bytes:
    """All crafted mails as one mbox file."""
    return b"\n".join(hostile_mails())


def write_hostile_mbox(path: Path) -> Path:
    """Write the mbox to `path` (for `lore_digest.ingest.sync_mbox`) and return it."""
    path.write_bytes(hostile_mbox())
    return path
