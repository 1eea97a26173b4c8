"""Build (or bring up to date) the static HTML site of one list.

A manifest (`.lore-digest-site.json` in the output directory) remembers, per week, the
hash of its report's content and a small digest, plus how far into the store it has
seen: the last mail stored and the last thread move (store.thread_moves). The next
build asks the store for the mail stored or moved since: `weeks_touched` names the weeks
it can change, only those reports are rebuilt, and only pages whose inputs differ are
written. Nothing in it grows with the list, and nothing reads the whole list. Pages spanning weeks (index, archive, feed, search, series,
subsystems, people) are made from the digests, so they never need every report. Any
change to the code that shapes a report (or to the languages, list or archive URL)
starts over from scratch.
Every file is written atomically: a reader never sees a half-written page.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from lore_digest.digest import Digest
from lore_digest.errors import UsageError
from lore_digest.fsutil import write_atomic
from lore_digest.report.jsonout import render_json
from lore_digest.report.model import Report
from lore_digest.site.digest import content_hash, subsystem_slug, week_digest
from lore_digest.site.feed import render_feed
from lore_digest.site.render import SiteRenderer, WeekLink, WeekNav
from lore_digest.site.search import index_json, index_script, search_index
from lore_digest.site.touched import weeks_touched
from lore_digest.vocabulary import lang_suffix, parse_languages

MANIFEST = ".lore-digest-site.json"
FORMAT = 1
PREVIOUS_ON_INDEX = 12
CHECKPOINT_S = 10.0  # how often a long build records how far it got
STATIC_FILES = ("site.css", "search.js", "favicon.svg")
# Modules whose code decides what a report says or how a page looks.
_CODE_SUFFIXES = frozenset({".py", ".j2", ".css", ".js", ".txt", ".md", ".svg"})


@dataclass
class SiteResult:
    """What a build did: files written, week pages left as they were, the entry page."""

    written: list[Path] = field(default_factory=list)
    skipped_unchanged: int = 0
    index: Path = Path("index.html")
    weeks_rebuilt: list[str] = field(default_factory=list)  # weeks whose report was rebuilt
    weeks_relinked: list[str] = field(default_factory=list)  # ... only their week links new
    empty_weeks: list[str] = field(default_factory=list)  # asked for, but without mail: left out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def code_fingerprint() -> str:
    """Hash of the package's code, templates and data (stale pages otherwise).

    The whole package, not a list of the stages that shape a page: a rule moved to
    another module (vocabulary, model, digest) must still make the site rebuild.
    """
    base = Path(str(resources.files("lore_digest")))
    digest = hashlib.sha256()
    for path in sorted(base.rglob("*")):
        if path.is_file() and path.suffix in _CODE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def static_text(name: str) -> str:
    """A file of the site's static/ folder (CSS, search script)."""
    return resources.files("lore_digest.site").joinpath("static", name).read_text("utf-8")


def _tree_urls(trees: Sequence[str]) -> list[str]:
    """Web addresses of the configured trees: links into them are allowed in prose."""
    from lore_digest.trees.spec import parse_tree_spec

    urls = []
    for text in trees:
        location = parse_tree_spec(text).location
        if location.startswith(("https://", "http://")):
            urls.append(location.rstrip("/") + "/")
    return urls


class _SiteBuild:
    """One run of `build_site`: state shared by its steps."""

    def __init__(self, digest: Digest, out_dir: Path, langs: tuple[str, ...]) -> None:
        list_name = digest.list_name  # a name that can name files: the Digest checked it
        self.digest = digest
        self.list_name = list_name
        self.out = out_dir
        self.langs = langs
        trees = digest.settings.trees
        self.renderer = SiteRenderer(list_name, langs, link_prefixes=_tree_urls(trees))
        self.result = SiteResult(index=out_dir / "index.html")
        # A new time zone moves every week's boundaries, other trust rules, other trees or
        # new commits in them change statuses, other people or subsystems change what a
        # page shows (DigestSettings.fact_inputs): nothing of the old site stays.
        self.key = _sha(
            _json(
                [
                    FORMAT,
                    code_fingerprint(),
                    list_name,
                    digest.info.url_base,
                    langs,
                    digest.settings.fact_inputs(),
                    digest.tree_tips(),
                ]
            )
        )
        self.old = self._load_manifest()
        self.valid = self.old.get("key") == self.key
        self.weeks: dict[str, dict[str, Any]] = dict(self.old["weeks"]) if self.valid else {}
        # After a change of code or options the old files are still ours: kept with no key,
        # so they are rewritten when produced and removed when not (even if this build is
        # interrupted and a later one finishes it).
        old_files = self.old.get("files", {})
        self.files: dict[str, str] = dict(old_files) if self.valid else dict.fromkeys(old_files, "")
        self.produced: set[str] = set()
        self.reports: dict[tuple[str, str], Report] = {}
        self.keep: str | None = None  # the one week whose reports the index needs later

    # -- manifest -----------------------------------------------------------------------

    def _load_manifest(self) -> dict[str, Any]:
        path = self.out / MANIFEST
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return {"weeks": {}, "files": {}}
        if not isinstance(data, dict) or data.get("list") != self.list_name:
            return {"weeks": {}, "files": {}}
        return data

    def save_manifest(self, seen: tuple[int, int], stale: Iterable[str]) -> None:
        data = {
            "format": FORMAT,
            "key": self.key,
            "list": self.list_name,
            "langs": list(self.langs),
            "seen": list(seen),
            "stale": sorted(stale),
            "weeks": self.weeks,
            "files": {k: self.files[k] for k in sorted(self.files)},
        }
        write_atomic(self.out / MANIFEST, json.dumps(data, ensure_ascii=False) + "\n")

    def old_seen(self) -> tuple[int, int] | None:
        """(last mail, last thread move) of the store that the last build had seen."""
        seen = self.old.get("seen")
        if not isinstance(seen, list) or len(seen) != 2:
            return None
        return int(seen[0]), int(seen[1])

    # -- writing ------------------------------------------------------------------------

    def _write(self, rel: str, text: str, key: str | None = None) -> None:
        """Write a site file when its key (default: content hash) differs from last time."""
        key = key or _sha(text)
        self.produced.add(rel)
        path = self.out / rel
        if self.files.get(rel) == key and path.is_file():
            return
        write_atomic(path, text)
        self.files[rel] = key
        self.result.written.append(path)

    def _fresh(self, rel: str, key: str) -> bool:
        """True (and the file counted as part of the site) when it is already up to date."""
        if self.files.get(rel) == key and (self.out / rel).is_file():
            self.produced.add(rel)
            return True
        return False

    # -- weeks --------------------------------------------------------------------------

    def report(self, label: str, lang: str) -> Report:
        """The report of a week; the index's week is kept, not every week (memory)."""
        cached = self.reports.get((label, lang))
        if cached is None:
            cached = self.digest.week(label, lang=lang)
            if label == self.keep:
                self.reports[(label, lang)] = cached
        return cached

    def nav(self, site_weeks: Sequence[str], label: str, lang: str) -> WeekNav:
        """Links to the neighbouring weeks of the site."""
        at = site_weeks.index(label)
        before = site_weeks[at - 1] if at > 0 else None
        after = site_weeks[at + 1] if at + 1 < len(site_weeks) else None
        return WeekNav(
            WeekLink(before, self.renderer.week_file(before, lang)) if before else None,
            WeekLink(after, self.renderer.week_file(after, lang)) if after else None,
        )

    def build_week(self, label: str, site_weeks: Sequence[str]) -> None:
        """Rebuild one week's reports; write its pages whose content or links changed."""
        before = self.weeks.get(label, {})
        entry: dict[str, Any] = {"pages": dict(before.get("pages", {}))}
        if "in_progress" in before:  # kept when every page is fresh (relink_week reads it)
            entry["in_progress"] = before["in_progress"]
        for lang in self.langs:
            report = self.report(label, lang)
            if lang == self.langs[0]:
                entry["digest"] = week_digest(report)
            nav = self.nav(site_weeks, label, lang)
            in_progress = report.end > self.digest.now()  # its JSON says so, until it ends
            content = content_hash(report)
            page_key = _page_key(content, nav, in_progress)
            rel = self.renderer.week_file(label, lang)
            data = self.renderer.week_json_file(label, lang)
            waiting = self.renderer.waiting_file(report)  # a long list's own page
            files = [rel, data] if waiting is None else [rel, data, waiting]
            if all([self._fresh(f, page_key) for f in files]):
                self.result.skipped_unchanged += 1
                continue
            self._write(rel, self.renderer.week(report, nav), page_key)
            self._write(data, render_json(report, as_of=self.digest.now()), page_key)
            if waiting is not None:
                self._write(waiting, self.renderer.waiting(report), page_key)
            entry["pages"][lang] = {
                "key": page_key,
                "content": content,
                "generated_at": report.generated_at.isoformat(),
                "waiting": waiting,
            }
            entry["in_progress"] = in_progress
        self.weeks[label] = entry

    def relink_week(self, label: str, site_weeks: Sequence[str]) -> bool:
        """New previous/next links on the pages of a week whose report did not change:
        each page's <nav class="weeknav"> is rendered again and put in its place, without
        making the week's report again. False (nothing written: rebuild the week) when a
        page, or what its key is made of, is not as the manifest says."""
        entry = self.weeks.get(label)
        if entry is None:
            return False
        pages = entry.get("pages", {})
        in_progress = bool(entry.get("in_progress", False))
        edits: list[tuple[str, str, str, list[str], str]] = []  # lang, page, html, files, key
        for lang in self.langs:
            page = pages.get(lang) or {}
            content, old_key = page.get("content"), page.get("key")
            rel = self.renderer.week_file(label, lang)
            files = [rel, self.renderer.week_json_file(label, lang)]
            if page.get("waiting"):
                files.append(str(page["waiting"]))
            if not isinstance(content, str) or any(
                self.files.get(f) != old_key or not (self.out / f).is_file() for f in files
            ):
                return False
            try:
                html = (self.out / rel).read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                return False
            found = _WEEKNAV.findall(html)
            if len(found) != 1:
                return False
            nav = self.nav(site_weeks, label, lang)
            fragment = self.renderer.week_nav(nav, lang)
            key = _page_key(content, nav, in_progress)
            edits.append((lang, rel, html.replace(found[0], fragment), files, key))
        for lang, rel, html, files, key in edits:
            self._write(rel, html, key)
            for other in files[1:]:  # the same content under the new key
                self.files[other] = key
                self.produced.add(other)
            pages[lang] = {**pages[lang], "key": key}
        return True

    # -- pages across weeks ---------------------------------------------------------------

    def aggregates(self, site_weeks: Sequence[str]) -> None:
        """Index, archive, feed, search index, series pages and static files."""
        digests = {label: self.weeks[label]["digest"] for label in site_weeks}
        latest = site_weeks[-1]
        for name in STATIC_FILES:
            self._write(name, static_text(name))
        index = search_index(self.list_name, digests)
        self._write("search-index.json", index_json(index))
        self._write("search-index.js", index_script(index))
        # An entry is as new as the week's last mail: a rebuild for a code change does
        # not make every week "updated", a late reply inside the week does.
        updated = {
            label: datetime.fromisoformat(digests[label].get("last_mail") or digests[label]["end"])
            for label in site_weeks
        }
        self._write(
            "feed.atom",
            render_feed(self.list_name, self.langs[0], digests, updated, self.langs[1:]),
        )
        for lang in self.langs:
            self._write(
                f"archive{lang_suffix(lang)}.html",
                self.renderer.archive(lang, digests, latest),
            )
            self._index(lang, site_weeks, digests)
        self._series_pages(site_weeks, digests)
        self._subsystem_pages(site_weeks, digests)
        self._person_pages(site_weeks, digests)

    def _index(
        self, lang: str, site_weeks: Sequence[str], digests: Mapping[str, Mapping[str, Any]]
    ) -> None:
        latest = site_weeks[-1]
        previous = [
            WeekLink(
                label,
                self.renderer.week_file(label, lang),
                int(digests[label]["messages"]),
                int(digests[label]["threads"]),
            )
            for label in reversed(site_weeks[-1 - PREVIOUS_ON_INDEX : -1])
        ]
        nav = self.nav(site_weeks, latest, lang)
        page = self.weeks[latest]["pages"].get(lang, {}).get("key", "")
        figures = [[w.label, w.messages, w.threads] for w in previous]
        key = _sha(_json([page, figures, *_labels(nav)]))
        names = [f"index{lang_suffix(lang)}.html"]
        if lang == self.langs[0] and names[0] != "index.html":
            names.append("index.html")  # the entry point exists whatever the languages
        stale = [name for name in names if not self._fresh(name, key)]
        if stale:
            html = self.renderer.index(self.report(latest, lang), nav, previous)
            for name in stale:
                self._write(name, html, key)

    def _series_pages(
        self, site_weeks: Sequence[str], digests: Mapping[str, Mapping[str, Any]]
    ) -> None:
        appearances: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for label in site_weeks:
            for entry in digests[label]["series"]:
                appearances.setdefault(entry["slug"], []).append((label, entry))
        for slug, seen in appearances.items():
            self._pages_of(f"series/{slug}", _sha(_json(seen)), self.renderer.series, slug, seen)

    def _pages_of(
        self,
        stem: str,
        key: str,
        render: Callable[[str, str, Sequence[tuple[str, Mapping[str, Any]]]], str],
        name: str,
        seen: Sequence[tuple[str, Mapping[str, Any]]],
    ) -> None:
        """One cross-week page in each language, rendered only when its input changed."""
        for lang in self.langs:
            rel = f"{stem}{lang_suffix(lang)}.html"
            if not self._fresh(rel, key):
                self._write(rel, render(lang, name, seen), key)

    def _subsystem_pages(
        self, site_weeks: Sequence[str], digests: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """A page per subsystem with the threads touching it, and their list."""
        appearances: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for label in site_weeks:
            for entry in digests[label]["thread_list"]:
                for name in entry.get("subsystems", ()):
                    appearances.setdefault(name, []).append((label, entry))
        figures = [
            (name, len({label for label, _ in seen}), len(seen))
            for name, seen in appearances.items()
        ]
        for lang in self.langs:
            self._write(
                f"subsystems/index{lang_suffix(lang)}.html", self.renderer.subsystems(lang, figures)
            )
        for name, seen in appearances.items():
            stem = f"subsystems/{subsystem_slug(name)}"
            self._pages_of(stem, _sha(_json([name, seen])), self.renderer.subsystem, name, seen)

    def _person_pages(
        self, site_weeks: Sequence[str], digests: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """A page per configured person (`people`): their queue and their weeks."""
        appearances: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for label in site_weeks:
            for entry in digests[label].get("people", ()):
                appearances.setdefault(entry["slug"], []).append((label, entry))
        for slug, seen in appearances.items():
            self._pages_of(f"people/{slug}", _sha(_json(seen)), self.renderer.person, slug, seen)

    def remove_leftovers(self, previous_files: Iterable[str]) -> None:
        """Delete files an earlier build wrote that are no longer part of the site."""
        for rel in previous_files:
            if rel in self.produced or rel.startswith("/") or ".." in Path(rel).parts:
                continue
            (self.out / rel).unlink(missing_ok=True)
            self.files.pop(rel, None)


def build_site(
    digest: Digest,
    out_dir: Path,
    *,
    langs: Sequence[str] = ("zh",),
    weeks: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> SiteResult:
    """Build or update the HTML site of the Digest's list in `out_dir`.

    Every week is the Digest's: its time zone, its summariser, its clock. `weeks` None
    means every ISO week that has mail; given weeks are added to (or refreshed in) the
    site, other weeks already built stay; a given week without mail is left out (and
    listed in `empty_weeks`), so no page of the site points at an empty week. `force`
    rebuilds every requested week's report (files are still written only when they
    differ). Beside each week page its report is published as JSON.
    """
    run = _SiteBuild(digest, out_dir, parse_languages(tuple(langs)))
    store, list_id = digest.store, digest.info.id
    # Read before the weeks are: mail stored meanwhile is seen by the next build.
    seen = (store.last_pk(list_id), store.last_move(list_id))
    with_mail = digest.weeks_with_mail()
    if weeks is None:
        requested = with_mail
    else:
        asked = sorted({digest.window(w).label for w in weeks})
        requested = [w for w in asked if w in with_mail]
        run.result.empty_weeks = [w for w in asked if w not in with_mail]
    if not run.valid:  # new code or options: every week of the old site is out of date
        requested = sorted(set(requested) | (set(run.old.get("weeks", {})) & set(with_mail)))
    if not requested:
        raise UsageError(_nothing_to_build(digest, weeks))
    site_weeks = sorted((set(requested) | set(run.weeks)) & set(with_mail))
    run.keep = site_weeks[-1]
    stale = set(run.old.get("stale", [])) if run.valid else set()
    now = digest.now()
    # A week rendered while in progress is rendered again once it has ended.
    stale |= {
        label
        for label, entry in run.weeks.items()
        if entry.get("in_progress") and digest.window(label).end <= now
    }
    # Weeks an interrupted build did not get to: rendered now, whatever was asked for.
    pending = (stale - set(run.weeks)) & set(with_mail)
    if pending:
        requested = sorted(set(requested) | pending)
        site_weeks = sorted(set(site_weeks) | pending)
        run.keep = site_weeks[-1]
    old_seen = run.old_seen() if run.valid else None
    if old_seen is not None:
        previous = store.moves_after(list_id, old_seen[1])
        changed = {m.pk: m for m in store.messages_after(list_id, old_seen[0])}
        changed.update((m.pk, m) for m in store.messages_by_pks(previous))
        if changed or previous:
            stale |= weeks_touched(digest, list(changed.values()), previous)
    elif run.valid:  # a manifest from before "seen": every week it has is redone
        stale |= set(run.weeks)
    old_pages = {
        label: {lang: run.weeks.get(label, {}).get("pages", {}).get(lang) for lang in run.langs}
        for label in site_weeks
    }
    candidates = []
    for label in site_weeks:
        if label in requested:
            missing = label not in run.weeks or any(
                page is None
                or not (out_dir / run.renderer.week_file(label, lang)).is_file()
                or not (out_dir / run.renderer.week_json_file(label, lang)).is_file()
                for lang, page in old_pages[label].items()
            )
            rebuild = force or missing or label in stale
        else:
            rebuild = False  # kept from an earlier build; refreshed when asked for
        # A week whose neighbours changed gets new prev/next links, asked for or not: put
        # in its pages when its report is unchanged, else with the week rebuilt.
        relinked = False
        if not rebuild and _nav_changed(run, site_weeks, label):
            relinked = run.relink_week(label, site_weeks)
            rebuild = not relinked
        if relinked:
            run.weeks[label]["nav"] = _labels(run.nav(site_weeks, label, run.langs[0]))
            run.result.weeks_relinked.append(label)
        if rebuild:
            candidates.append(label)
        elif not relinked:
            run.result.skipped_unchanged += len(run.langs)
            for lang in run.langs:
                run.produced.add(run.renderer.week_file(label, lang))
                run.produced.add(run.renderer.week_json_file(label, lang))
                waiting = (old_pages[label].get(lang) or {}).get("waiting")
                if waiting:
                    run.produced.add(str(waiting))
    for label in list(run.weeks):
        if label not in site_weeks:  # no mail any more (re-threaded, removed): drop it
            del run.weeks[label]
    last_save = time.monotonic()
    try:
        for done, label in enumerate(candidates, 1):
            run.build_week(label, site_weeks)
            # Weeks not rebuilt keep the links they were rendered with.
            run.weeks[label]["nav"] = _labels(run.nav(site_weeks, label, run.langs[0]))
            run.result.weeks_rebuilt.append(label)
            if progress is not None:
                progress(done, len(candidates))
            if time.monotonic() - last_save > CHECKPOINT_S:
                # An interrupted build resumes here: what is left is recorded as stale.
                run.save_manifest(seen, _left(run, stale, candidates, site_weeks))
                last_save = time.monotonic()
    except BaseException:
        run.save_manifest(seen, _left(run, stale, candidates, site_weeks))
        raise
    # Cheap when nothing changed: only pages whose inputs differ are rendered and written.
    run.aggregates(site_weeks)
    run.remove_leftovers(run.old.get("files", {}))
    run.save_manifest(seen, (stale & set(site_weeks)) - set(candidates))
    return run.result


def _left(
    run: _SiteBuild, stale: set[str], candidates: Sequence[str], site_weeks: Sequence[str]
) -> set[str]:
    """The weeks still to render when a build stops here: the next one starts with them."""
    return ((stale | set(candidates)) & set(site_weeks)) - set(run.result.weeks_rebuilt)


def _nothing_to_build(digest: Digest, weeks: Sequence[str] | None) -> str:
    """Why no week can be built: no mail at all, or none in the weeks asked for."""
    span = digest.date_range()
    if span is None:
        return (
            f"list {digest.list_name!r} has no mail yet: nothing to build (run `lore-digest sync`)"
        )
    first, last = (d.date().isoformat() for d in span)
    asked = ", ".join(weeks or ())
    return (
        f"no mail of {digest.list_name} in {asked} ({digest.tz}): "
        f"its mail runs from {first} to {last}"
    )


def _labels(nav: WeekNav) -> list[str | None]:
    return [nav.prev.label if nav.prev else None, nav.next.label if nav.next else None]


# The neighbouring weeks' links of a week page (templates/_weeknav.html.j2).
_WEEKNAV = re.compile(r'<nav class="weeknav"[^>]*>.*?</nav>', re.DOTALL)


def _page_key(content: str, nav: WeekNav, in_progress: bool) -> str:
    """What a week page (and its JSON) is made of: its report, links, state."""
    return _sha(_json([content, *_labels(nav), in_progress]))


def _nav_changed(run: _SiteBuild, site_weeks: Sequence[str], label: str) -> bool:
    """Whether a week's previous/next week differs from its last rendering."""
    at = site_weeks.index(label)
    now = [site_weeks[at - 1] if at > 0 else None]
    now.append(site_weeks[at + 1] if at + 1 < len(site_weeks) else None)
    return bool(run.weeks.get(label, {}).get("nav") != now)
