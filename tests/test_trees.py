"""Merges confirmed in git: real trees built from real patch mails of the kvmarm corpus
(tests/tree_builder.py), matched by Link:, by patch-id and by author + subject.

Every tree here is a git repository made with `git apply` and `git commit`; the
matcher clones it into a cache and indexes it into a real store, as for a maintainer's
tree on git.kernel.org.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lore_digest.errors import SourceError, UsageError
from lore_digest.store.db import Store
from lore_digest.store.trees import TreeRecords
from lore_digest.trees import (
    MergeMatch,
    PatchToMatch,
    TreeMatcher,
    TreeSpec,
    parse_tree_spec,
    patch_from_mail,
)
from lore_digest.trees.links import link_message_ids, message_id_of_url
from tree_builder import KINDS, Kind, MailPatch, WorkTree, git, read_patches, write_bulk_tree

PER_KIND = 6


# -- trees built from the corpus ---------------------------------------------------------


@pytest.fixture(scope="module")
def mail_patches(corpus_git: Path) -> list[MailPatch]:
    """The usable patch mails among the first 1,500 mails of the corpus, one per title
    (a v2 with the title of its v1 would match the v1's commit by author and subject)."""
    seen: set[str] = set()
    unique: list[MailPatch] = []
    for patch in read_patches(corpus_git, 1500):
        if patch.title.lower() not in seen:
            seen.add(patch.title.lower())
            unique.append(patch)
    assert len(unique) > 100
    return unique


@dataclass
class Built:
    """A tree of patches of all three kinds, and patches left out of it."""

    repo: Path
    placed: dict[str, tuple[str, Kind]]  # Message-ID → (applied commit, kind)
    patches: list[MailPatch]
    absent: list[MailPatch]


@pytest.fixture(scope="module")
def built(mail_patches: list[MailPatch], tmp_path_factory: pytest.TempPathFactory) -> Built:
    repo = tmp_path_factory.mktemp("trees") / "kvmarm"
    tree = WorkTree(repo, "next")
    placed: dict[str, tuple[str, Kind]] = {}
    chosen = mail_patches[: PER_KIND * 3]
    for number, patch in enumerate(chosen):
        kind = KINDS[number % 3]
        commit = tree.add_patch(patch, kind, number)
        if commit is None:
            continue
        # The rebuilt pre-image gives back the mail's hunks for most patches, not all
        # (a long hunk git would now cut differently): only git's own patch-id tells.
        if kind != "patch-id" or tree.same_patch_id_as_mail(commit, patch):
            placed[patch.message_id] = (commit, kind)
    absent = mail_patches[PER_KIND * 3 : PER_KIND * 3 + 6]
    return Built(repo, placed, chosen, absent)


def to_match(patches: Sequence[MailPatch]) -> list[PatchToMatch]:
    """What the report stage hands the matcher: read by lore_digest from the raw mail."""
    return [patch_from_mail(p.raw) for p in patches]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store.sqlite3") as opened:
        yield opened


def git_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The git subcommands run from now on (fetch, rev-parse, patch-id …): every process
    starts through subprocess.Popen, subprocess.run's too."""
    calls: list[str] = []
    real_popen = subprocess.Popen

    def popen(cmd: object, *args: object, **kwargs: object) -> object:
        calls.append(_subcommand(cmd))
        return real_popen(cmd, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", popen)
    return calls


def _subcommand(cmd: object) -> str:
    args = [str(a) for a in cmd] if isinstance(cmd, list | tuple) else [str(cmd)]
    if args[:2] == ["git", "--git-dir"]:
        args = ["git", *args[3:]]
    while args[1:2] == ["-c"]:  # configuration before the subcommand
        args = ["git", *args[3:]]
    return args[1] if args[0] == "git" and len(args) > 1 else args[0]


# -- the three rules ----------------------------------------------------------------------


def test_each_rule_finds_the_commit_the_patch_became(
    built: Built, store: Store, tmp_path: Path
) -> None:
    matcher = TreeMatcher(store, tmp_path / "cache", [f"{built.repo}@next"])
    [update] = matcher.update()
    commits = int(git("rev-list", "--count", "--no-merges", "next", cwd=built.repo))
    assert update.new_commits == commits and not update.reindexed
    found = matcher.match(to_match(built.patches))
    kinds = Counter(kind for _, kind in built.placed.values())
    assert all(kinds[kind] >= PER_KIND - 1 for kind in KINDS), kinds
    for message_id, (commit, kind) in built.placed.items():
        assert found.get(message_id) == [MergeMatch("kvmarm@next", "next", commit, kind)]


def test_a_patch_in_no_tree_has_no_match(built: Built, store: Store, tmp_path: Path) -> None:
    matcher = TreeMatcher(store, tmp_path / "cache", [f"{built.repo}@next"])
    matcher.update()
    found = matcher.match(to_match([*built.absent, *built.patches]))
    assert len(found) >= len(built.placed)  # the tree is matched at all
    assert not {p.message_id for p in built.absent} & set(found)


def test_patch_id_comes_before_author_and_subject(
    mail_patches: list[MailPatch], store: Store, tmp_path: Path
) -> None:
    """A patch applied as mailed, without Link:, matches both later rules: patch-id wins."""
    tree = WorkTree(tmp_path / "plain", "master")
    patch, commit = _first_faithful(tree, mail_patches[30:], "subject", edit=False)
    matcher = TreeMatcher(store, tmp_path / "cache", [str(tree.path)])
    matcher.update()
    assert matcher.match(to_match([patch])) == {
        patch.message_id: [MergeMatch("plain", "HEAD", commit, "patch-id")]
    }


def _first_faithful(
    tree: WorkTree, patches: Sequence[MailPatch], kind: Kind, *, edit: bool | None = None
) -> tuple[MailPatch, str]:
    """The first patch whose applied commit has the mail's patch-id (by git's own count)."""
    for patch in patches:
        commit = tree.add_patch(patch, kind, edit=edit)
        if commit is not None and tree.same_patch_id_as_mail(commit, patch):
            return patch, commit
    raise AssertionError("no patch of the corpus applies faithfully")


def test_two_branches_share_one_clone_and_match_apart(
    mail_patches: list[MailPatch], store: Store, tmp_path: Path
) -> None:
    tree = WorkTree(tmp_path / "kvmarm.git", "next")
    first, second = mail_patches[40], mail_patches[41]
    on_both = tree.add_patch(first, "link", 0)
    git("branch", "fixes", cwd=tree.path)
    only_next = tree.add_patch(second, "link", 1)
    assert on_both and only_next
    specs = [f"{tree.path}@next", f"{tree.path}@fixes"]
    matcher = TreeMatcher(store, tmp_path / "cache", specs)
    matcher.update()
    assert matcher.match(to_match([first, second])) == {
        first.message_id: [
            MergeMatch("kvmarm.git@next", "next", on_both, "link"),
            MergeMatch("kvmarm.git@fixes", "fixes", on_both, "link"),
        ],
        second.message_id: [MergeMatch("kvmarm.git@next", "next", only_next, "link")],
    }
    assert len(list((tmp_path / "cache" / "trees").iterdir())) == 1


# -- updates: incremental, forced pushes, the warm run -------------------------------------


def test_update_indexes_only_new_commits(
    mail_patches: list[MailPatch], store: Store, tmp_path: Path
) -> None:
    tree = WorkTree(tmp_path / "src", "next")
    for number, patch in enumerate(mail_patches[50:53]):
        assert tree.add_patch(patch, "link", number)
    matcher = TreeMatcher(store, tmp_path / "cache", [f"{tree.path}@next"])
    [first] = matcher.update()
    assert first.new_commits == 7  # the initial commit, then a base and a patch each
    later = mail_patches[53]
    assert matcher.match(to_match([later])) == {}  # not applied yet: a remembered miss

    commit = tree.add_patch(later, "subject")
    assert commit is not None
    [offline] = matcher.update(fetch=False)  # what was fetched before: nothing new
    assert offline.new_commits == 0
    [second] = matcher.update()
    assert (second.new_commits, second.reindexed, second.tip) == (2, False, commit)
    records = TreeRecords(store)
    row = records.find_tree(parse_tree_spec(str(tree.path)).origin, "next")
    assert row is not None and records.count_commits(row.id) == 9
    assert matcher.match(to_match([later])) == {
        later.message_id: [MergeMatch("src@next", "next", commit, "subject")]
    }


def test_commits_older_than_the_archive_are_not_indexed(
    mail_patches: list[MailPatch], store: Store, tmp_path: Path
) -> None:
    """`since_utc` stops the first index of a long history where the archive starts."""
    old, new = sorted(mail_patches[55:57], key=lambda p: p.date_utc)
    assert new.date_utc > old.date_utc
    tree = WorkTree(tmp_path / "src", "next")
    assert tree.add_patch(old, "link", 0)  # each committed the day after it was mailed
    assert tree.add_patch(new, "link", 1)
    since = old.date_utc + 86400 + 1
    matcher = TreeMatcher(store, tmp_path / "cache", [str(tree.path)], since_utc=since)
    [update] = matcher.update()
    assert update.new_commits == 2 and update.tip == tree.head()  # new and its base
    assert set(matcher.match(to_match([old, new]))) == {new.message_id}


def test_forced_push_indexes_the_tree_again(
    mail_patches: list[MailPatch], store: Store, tmp_path: Path
) -> None:
    kept, dropped, added = mail_patches[60], mail_patches[61], mail_patches[62]
    published = tmp_path / "published.git"
    before = WorkTree(tmp_path / "before", "next")
    assert before.add_patch(kept, "link", 0) and before.add_patch(dropped, "link", 1)
    before.push(published)
    matcher = TreeMatcher(store, tmp_path / "cache", [f"{published}@next"])
    matcher.update()
    assert set(matcher.match(to_match([kept, dropped, added]))) == {
        kept.message_id,
        dropped.message_id,
    }

    after = WorkTree(tmp_path / "after", "next")  # the branch rebuilt: kept, then added
    rebased = after.add_patch(kept, "link", 0)
    applied = after.add_patch(added, "link", 1)
    after.push(published)
    [update] = matcher.update()
    assert update.reindexed and update.new_commits == 5
    assert matcher.match(to_match([kept, dropped, added])) == {
        kept.message_id: [MergeMatch("published.git@next", "next", rebased or "", "link")],
        added.message_id: [MergeMatch("published.git@next", "next", applied or "", "link")],
    }


def test_a_run_with_nothing_new_runs_no_git_but_the_fetch(
    built: Built, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = [f"{built.repo}@next"]
    TreeMatcher(store, tmp_path / "cache", specs).update()
    patches = to_match([*built.patches, *built.absent])
    calls = git_calls(monkeypatch)
    cold = TreeMatcher(store, tmp_path / "cache", specs).match(patches)
    assert calls == ["patch-id"]  # every mail's patch-id in one process
    calls.clear()
    warm = TreeMatcher(store, tmp_path / "cache", specs)
    assert [u.new_commits for u in warm.update()] == [0]
    assert calls == ["fetch", "rev-parse"]
    calls.clear()
    assert warm.match(patches) == cold
    assert calls == []  # matches and misses remembered


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("{tmp}/missing.git", "missing.git' does not exist"),
        ("{repo}@nosuch", "Remote branch nosuch not found"),
        ("http://127.0.0.1:9/kvmarm.git@next", "127.0.0.1"),
    ],
    ids=["missing path", "unknown branch", "unreachable URL"],
)
def test_a_tree_that_cannot_be_fetched_is_one_line_with_gits_reason(
    spec: str, reason: str, store: Store, tmp_path: Path
) -> None:
    repo = WorkTree(tmp_path / "repo", "next").path
    given = spec.format(tmp=tmp_path, repo=repo)
    matcher = TreeMatcher(store, tmp_path / "cache", [given])
    with pytest.raises(SourceError) as caught:
        matcher.update()
    message = str(caught.value)
    assert "\n" not in message and reason in message, message
    assert message.startswith(f"cannot fetch {parse_tree_spec(given).label} from ")
    assert not (tmp_path / "cache").exists()  # no half clone left behind


def test_matching_offline_before_any_update_finds_nothing(
    built: Built, store: Store, tmp_path: Path
) -> None:
    matcher = TreeMatcher(store, tmp_path / "cache", [f"{built.repo}@next"])
    assert matcher.match(to_match(built.patches)) == {}
    with pytest.raises(SourceError, match="never been fetched"):
        matcher.update(fetch=False)


# -- specs, links, mails ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "branch", "label"),
    [
        (
            "https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git@next",
            "https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git",
            "next",
            "kvmarm.git@next",
        ),
        ("/srv/git/linux.git", "/srv/git/linux.git", None, "linux.git"),
        ("../kvmarm.git@fixes", "../kvmarm.git", "fixes", "kvmarm.git@fixes"),
        ("git@host:repo.git", "git@host:repo.git", None, "repo.git"),
        ("git@host:repo.git@next", "git@host:repo.git", "next", "repo.git@next"),
        (
            "git@gitlab.com:kvmarm/kvmarm.git",
            "git@gitlab.com:kvmarm/kvmarm.git",
            None,
            "kvmarm.git",
        ),
        ("https://user@host/x.git", "https://user@host/x.git", None, "x.git"),
        ("https://user@host/x.git@main", "https://user@host/x.git", "main", "x.git@main"),
        (
            "https://host/arm64/linux.git@for-next/core",
            "https://host/arm64/linux.git",
            "for-next/core",
            "linux.git@for-next/core",
        ),
        ("  /srv/kvm.git/@queue ", "/srv/kvm.git/", "queue", "kvm.git@queue"),
    ],
)
def test_tree_specs(text: str, location: str, branch: str | None, label: str) -> None:
    spec = parse_tree_spec(text)
    assert (spec.location, spec.branch, spec.label) == (location, branch, label)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x.git@", "nothing after '@'"),
        ("@next", "give a path or URL"),
        ("x.git@bad..name", "not a valid branch name"),
        ("x.git@-f", "not a valid branch name"),
        ("x.git@a b", "not a valid branch name"),
        ("x.git@topic.lock", "not a valid branch name"),
    ],
)
def test_bad_tree_specs_are_one_line(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_tree_spec(text)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_clone_folders_are_keyed_by_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = parse_tree_spec("./kvmarm.git@next")
    assert relative.origin == str(tmp_path / "kvmarm.git")
    assert relative.cache_name == TreeSpec(str(tmp_path / "kvmarm.git"), "fixes").cache_name
    assert relative.cache_name.startswith("kvmarm-")
    assert relative.cache_name != parse_tree_spec("/elsewhere/kvmarm.git").cache_name


@pytest.mark.parametrize(
    ("url", "message_id"),
    [
        (
            "https://lore.kernel.org/r/20220509123456.1234-1-maz@kernel.org",
            "20220509123456.1234-1-maz@kernel.org",
        ),
        ("https://lore.kernel.org/kvmarm/20220509.GA1@e.com/", "20220509.GA1@e.com"),
        ("https://lore.kernel.org/all/20220509.GA1@e.com/T/#u", "20220509.GA1@e.com"),
        (
            "https://patch.msgid.link/20240101-b4-x-v2-3-abc@linaro.org",
            "20240101-b4-x-v2-3-abc@linaro.org",
        ),
        ("http://lkml.kernel.org/r/1a2b%40mail.example.com", "1a2b@mail.example.com"),
        ("https://lore.kernel.org/r/%3Cab%2Fcd@x%3E", "ab/cd@x"),
        ("https://bugzilla.kernel.org/show_bug.cgi?id=1", None),
        ("https://lore.kernel.org/kvmarm/", None),
    ],
)
def test_link_urls(url: str, message_id: str | None) -> None:
    assert message_id_of_url(url) == message_id


def test_link_trailers_of_a_commit_message() -> None:
    message = (
        "KVM: arm64: Fix the thing\n\nLink: https://example.com/design\n"
        "Signed-off-by: A <a@example.com>\n"
        "Link: <https://lore.kernel.org/r/one@example.com> # v3\n"
        "link:https://patch.msgid.link/two@example.com\n"
        "  Link: https://lore.kernel.org/r/one@example.com\n"
        "Not-a-Link: https://lore.kernel.org/r/three@example.com\n"
    )
    assert link_message_ids(message) == ("one@example.com", "two@example.com")


def test_patch_from_mail_reads_in_body_author_and_the_title() -> None:
    raw = (
        b"From: Sender <sender@example.com>\nSubject: [PATCH v2 3/7] KVM: arm64: Do it\n"
        b"Message-ID: <p3@example.com>\nDate: Mon, 9 May 2022 10:00:00 +0000\n\n"
        b"From: Real Author <Author@Example.com>\n\nWhy.\n\nSigned-off-by: R <r@e.com>\n---\n"
        b" a.c | 1 +\n\ndiff --git a/a.c b/a.c\nindex 1..2 100644\n--- a/a.c\n+++ b/a.c\n"
        b"@@ -1,1 +1,2 @@\n x\n+y\n-- \n2.34.1\n"
    )
    patch = patch_from_mail(raw)
    assert patch == PatchToMatch(
        message_id="p3@example.com",
        author_email="author@example.com",
        author_name="Real Author",
        subject="KVM: arm64: Do it",
        diff="diff --git a/a.c b/a.c\nindex 1..2 100644\n--- a/a.c\n+++ b/a.c\n@@ -1,1 +1,2 @@\n x\n+y\n",
    )


# -- the builder's two ways agree (the benchmark's tree is the tests' tree) ---------------


def test_bulk_tree_has_the_patch_ids_of_the_work_tree(
    mail_patches: list[MailPatch], tmp_path: Path
) -> None:
    patches = mail_patches[70:79]
    work = WorkTree(tmp_path / "work", "next")
    by_work = {p.message_id: work.add_patch(p, KINDS[n % 3], n) for n, p in enumerate(patches)}
    assert all(by_work.values())
    bulk, left_out = write_bulk_tree(tmp_path / "bulk.git", patches, total=40)
    assert left_out == 0
    assert (
        git(
            "--git-dir", str(tmp_path / "bulk.git"), "rev-list", "--count", "next", cwd=tmp_path
        ).strip()
        == "40"
    )

    def ids(run: Callable[..., str]) -> dict[str, str]:
        shown = run("log", "-p", "--format=commit %H", "next").encode()
        out = git("patch-id", "--stable", cwd=tmp_path, input=shown)
        return {sha: pid for pid, sha in (line.split() for line in out.splitlines())}

    in_work = ids(lambda *a: git(*a, cwd=work.path))
    in_bulk = ids(lambda *a: git("--git-dir", str(tmp_path / "bulk.git"), *a, cwd=tmp_path))
    for message_id, commit in by_work.items():
        sha, kind = bulk[message_id]
        assert (
            kind == KINDS[patches.index(next(p for p in patches if p.message_id == message_id)) % 3]
        )
        assert in_bulk[sha] == in_work[commit or ""]
