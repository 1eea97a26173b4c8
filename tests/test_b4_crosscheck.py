"""Our trailer attribution against b4's, on real kvmarm series (and the mbox export).

A digest says "patch 3/7: Reviewed-by Alice, Acked-by Bob". Maintainers collect the same
trailers with `b4 am`, so when we disagree with b4 the digest is wrong or b4 has a quirk;
either way a human should have looked at it. For each series pinned below (chosen by
benchmarks/pick_b4_series.py, which documents why each one), the thread is exported with
lore_digest.export.thread_mbox to a file and handed to b4's library offline, going through
the steps of `b4 am -m FILE -vN` in one process (a b4 process per series would cost
seconds each; the CLI was checked to write the same trailers on three of these series).
b4's applied patches are compared per patch with attribute_trailers on the set of
(kind, e-mail) trailers (Fixes/Link/Closes by value).

Every difference must be listed in ACCEPTED with the reason it is b4's behaviour and not
our bug; an unlisted difference fails, and so does a listed one that no longer occurs (so
the table cannot rot). Run with -s to see "b4 agreement: N/M patches, ...".
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from lore_digest.errors import UsageError
from lore_digest.export import MBOXRD_SEPARATOR, mboxrd, thread_mbox
from lore_digest.facts.attribution import attribute_trailers
from lore_digest.facts.build import mail_facts
from lore_digest.store.db import Store, StoredMessage
from lore_digest.threading.jwz import parent_map

LIST = "kvmarm"

# The trailer kinds a digest reports. Person trailers compare by address, the others by
# value (whitespace collapsed).
PERSON_KINDS = ("Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by", "Nacked-by")
VALUE_KINDS = ("Fixes", "Link", "Closes")
_CANONICAL = {kind.lower(): kind for kind in PERSON_KINDS + VALUE_KINDS}

# (cover or first-patch Message-ID, revision compared, why it was chosen): the output of
# `.venv/bin/python benchmarks/pick_b4_series.py`, pasted.
PINNED: tuple[tuple[str, int, str], ...] = (
    (
        "20200121223157.15263-1-sean.j.christopherson@intel.com",
        5,
        "cover-reviews: cover + 19 patches, per-patch trailers in 9 replies (2020-01-21)",
    ),
    (
        "20210318122532.505263-1-maz@kernel.org",
        2,
        "cover-reviews: cover + 11 patches, per-patch trailers in 7 replies (2021-03-18)",
    ),
    (
        "20211227124809.1335409-1-maz@kernel.org",
        2,
        "cover-reviews: cover + 6 patches, per-patch trailers in 4 replies (2021-12-27)",
    ),
    (
        "20200701215308.3715856-1-robh@kernel.org",
        2,
        "cover-quiet: cover + 3 patches, no follow-up trailer (0 patches carry trailers) (2020-07-01)",
    ),
    (
        "20211013155831.943476-1-qperret@google.com",
        1,
        "cover-quiet: cover + 16 patches, no follow-up trailer (1 patches carry trailers) (2021-10-13)",
    ),
    (
        "20200210141324.21090-1-maz@kernel.org",
        1,
        "cover-level: cover-level acked-by on the cover, 5 patches (2020-02-10)",
    ),
    (
        "20201204183709.784533-1-maz@kernel.org",
        2,
        "cover-level: cover-level acked-by on the cover, 2 patches (2020-12-04)",
    ),
    (
        "20211109023906.1091208-1-ricarkol@google.com",
        1,
        "cover-level: cover-level acked-by on the cover, 17 patches (2021-11-09)",
    ),
    (
        "20200213093257.23367-1-drjones@redhat.com",
        3,
        "revision: v3 revision (no cover, 1 patches) with follow-up trailers (2020-02-13)",
    ),
    (
        "20210402005658.3024832-1-seanjc@google.com",
        2,
        "revision: v2 revision (cover, 10 patches) with follow-up trailers (2021-04-02)",
    ),
    (
        "20220114140741.1358263-1-maz@kernel.org",
        5,
        "revision: v5 revision (cover, 6 patches) with follow-up trailers (2022-01-14)",
    ),
    (
        "20191213094237.19627-1-eric.auger@redhat.com",
        1,
        "single: single patch without cover, trailers in 1 direct replies (2019-12-13)",
    ),
    (
        "1628569782-30213-1-git-send-email-anshuman.khandual@arm.com",
        1,
        "single: single patch without cover, trailers in 1 direct replies (2021-08-10)",
    ),
    (
        "20201003085604.7138-1-ardb@kernel.org",
        1,
        "single-quiet: single patch without cover, 2 replies, none with a trailer (2020-10-03)",
    ),
    (
        "20200216081843.28670-1-rppt@kernel.org",
        2,
        "tested: Tested-by in 1 replies, cover + 13 patches (2020-02-16)",
    ),
    (
        "20211027104428.1059740-1-eric.auger@redhat.com",
        16,
        "tested: Tested-by in 2 replies, cover + 9 patches (2021-10-27)",
    ),
    (
        "20200227084608.18223-1-rppt@kernel.org",
        3,
        "other-person: tested-by for christophe.leroy@c-s.fr sent by rppt@linux.ibm.com (2020-02-27)",
    ),
    (
        "20210105180541.65031-1-dbrazdil@google.com",
        2,
        "other-person: reported-by for linux@roeck-us.net sent by maz@kernel.org (2021-01-05)",
    ),
    (
        "20211121125451.9489-1-dwmw2@infradead.org",
        5,
        "other-person: acked-by for anup.patel@wdc.com sent by anup@brainfault.org (2021-11-21)",
    ),
    (
        "20200320182406.23465-1-maz@kernel.org",
        6,
        "carried: v6: 23/23 patches carry review trailers from earlier revisions (2020-03-20)",
    ),
    (
        "20211227211642.994461-1-maz@kernel.org",
        3,
        "carried: v3: 4/5 patches carry review trailers from earlier revisions (2021-12-27)",
    ),
    (
        "20200702030132.20252-1-wangjingyi11@huawei.com",
        2,
        "deep: trailer in a reply to a reply (attribution must climb two levels) (2020-07-02)",
    ),
    (
        "20210804085819.846610-1-oupton@google.com",
        6,
        "deep: trailer in a reply to a reply (attribution must climb two levels) (2021-08-04)",
    ),
    (
        "20200414153455.21744-1-rppt@kernel.org",
        4,
        "utility: fixes/link given in 2 replies (2020-04-14)",
    ),
    (
        "20210508071152.722425-1-lingshan.zhu@intel.com",
        1,
        "utility: fixes/link given in 1 replies (2021-05-08)",
    ),
    (
        "20191016165953.o6ogh4fdmsjmd2sw@linutronix.de",
        1,
        "newer-in-reply: v1 compared; v2 was posted in reply to it, 0 of its mails carry trailers, 1 replies to it give some (2019-10-16)",
    ),
    (
        "20211005090155.734578-1-qperret@google.com",
        1,
        "newer-in-reply: v1 compared; v2 was posted in reply to it, 2 of its mails carry trailers, 0 replies to it give some (2021-10-05)",
    ),
    (
        "20211010145636.1950948-1-tabba@google.com",
        8,
        "newer-in-reply: v8 compared; v9 was posted in reply to it, 0 of its mails carry trailers, 4 replies to it give some (2021-10-10)",
    ),
    (
        "20211009021236.4122790-1-seanjc@google.com",
        2,
        "spaced-colon: a reply writes its trailer with a space before the colon (2021-10-09)",
    ),
    (
        "20210924125359.2587041-1-tabba@google.com",
        1,
        "split-block: patch 1 has review trailers above a blank line in its trailer block (2021-09-24)",
    ),
)

# A difference: (pinned series, "b4 only" | "ours only", kind, address or value). A kind of
# "patch" means the two tools disagree on which mail is a patch of the series (the last
# field is then its Message-ID). One entry covers every patch of the series it shows on.
Difference = tuple[str, str, str, str]

SENDER = (
    "b4 keeps a follow-up trailer only if it names the mail's sender;"
    " we keep it, flagged differs_from_sender"
)
LAST_PARAGRAPH = (
    "b4 (like git interpret-trailers) reads trailers only in the last paragraph of the"
    " commit message; we read every trailer line above '---'"
)
SPACED_COLON = "b4 ignores 'Reviewed-by : Name <addr>' (blank before the colon); we accept it"

# Differences that are b4's behaviour, not a bug of ours, with the reason.
ACCEPTED: dict[Difference, str] = {
    # Mike Rapoport relays "Tested-by: Christophe Leroy" in his own reply.
    (
        "20200227084608.18223-1-rppt@kernel.org",
        "ours only",
        "Tested-by",
        "christophe.leroy@c-s.fr",
    ): SENDER,
    # Marc Zyngier writes "Reported-by: Will Deacon" for a bug Will found.
    (
        "20210318122532.505263-1-maz@kernel.org",
        "ours only",
        "Reported-by",
        "will@kernel.org",
    ): SENDER,
    # Patch 1: "Acked-by: Will" + "Signed-off-by", blank line, "Link: ..." below them.
    (
        "20210924125359.2587041-1-tabba@google.com",
        "ours only",
        "Acked-by",
        "will@kernel.org",
    ): LAST_PARAGRAPH,
    # Patch 27: "[1]" / "Link: ...", blank line, "Signed-off-by".
    (
        "20210924125359.2587041-1-tabba@google.com",
        "ours only",
        "Link",
        "https://lore.kernel.org/kvmarm/20210922124704.600087-1-tabba@google.com/T/#u",
    ): LAST_PARAGRAPH,
    # Maxim Levitsky on patch 24: "Reviewed-by : Maxim Levitsky <mlevitsk@redhat.com>".
    (
        "20211009021236.4122790-1-seanjc@google.com",
        "ours only",
        "Reviewed-by",
        "mlevitsk@redhat.com",
    ): SPACED_COLON,
}

CLIMB_BUG = (
    "attribution._climb climbs through another revision's patch or cover letter"
    " (posted in reply to this one), crediting replies to that revision to this one"
)
OTHER_PATCH_BUG = (
    "attribute_trailers takes another revision's patch mail for a reply: the trailers of its"
    " own commit message reach this revision's cover, so every patch gets them"
)

# Not accepted (they fail the test): our bugs, explained so the failure says what to fix.
KNOWN_BUGS: dict[Difference, str] = {
    # Marc acks [PATCH v2], which was sent in reply to James Morse's review of v1.
    (
        "20191016165953.o6ogh4fdmsjmd2sw@linutronix.de",
        "ours only",
        "Acked-by",
        "maz@kernel.org",
    ): CLIMB_BUG,
    # [PATCH v2 1/2] (sent in reply to the v1 cover) carries Acked-by Will and a Fixes.
    (
        "20211005090155.734578-1-qperret@google.com",
        "ours only",
        "Acked-by",
        "will@kernel.org",
    ): OTHER_PATCH_BUG,
    (
        "20211005090155.734578-1-qperret@google.com",
        "ours only",
        "Fixes",
        '1025c8c0c6ac ("KVM: arm64: Wrap the host with a stage 2")',
    ): OTHER_PATCH_BUG,
    # [PATCH v9 00/22] was sent in reply to [PATCH v8 11/11]; its reviews land on v8 11/11.
    (
        "20211010145636.1950948-1-tabba@google.com",
        "ours only",
        "Reviewed-by",
        "drjones@redhat.com",
    ): CLIMB_BUG,
    (
        "20211010145636.1950948-1-tabba@google.com",
        "ours only",
        "Reviewed-by",
        "tabba@google.com",
    ): CLIMB_BUG,
    (
        "20211010145636.1950948-1-tabba@google.com",
        "ours only",
        "Tested-by",
        "tabba@google.com",
    ): CLIMB_BUG,
}


# -- b4, offline ------------------------------------------------------------------------------


@pytest.fixture
def offline_b4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """b4's library configured as a fresh user would have it, and unable to reach a network.

    HOME, git's global/system config and the working directory are throw-away ones, so no
    ~/.gitconfig "b4.*" or "mailinfo.*" setting of whoever runs the tests changes the
    result; attestation is off (DKIM checks would query DNS), and the two functions b4
    reaches lore.kernel.org through fail loudly if anything still tries.
    """
    b4 = pytest.importorskip("b4")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)  # not inside a git work tree: no .b4-config, no repo config

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("b4 tried to reach the network during the cross-check")

    monkeypatch.setattr(b4, "can_network", False)
    monkeypatch.setattr(b4, "get_requests_session", no_network)
    monkeypatch.setattr(b4, "get_lore_node", no_network)
    monkeypatch.setattr(b4, "MAIN_CONFIG", {})
    monkeypatch.setattr(
        b4, "USER_CONFIG", {"name": "Cross Check", "email": "check@example.invalid"}
    )
    b4._setup_main_config()
    b4.MAIN_CONFIG["attestation-policy"] = "off"
    b4_logger = logging.getLogger("b4")
    level = b4_logger.level
    b4_logger.setLevel(logging.CRITICAL)  # b4 am's progress lines are noise here
    try:
        yield b4
    finally:
        b4_logger.setLevel(level)


def _key(kind: str, email: str, value: str) -> tuple[str, str]:
    """What two trailers must share to be "the same" trailer."""
    if kind in VALUE_KINDS:
        return kind, " ".join(value.split())
    return kind, email.lower()


def b4_trailers(b4: ModuleType, mbox: Path, version: int) -> dict[str, set[tuple[str, str]]]:
    """Per patch Message-ID, the reported trailers of the commit `b4 am -m mbox -vN` makes.

    Same steps as b4.mbox.make_am: every message into a LoreMailbox, get_series (without
    the lore search for code-review trailers, which needs the network), get_am_ready; then
    the trailer block of each resulting commit message, parsed by b4 itself.
    """
    mailbox = b4.LoreMailbox()
    for msg in b4.mailsplit_bytes(mbox.read_bytes()):
        try:
            mailbox.add_message(msg)
        except ValueError:  # no usable Message-ID: `b4 am` would stop here; we skip it
            continue
    series = mailbox.get_series(revision=version, codereview_trailers=False)
    assert series is not None, f"b4 finds no v{version} series in {mbox.name}"
    out: dict[str, set[tuple[str, str]]] = {}
    for msg in series.get_am_ready(addlink=False, addmysob=False, allowbadchars=True):
        body = msg.get_payload(decode=True).decode()
        trailers = b4.LoreMessage.get_body_parts(body)[2]
        keys = set()
        for trailer in trailers:
            kind = _CANONICAL.get(trailer.lname)
            if kind is None:
                continue
            email = trailer.addr[1] if trailer.addr else ""
            keys.add(_key(kind, email or trailer.value, trailer.value))
        out[str(msg["Message-Id"]).strip().strip("<>")] = keys
    return out


# -- ours ---------------------------------------------------------------------------------------


def thread_of(store: Store, message_id: str) -> list[StoredMessage]:
    """Stored messages of the thread holding `message_id`, by date."""
    info = store.get_list(LIST)
    assert info is not None
    pk = store.known_ids(info.id, [message_id])[message_id]
    thread_id = next(t for p, _m, _i, _r, t in store.threading_rows(info.id) if p == pk)
    assert thread_id is not None
    return store.messages_of_threads(info.id, [thread_id], 2**62)


def our_trailers(store: Store, message_id: str, version: int) -> dict[str, set[tuple[str, str]]]:
    """Per patch Message-ID, what attribute_trailers credits the patch with."""
    messages = thread_of(store, message_id)
    raws = store.raw_many(m.pk for m in messages)
    parents = parent_map((m.message_id, m.in_reply_to, m.references) for m in messages)
    mails = mail_facts(messages, raws, parents, (0, 2**62))
    return {
        patch.message_id: {_key(t.kind, t.email, t.value) for t in patch.trailers}
        for patch in attribute_trailers(mails, version)
    }


# -- the comparison -----------------------------------------------------------------------------


def compare(
    series_id: str, theirs: dict[str, set[tuple[str, str]]], ours: dict[str, set[tuple[str, str]]]
) -> tuple[int, int, set[Difference]]:
    """(patches agreeing, patches compared, differences) of one series."""
    agree = 0
    found: set[Difference] = set()
    patches = sorted(theirs.keys() | ours.keys())
    for patch in patches:
        if patch not in ours:
            found.add((series_id, "b4 only", "patch", patch))
            continue
        if patch not in theirs:
            found.add((series_id, "ours only", "patch", patch))
            continue
        only_b4 = theirs[patch] - ours[patch]
        only_ours = ours[patch] - theirs[patch]
        found.update((series_id, "b4 only", kind, who) for kind, who in only_b4)
        found.update((series_id, "ours only", kind, who) for kind, who in only_ours)
        agree += not (only_b4 or only_ours)
    return agree, len(patches), found


def test_pinned_series_are_distinct_and_enough() -> None:
    """The brief of this check: at least 20 real series, each compared once."""
    ids = [series_id for series_id, _v, _why in PINNED]
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
    assert {d[0] for d in ACCEPTED} <= set(ids), "ACCEPTED names a series that is not pinned"
    assert not ACCEPTED.keys() & KNOWN_BUGS.keys(), "a difference is either b4's quirk or our bug"


def test_b4_agrees_with_attribution(
    synced_store: Store, offline_b4: ModuleType, tmp_path: Path
) -> None:
    """Per pinned series and patch, b4 and attribute_trailers report the same trailers."""
    agree = total = 0
    found: set[Difference] = set()
    for series_id, version, _why in PINNED:
        mbox = tmp_path / f"{series_id}.mbx"
        mbox.write_bytes(thread_mbox(synced_store, LIST, series_id))
        theirs = b4_trailers(offline_b4, mbox, version)
        ours = our_trailers(synced_store, series_id, version)
        assert theirs and ours, (
            f"{series_id}: no patch found (b4: {len(theirs)}, ours: {len(ours)})"
        )
        ok, count, differences = compare(series_id, theirs, ours)
        agree += ok
        total += count
        found |= differences
    accepted = found & ACCEPTED.keys()
    reasons = Counter(ACCEPTED[d] for d in accepted)
    print(
        f"\nb4 agreement: {agree}/{total} patches, {len(accepted)} accepted differences: "
        + "; ".join(f"{n}× {reason}" for reason, n in reasons.most_common())
    )
    unexplained = sorted(found - ACCEPTED.keys())
    stale = sorted(ACCEPTED.keys() - found)
    assert not unexplained, "differences from b4 not in ACCEPTED:\n" + "\n".join(
        f"{d!r}" + (f"\n    known bug: {KNOWN_BUGS[d]}" if d in KNOWN_BUGS else "")
        for d in unexplained
    )
    assert not stale, "ACCEPTED entries that no longer occur (remove them):\n" + "\n".join(
        map(repr, stale)
    )


# -- the export itself --------------------------------------------------------------------------


def test_mboxrd_quotes_from_lines_once_more() -> None:
    """mboxrd: ">*From " gains one ">", so a reader removing one restores the line exactly."""
    raw = b"From: a@example.org\nSubject: x\n\nFrom here\n>From there\n>>From afar\nFromage\n"
    assert mboxrd([raw, b"Subject: y\n\nno final newline"]) == (
        MBOXRD_SEPARATOR
        + b"From: a@example.org\nSubject: x\n\n>From here\n>>From there\n>>>From afar\nFromage\n\n"
        + MBOXRD_SEPARATOR
        + b"Subject: y\n\nno final newline\n\n"
    )


def test_mboxrd_drops_a_kept_envelope_line() -> None:
    """An mbox "From " envelope line stored with a message is replaced, not quoted."""
    raw = b"From someone@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"
    assert mboxrd([raw]) == MBOXRD_SEPARATOR + b"Subject: x\n\nbody\n\n"


def test_thread_mbox_round_trips_through_b4s_reader(synced_store: Store) -> None:
    """liblore (b4's mbox reader) gets back every stored message of the thread, by date."""
    liblore_utils = pytest.importorskip("liblore.utils")
    series_id = "20200320182406.23465-1-maz@kernel.org"
    exported = thread_mbox(synced_store, LIST, f" <{series_id}> ")
    messages = thread_of(synced_store, series_id)
    raws = synced_store.raw_many(m.pk for m in messages)
    assert exported.count(MBOXRD_SEPARATOR) == len(messages) > 20
    back = liblore_utils.split_mbox_as_bytes(exported)
    # The reader keeps the blank line that ends each message: compare without it.
    assert [b.rstrip(b"\n") for b in back] == [raws[m.pk].rstrip(b"\n") for m in messages]
    assert [m.date_utc for m in messages] == sorted(m.date_utc for m in messages)


def test_thread_mbox_unknown_list_or_message(synced_store: Store) -> None:
    with pytest.raises(UsageError, match="unknown list"):
        thread_mbox(synced_store, "no-such-list", "x@example.org")
    with pytest.raises(UsageError, match="not in list"):
        thread_mbox(synced_store, LIST, "no-such-message@example.org")
    with pytest.raises(UsageError, match="not in list"):
        thread_mbox(synced_store, LIST, "<>")
