"""The demo list must look like a real kernel list to every later stage of the pipeline.

These tests check the generated mail the way a careful reader of lore would: it parses,
it threads (except the one deliberate ghost), the series and their revisions are where
the demo needs them, the encodings are real encodings, and the mbox survives a round
trip through Python's mailbox module.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from lore_digest.demo.generator import DemoMail, generate_demo_list, write_mbox

WEEK = datetime(2024, 3, 11, tzinfo=UTC)  # a Monday
ID_RE = re.compile(r"<([^<>\s]+)>")


def parse(mail: DemoMail) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(mail.raw, policy=email.policy.default))


@pytest.fixture(scope="module")
def mails() -> list[DemoMail]:
    return generate_demo_list(WEEK)


@pytest.fixture(scope="module")
def parsed(mails: list[DemoMail]) -> list[EmailMessage]:
    return [parse(m) for m in mails]


def body(msg: EmailMessage) -> str:
    return str(msg.get_content())


def by_subject(parsed: list[EmailMessage], pattern: str) -> list[EmailMessage]:
    rx = re.compile(pattern)
    return [m for m in parsed if rx.search(str(m["Subject"]))]


def mid(msg: EmailMessage) -> str:
    return str(msg["Message-ID"]).strip().strip("<>")


def parent(msg: EmailMessage) -> str | None:
    irt = msg["In-Reply-To"]
    return str(irt).strip().strip("<>") if irt else None


def sender(msg: EmailMessage) -> str:
    return str(msg["From"].addresses[0].addr_spec)


# --- determinism and dates -----------------------------------------------------------


def test_same_inputs_same_bytes(mails: list[DemoMail]) -> None:
    again = generate_demo_list(WEEK)
    assert [m.raw for m in again] == [m.raw for m in mails]
    assert [(m.message_id, m.date) for m in again] == [(m.message_id, m.date) for m in mails]


def test_seed_changes_bytes_not_shape(mails: list[DemoMail]) -> None:
    other = generate_demo_list(WEEK, seed=2)
    assert len(other) == len(mails)
    assert {m.message_id for m in other} != {m.message_id for m in mails}
    subjects = Counter(str(parse(m)["Subject"]) for m in other)
    assert subjects == Counter(str(parse(m)["Subject"]) for m in mails)


def test_size_and_order(mails: list[DemoMail]) -> None:
    assert 60 <= len(mails) <= 90
    assert [m.date for m in mails] == sorted(m.date for m in mails)
    assert len({m.message_id for m in mails}) == len(mails)


def test_week_and_history(mails: list[DemoMail]) -> None:
    end = WEEK + timedelta(days=7)
    inside = [m for m in mails if WEEK <= m.date < end]
    before = [m for m in mails if m.date < WEEK]
    assert len(inside) > len(mails) / 2
    assert len(inside) + len(before) == len(mails), "nothing after the week"
    assert all(
        WEEK - timedelta(weeks=6, days=1) <= m.date < WEEK - timedelta(weeks=2) for m in before
    )
    # Time zones vary, and one mail is Sunday in its sender's zone but Monday in UTC.
    offsets = {m.date.strftime("%z") for m in mails}
    assert {"+0100", "-0700", "+0800"} <= offsets
    assert any(m.date.weekday() == 6 and WEEK <= m.date < end for m in mails)


@pytest.mark.parametrize("seed", [0, 2, 3, 99])
def test_other_seeds_are_valid(seed: int) -> None:
    mails = generate_demo_list(WEEK, seed=seed)
    ids = {m.message_id for m in mails}
    assert len(ids) == len(mails)
    refs = {r for m in mails for r in ID_RE.findall(str(parse(m)["References"] or ""))}
    assert len(refs - ids) == 1, "only the ghost is missing"
    assert [m.date for m in mails] == sorted(m.date for m in mails)


def test_naive_week_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        generate_demo_list(datetime(2024, 3, 11))


def test_other_week_and_list_name() -> None:
    week = datetime(2022, 5, 9, tzinfo=UTC)
    mails = generate_demo_list(week, list_name="kvmarm-test")
    assert sum(week <= m.date < week + timedelta(days=7) for m in mails) > len(mails) / 2
    msgs = [parse(m) for m in mails]
    assert all(str(m["List-Id"]) == "<kvmarm-test.lists.example.org>" for m in msgs)
    pulls = by_subject(msgs, r"^\[GIT PULL\]")
    assert pulls and all("fixes for 5.18" in str(p["Subject"]) for p in pulls)
    (cover,) = by_subject(msgs, r"^\[PATCH v2 0/3\] KVM: arm64: Batch ")
    assert "https://lore.kernel.org/kvmarm-test/" in body(cover)


# --- well-formed RFC 5322 -------------------------------------------------------------


def test_every_mail_parses(mails: list[DemoMail], parsed: list[EmailMessage]) -> None:
    for raw, msg in zip(mails, parsed, strict=True):
        head, sep, _ = raw.raw.partition(b"\n\n")
        assert sep, "headers and body are separated by an empty line"
        assert head.isascii()
        assert b"\r" not in raw.raw
        assert all(len(line) <= 998 for line in raw.raw.split(b"\n"))
        assert not msg.defects, (raw.message_id, msg.defects)
        for name in ("Message-ID", "Date", "From", "Subject"):
            assert msg[name], f"{raw.message_id} has no {name}"
        assert mid(msg) == raw.message_id
        assert msg["Date"].datetime == raw.date
        assert body(msg).strip()


def test_references_resolve_except_one_ghost(parsed: list[EmailMessage]) -> None:
    ids = {mid(m) for m in parsed}
    missing = set()
    for msg in parsed:
        refs = ID_RE.findall(str(msg["References"] or ""))
        irt = parent(msg)
        if irt is not None:
            assert refs and refs[-1] == irt, "In-Reply-To is the last reference"
        missing.update(r for r in refs if r not in ids)
    assert len(missing) == 1
    (ghost,) = missing
    ghost_replies = [m for m in parsed if parent(m) == ghost]
    assert len(ghost_replies) == 1
    assert str(ghost_replies[0]["Subject"]).startswith("Re: [PATCH ")


def test_replies_are_after_their_parent(mails: list[DemoMail], parsed: list[EmailMessage]) -> None:
    date_of = {m.message_id: m.date for m in mails}
    for m, msg in zip(mails, parsed, strict=True):
        p = parent(msg)
        if p in date_of:
            assert date_of[p] < m.date


def test_people_are_fictional(parsed: list[EmailMessage]) -> None:
    allowed = re.compile(r"@([a-z0-9.-]+\.)?example\.(org|com|net)$")
    bots = {"syzbot+abc123def@syzkaller.appspotmail.com", "syzkaller-bugs@googlegroups.com"}
    for msg in parsed:
        for name in ("From", "To", "Cc"):
            for addr in getattr(msg[name], "addresses", ()):
                spec = addr.addr_spec
                assert spec in bots or allowed.search(spec), spec


def test_patches_have_consistent_diffs(parsed: list[EmailMessage]) -> None:
    """Hunk headers match their lines and diffstats match the diffs, as git would write."""
    patches = [
        m
        for m in parsed
        if re.match(r"\[[^\]]*PATCH[^\]]*\]", str(m["Subject"]))
        and not re.search(r" 0/\d+\]", str(m["Subject"]))
    ]
    assert len(patches) >= 20
    for msg in patches:
        text = body(msg)
        assert "\nSigned-off-by: " in text
        assert "\ndiff --git a/" in text and "\n---\n" in text
        assert re.search(r"\n-- \n2\.\d+\.\d+\n$", text)
        _check_diff(text)


def _check_diff(text: str) -> None:
    stat = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^ (\S+) +\| +(\d+) [+-]*$", text, re.MULTILINE)
    }
    lines = text.split("\n")
    changed: Counter[str] = Counter()
    path = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git a/"):
            path = line.split(" b/", 1)[1]
            assert re.match(
                r"index [0-9a-f]{12}\.\.[0-9a-f]{12}", lines[i + 1 + ("new file" in lines[i + 1])]
            )
        h = re.match(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@", line)
        if h:
            old = int(h.group(1) or 1)
            new = int(h.group(2) or 1)
            i += 1
            while old or new:
                kind = lines[i][:1]
                assert kind in (" ", "-", "+"), lines[i]
                old -= kind in " -"
                new -= kind in " +"
                changed[path] += kind != " "
                i += 1
            assert old == new == 0
            continue
        i += 1
    assert stat == dict(changed)


# --- the stories the demo must tell ---------------------------------------------------


def test_series_a_revisions_review_and_apply(parsed: list[EmailMessage]) -> None:
    (v1,) = by_subject(parsed, r"^\[PATCH v1 0/3\] KVM: arm64: Batch ")
    (v2,) = by_subject(parsed, r"^\[PATCH v2 0/3\] KVM: arm64: Batch ")
    assert v1["Date"].datetime < WEEK - timedelta(weeks=3)
    assert WEEK <= v2["Date"].datetime < WEEK + timedelta(days=7)
    assert parent(v2) is None, "v2 is a new thread"
    v1_patches = [
        m for m in parsed if parent(m) == mid(v1) and str(m["Subject"]).startswith("[PATCH v1")
    ]
    assert len(v1_patches) == 3
    assert any("Good point, will fix in v2." in body(m) for m in parsed if m["In-Reply-To"])
    text = body(v2)
    assert "Changes since v1:" in text
    assert f"v1: https://lore.kernel.org/demo-kvmarm/{mid(v1)}/" in text

    v2_patches = {
        mid(m) for m in parsed if parent(m) == mid(v2) and str(m["Subject"]).startswith("[PATCH v2")
    }
    assert len(v2_patches) == 3
    reviewed = {
        parent(m) for m in parsed if parent(m) in v2_patches and "\nReviewed-by: " in body(m)
    }
    assert len(reviewed) == 2
    replies = [m for m in parsed if parent(m) == mid(v2)]
    assert any(re.search(r"^Acked-by: .+ <.+>$", body(m), re.MULTILINE) for m in replies)
    (applied,) = [m for m in replies if "Applied to next, thanks!" in body(m)]
    assert sender(applied) == "maz@example.org"
    commits = re.findall(
        r"^\[(\d)/3\] KVM: arm64: .+\n      commit: [0-9a-f]{12}$", body(applied), re.MULTILINE
    )
    assert commits == ["1", "2", "3"]
    assert applied["Date"].datetime == max(m["Date"].datetime for m in replies)


def test_two_unrelated_v3_covers(parsed: list[EmailMessage]) -> None:
    covers = by_subject(parsed, r"^\[PATCH v3 0/4\]")
    assert len(covers) == 2
    assert len({str(c["Subject"]) for c in covers}) == 2
    assert len({sender(c) for c in covers}) == 2
    assert any(": vgic: " in str(c["Subject"]) for c in covers)
    for c in covers:
        assert WEEK <= c["Date"].datetime < WEEK + timedelta(days=7)

    unthreaded = [
        c
        for c in covers
        if not [
            m for m in parsed if parent(m) == mid(c) and str(m["Subject"]).startswith("[PATCH v3")
        ]
    ]
    assert len(unthreaded) == 1
    (cover,) = unthreaded
    patches = [
        m for m in by_subject(parsed, r"^\[PATCH v3 [1-4]/4\]") if sender(m) == sender(cover)
    ]
    assert len(patches) == 4
    for p in patches:
        assert p["In-Reply-To"] is None and p["References"] is None
        assert timedelta(0) < p["Date"].datetime - cover["Date"].datetime < timedelta(minutes=1)
    # The unthreaded series gets questions, and nobody gives a trailer.
    thread = {mid(p) for p in patches} | {mid(cover)}
    grew = True
    while grew:
        more = {mid(m) for m in parsed if parent(m) in thread} - thread
        grew = bool(more)
        thread |= more
    replies = [m for m in parsed if mid(m) in thread and str(m["Subject"]).startswith("Re:")]
    assert replies and any("?" in body(r) for r in replies)
    trailer = re.compile(r"^(Reviewed|Acked|Tested)-by:", re.MULTILINE)
    assert not any(trailer.search(body(r)) for r in replies)


def test_rfc_pull_syzbot_tools_and_question(parsed: list[EmailMessage]) -> None:
    (rfc,) = by_subject(parsed, r"^\[RFC PATCH 0/2\]")
    assert any(parent(m) == mid(rfc) for m in parsed)

    pulls = by_subject(parsed, r"^\[GIT PULL\] KVM/arm64 fixes for \d+\.\d+, take #2$")
    assert len(pulls) == 1
    pull = pulls[0]
    text = body(pull)
    assert re.search(r"The following changes since commit [0-9a-f]{40}:\n\n  .+ \(\d{4}-", text)
    assert re.search(
        r"are available in the Git repository at:\n\n  git://git\.kernel\.org/pub/scm/linux/"
        r"kernel/git/kvmarm/kvmarm\.git tags/kvmarm-fixes-\d+\.\d+-2\n\n"
        r"for you to fetch changes up to [0-9a-f]{40}:",
        text,
    )
    assert re.search(r"\d+ files? changed", text)
    assert any(parent(m) == mid(pull) and "Pulled, thanks." in body(m) for m in parsed)

    (syz,) = [
        m for m in parsed if str(m["From"]) == "syzbot <syzbot+abc123def@syzkaller.appspotmail.com>"
    ]
    assert re.match(
        r"\[syzbot\] \[kvmarm\?\] KASAN: slab-use-after-free Read in kvm_vgic_", str(syz["Subject"])
    )
    assert "syzbot found the following issue on:" in body(syz)
    assert len([m for m in parsed if parent(m) == mid(syz)]) == 1

    assert by_subject(parsed, r"^\[kvm-unit-tests PATCH v2 1/1\] arm64: ")
    assert by_subject(parsed, r"^\[PATCH kvmtool 1/2\] ")

    (question,) = by_subject(parsed, r"^KVM: arm64: question about .+\?$")
    thread = {mid(question)}
    for m in parsed:
        if parent(m) in thread:
            thread.add(mid(m))
    assert 3 <= len(thread) - 1 <= 4


def test_bottom_posted_replies_and_signatures(parsed: list[EmailMessage]) -> None:
    replies = [m for m in parsed if str(m["Subject"]).startswith("Re: ")]
    attribution = re.compile(r"^On .+(\n.+)? wrote:\n> ", re.MULTILINE)
    assert sum(bool(attribution.search(body(r))) for r in replies) >= len(replies) - 1
    assert sum("\n-- \n" in body(r) for r in replies) >= 3


# --- encodings ------------------------------------------------------------------------


def test_encoded_names(mails: list[DemoMail], parsed: list[EmailMessage]) -> None:
    names = {}
    for raw, msg in zip(mails, parsed, strict=True):
        head = raw.raw.partition(b"\n\n")[0].decode("ascii")
        from_line = re.search(r"^From: (.*)$", head, re.MULTILINE)
        assert from_line
        names[from_line.group(1).split(" <")[0]] = msg["From"].addresses[0].display_name
    assert names["=?UTF-8?q?Daniel_P=2E_Berrang=C3=A9?="] == "Daniel P. Berrangé"
    assert names["=?UTF-8?B?5byg5LiJ?="] == "张三"
    assert names["=?iso-8859-1?Q?J=FCrgen?= Vogt"] == "Jürgen Vogt"


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_encoded_utf8_bodies(parsed: list[EmailMessage], cte: str) -> None:
    found = [
        m
        for m in parsed
        if m["Content-Transfer-Encoding"] == cte and m.get_content_charset() == "utf-8"
    ]
    assert found
    for m in found:
        text = body(m)
        assert not text.isascii()
        assert "\n> " in text or text.startswith("> ")
        raw = m.get_payload()
        assert isinstance(raw, str) and raw.isascii()


# --- mboxrd ---------------------------------------------------------------------------


def test_mbox_round_trip(mails: list[DemoMail], tmp_path: Path) -> None:
    assert any(re.search(rb"\nFrom ", m.raw.partition(b"\n\n")[2]) for m in mails), (
        "some body line starts with 'From '"
    )
    path = tmp_path / "demo.mbox"
    write_mbox(mails, path)
    data = path.read_bytes()
    assert data.startswith(b"From mboxrd@z ")
    assert b"\n>From the architecture" in data

    box = mailbox.mbox(path, create=False)
    try:
        keys = list(box.keys())
        assert len(keys) == len(mails)
        ids = [str(box[k]["Message-ID"]).strip("<>") for k in keys]
        assert ids == [m.message_id for m in mails]
        # Undoing mboxrd escaping gives back the original bytes.
        for k, m in zip(keys, mails, strict=True):
            got = re.sub(rb"(?m)^>(>*From )", rb"\1", box.get_bytes(k))
            assert got.rstrip(b"\n") == m.raw.rstrip(b"\n")
    finally:
        box.close()


def test_mbox_escapes_quoted_from_lines(tmp_path: Path) -> None:
    raw = b"From: a@example.org\nMessage-ID: <x@example.org>\n\nFrom here\n>From there\nok\n"
    path = tmp_path / "one.mbox"
    write_mbox([DemoMail(raw, "x@example.org", WEEK)], path)
    assert path.read_bytes().split(b"\n")[1:] == [
        b"From: a@example.org",
        b"Message-ID: <x@example.org>",
        b"",
        b">From here",
        b">>From there",
        b"ok",
        b"",
        b"",
    ]
