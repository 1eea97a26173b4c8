"""The HTML site: pages, content equal to the Markdown report, links, incremental builds,
and hostile mail rendered inert (static checks; the browser checks are in
test_site_browser.py)."""

from __future__ import annotations

import html
import json
import mailbox
import random
import re
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import hostile_mail
import test_escape
from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.week import iso_week_window
from lore_digest.ingest import sync_mbox
from lore_digest.model import Summary, SummaryItem, Thread
from lore_digest.report.build import ReportBuilder
from lore_digest.site import SiteResult, build_site, weeks_touched
from lore_digest.site.build import MANIFEST
from lore_digest.site.render import SiteRenderer, WeekNav, summary_html
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WEEKS = ("2022-W18", "2022-W19", "2022-W20")
PMU = "[PATCH v3 0/4] KVM: arm64: Do not communicate host pmu event changes by accessing hyp data"
ITS = "[PATCH v3 0/4] KVM: arm64: vgic: Misc ITS fixes"
OWN_SCRIPTS = {"search.js", "../search.js"}
# Elements the templates never write: one in a page came from mail.
FOREIGN_TAGS = {"img", "svg", "iframe", "object", "embed", "math", "base", "frame", "style"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "data", "poster", "xlink:href"}


# -- helpers ------------------------------------------------------------------------------


@dataclass
class Tag:
    name: str
    attrs: dict[str, str]


class _Collector(HTMLParser):
    """Every start tag with its attributes, ids, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []
        self.ids: set[str] = set()
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(Tag(tag, values))
        if "id" in values:
            self.ids.add(values["id"])
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


def parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text("utf-8"))
    collector.close()
    return collector


def html_pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def broken_links(root: Path) -> list[str]:
    """Relative href/src that do not resolve to a file (or to an id in it)."""
    parsed = {page: parse(page) for page in html_pages(root)}
    problems = []
    for page, doc in parsed.items():
        for tag in doc.tags:
            for attribute in ("href", "src"):
                url = tag.attrs.get(attribute)
                if url is None or url.startswith(("https://", "http://", "mailto:")):
                    continue
                parts = urlsplit(url)
                if parts.scheme or parts.netloc:
                    problems.append(f"{page.name}: non-relative {url!r}")
                    continue
                target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
                if not target.is_file() or root.resolve() not in target.parents:
                    problems.append(f"{page.relative_to(root)}: {url!r} does not resolve")
                    continue
                if parts.fragment and target.suffix == ".html":
                    ids = parsed[target].ids if target in parsed else parse(target).ids
                    if parts.fragment not in ids:
                        problems.append(f"{page.relative_to(root)}: no id for {url!r}")
    return problems


def injection_problems(root: Path) -> list[str]:
    """Markup in the pages that did not come from the project's own templates."""
    problems = []
    for page in html_pages(root):
        text = page.read_text("utf-8")
        doc = parse(page)
        scripts = [t for t in doc.tags if t.name == "script"]
        if text.lower().count("<script") != len(scripts):
            problems.append(f"{page.name}: <script outside the project's tags")
        for tag in doc.tags:
            if tag.name in {"script"} and tag.attrs.get("src") not in OWN_SCRIPTS:
                problems.append(f"{page.name}: foreign script {tag.attrs}")
            if tag.name in FOREIGN_TAGS:
                problems.append(f"{page.name}: <{tag.name}> from mail")
            for name, value in tag.attrs.items():
                if name.startswith("on"):
                    problems.append(f"{page.name}: event handler {name}={value!r}")
                squashed = re.sub(r"[\s\x00-\x1f]", "", html.unescape(value)).lower()
                if name in URL_ATTRIBUTES and squashed.startswith(
                    ("javascript:", "vbscript:", "data:")
                ):
                    problems.append(f"{page.name}: {name}={value!r}")
        if doc.script_text.strip():
            problems.append(f"{page.name}: inline script {doc.script_text[:80]!r}")
    return problems


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of the session's store, safe to sync more mail into."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def _digest(store: Store, list_name: str) -> Digest:
    return Digest(store, list_name, DigestSettings(now=NOW))


def build(store_path: Path, out: Path, **options: object) -> SiteResult:
    with Store.open(store_path) as store:
        return build_site(_digest(store, "kvmarm"), out, **options)  # type: ignore[arg-type]


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(synced_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three weeks around 2022-W19, in Chinese and English."""
    out = tmp_path_factory.mktemp("site")
    build(synced_db, out, langs=("zh", "en"), weeks=WEEKS)
    return out


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crafted hostile mails, and the Markdown attacks of test_escape, synced as list
    "hostile"."""
    tmp = tmp_path_factory.mktemp("hostile")
    mbox = hostile_mail.write_hostile_mbox(tmp / "hostile.mbox")
    with Store.open(tmp / "h.sqlite3") as store:
        result = sync_mbox(store, mbox, hostile_mail.LIST)
        assert result.new == len(hostile_mail.hostile_mails())
        attack = test_escape.write_attack_mbox(tmp / "attack.mbox")
        assert sync_mbox(store, attack, hostile_mail.LIST).new == len(test_escape.attack_mails())
    return tmp / "h.sqlite3"


@pytest.fixture(scope="module")
def hostile_site(hostile_store: Path) -> Path:
    """The hostile list's site, every week built."""
    out = hostile_store.parent / "site"
    with Store.open(hostile_store) as store:
        build_site(_digest(store, hostile_mail.LIST), out, langs=("zh", "en"))
    return out


# -- pages and content ----------------------------------------------------------------------


def test_pages_exist(site: Path) -> None:
    names = {p.name for p in site.iterdir()}
    for label in WEEKS:
        assert {f"kvmarm-{label}.html", f"kvmarm-{label}.en.html"} <= names
    assert {
        "index.html",
        "index.en.html",
        "archive.html",
        "archive.en.html",
        "feed.atom",
        "search-index.json",
        "search-index.js",
        "site.css",
        "search.js",
        MANIFEST,
    } <= names
    assert list((site / "series").glob("*.html"))
    # Only hashes name series pages: never a Message-ID.
    assert all(
        re.fullmatch(r"[0-9a-f]{12}(\.en)?\.html", p.name) for p in (site / "series").iterdir()
    )


def _threads(page: Path) -> list[str]:
    """Subjects (unescaped) of the thread headings of a week page."""
    return [
        html.unescape(m)
        for m in re.findall(
            r'<article class="thread"[^>]*>\s*<h3>.*?<bdi>(.*?)</bdi>', page.read_text("utf-8")
        )
    ]


def test_w19_page_matches_report(site: Path, synced_db: Path) -> None:
    text = (site / "kvmarm-2022-W19.html").read_text("utf-8")
    assert 'class="n-messages">111<' in text
    subjects = _threads(site / "kvmarm-2022-W19.html")
    # PMU v3 is folded under v4 (posted the same week), ITS v3 is the newest of its chain.
    assert subjects.count(PMU) == 0 and subjects.count(ITS) == 1
    assert html.escape(PMU, quote=False) in text
    with Store.open(synced_db) as store:
        report = ReportBuilder(store, "kvmarm").build(iso_week_window("2022-W19"), now=NOW)
    # Superseded revisions of the week sit under their newest revision, not as threads.
    folded = [t for earlier in report.folded().values() for t in earlier]
    assert folded and sorted(subjects) == sorted(
        t.subject for _, threads in report.by_category() for t in threads
    )
    assert len(subjects) + len(folded) == len(report.threads)
    assert text.count('<details class="earlier-revision"') == len(folded)
    history = sum(1 for t in report.threads for m in t.messages if not m.in_window)
    assert text.count('<li class="win">') == 111
    assert text.count('<li class="hist">') == history > 0
    # The reply tree: a mail with replies opens a collapsible subtree of them.
    assert text.count('<ul class="mails tree">') == len(report.threads)
    assert text.count("<details open><summary>") > len(report.threads)
    hrefs = {t.attrs.get("href") for t in parse(site / "kvmarm-2022-W19.html").tags}
    for thread in report.threads:  # every archive link of the Markdown is on the page
        assert {m.url for m in thread.messages} <= hrefs
    # Content parts of the Markdown report, in the HTML.
    for part in (
        "版本历史",
        "各补丁 trailer",
        "🤖 总结",
        "📝 邮件列表",
        "✨ 本周要点",
        "📊 总体统计",
    ):
        assert part in text
    english = (site / "kvmarm-2022-W19.en.html").read_text("utf-8")
    assert "Revisions" in english and "Trailers per patch" in english
    assert 'href="kvmarm-2022-W19.html"' in english and 'href="kvmarm-2022-W19.en.html"' in text


def test_links_resolve(site: Path) -> None:
    assert broken_links(site) == []


def test_search_index_points_at_pages(site: Path) -> None:
    data = json.loads((site / "search-index.json").read_text("utf-8"))
    assert data["weeks"] == list(WEEKS)
    titles = {e["t"] for e in data["entries"]}
    assert ITS in titles and PMU in titles
    script = (site / "search-index.js").read_text("ascii")
    assert script.startswith("window.LORE_DIGEST_SEARCH = {") and "<" not in script
    for entry in data["entries"]:
        for week in entry["w"]:
            page = site / f"kvmarm-{data['weeks'][week]}.html"
            assert f'id="{entry["k"]}"' in page.read_text("utf-8")
        if entry["s"]:
            assert (site / "series" / f"{entry['s']}.html").is_file()


def test_feed_has_one_entry_per_week(site: Path) -> None:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.parse(site / "feed.atom").getroot()
    entries = feed.findall("a:entry", ns)
    assert len(entries) == len(WEEKS)
    assert entries[0].findtext("a:title", namespaces=ns, default="").endswith("2022-W20")
    for entry in entries:
        for link in entry.findall("a:link", ns):
            assert (site / link.attrib["href"]).is_file()
    # Each entry is as new as its week's last mail (the JSON beside the page has them).
    for entry in entries:
        label = entry.findtext("a:title", namespaces=ns, default="")[-8:]
        data = json.loads((site / f"kvmarm-{label}.json").read_text("utf-8"))
        dates = [m["date"] for t in data["threads"] for m in t["messages"] if m["in_window"]]
        updated = datetime.fromisoformat(entry.findtext("a:updated", namespaces=ns, default=""))
        assert updated == max(datetime.fromisoformat(d) for d in dates), label


def test_archive_calendar(site: Path) -> None:
    text = (site / "archive.en.html").read_text("utf-8")
    year = text.split('id="y2022"')[1]
    assert year.count('class="wk') == 52
    assert len(re.findall(r'<li class="wk has', year)) == len(WEEKS)
    current = re.findall(r'<li class="wk has h\d current"><a href="([^"]+)"', year)
    assert current == ["kvmarm-2022-W20.en.html"]


def test_series_page_spans_weeks(site: Path) -> None:
    week = (site / "kvmarm-2022-W19.html").read_text("utf-8")
    its = next(
        chunk
        for chunk in week.split('<article class="thread"')[1:]
        if f"<bdi>{html.escape(ITS)}</bdi></a>" in chunk.split("</h3>")[0]
    )
    slug = re.search(r'href="series/([0-9a-f]{12})\.html"', its)
    assert slug is not None
    page = (site / "series" / f"{slug.group(1)}.en.html").read_text("utf-8")
    assert all(f">v{v}</a>" in page for v in (1, 2, 3))
    for label in WEEKS:  # the series has mail in all three weeks
        assert f'href="../kvmarm-{label}.en.html#' in page
        assert f"series/{slug.group(1)}.html" in (site / f"kvmarm-{label}.html").read_text("utf-8")


def test_subsystem_pages_list_the_threads_touching_them(site: Path) -> None:
    """Each subsystem a thread shows links to its page; the page lists, week by week,
    the threads touching it, each linking back to its place on the week page."""
    week = (site / "kvmarm-2022-W19.en.html").read_text("utf-8")
    links = set(re.findall(r'<a class="subsystem" href="(subsystems/[^"]+\.en\.html)"', week))
    assert links
    index = (site / "subsystems" / "index.en.html").read_text("utf-8")
    for rel in links:
        page = (site / rel).read_text("utf-8")
        assert Path(rel).name in index
        anchors = re.findall(r'href="\.\./kvmarm-(2022-W\d\d)\.en\.html#(t-[0-9a-f]{12})"', page)
        assert anchors
        for label, anchor in anchors:
            assert f'id="{anchor}"' in (site / f"kvmarm-{label}.en.html").read_text("utf-8")
    # Newest week first.
    busiest = max(links, key=lambda rel: (site / rel).read_text("utf-8").count("<h2>"))
    weeks = re.findall(
        r"<h2><a href=\"\.\./kvmarm-(2022-W\d\d)", (site / busiest).read_text("utf-8")
    )
    assert weeks == sorted(weeks, reverse=True) and len(weeks) >= 2


def test_person_pages_show_the_queue_and_the_weeks(synced_db: Path, tmp_path: Path) -> None:
    """With `people` configured, the week page links each person's block to their page:
    the latest week's reviews asked of them (days waiting), their series, the trailers
    they gave, and every week they appear in."""
    store_path = copy_store(synced_db, tmp_path / "copy.sqlite3")
    out = tmp_path / "site"
    with Store.open(store_path) as store:
        settings = DigestSettings(now=NOW, people=("maz@kernel.org",))
        build_site(Digest(store, "kvmarm", settings), out, langs=("en",), weeks=WEEKS)
    week = (out / "kvmarm-2022-W19.en.html").read_text("utf-8")
    link = re.search(r'<a class="person-link" href="(people/[0-9a-f]{12}\.en\.html)"', week)
    assert link is not None
    page = (out / link.group(1)).read_text("utf-8")
    assert "Latest week: 2022-W20" in page and "&lt;maz@kernel.org&gt;" in page
    for label in WEEKS:
        assert f'href="../kvmarm-{label}.en.html#person-maz-kernel-org"' in page
    asked = re.search(r"Waiting for a word from them \(their files\) \((\d+)\)", page)
    assert asked is not None and int(asked.group(1)) >= 1
    assert re.search(r"</span> — \d+ days? <a class=\"lore\"", page)  # how long each waits
    assert "Reviews they gave that week (" in page and "from you" not in page
    assert broken_links(out) == []
    # Nobody configured any more: the next build drops the blocks and the pages.
    with Store.open(store_path) as store:
        build_site(
            Digest(store, "kvmarm", DigestSettings(now=NOW)), out, langs=("en",), weeks=WEEKS
        )
    assert 'class="person-link"' not in (out / "kvmarm-2022-W19.en.html").read_text("utf-8")
    assert not (out / link.group(1)).exists()


def test_pages_are_phone_and_print_ready(site: Path) -> None:
    css = (site / "site.css").read_text("utf-8")
    assert "overflow-wrap: anywhere" in css and "@media print" in css
    text = (site / "index.html").read_text("utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text


# -- incremental builds -------------------------------------------------------------------


def _quiet_w19_thread(store: Store) -> tuple[str, str]:
    """(Message-ID, subject) of a W19 thread with no mail after the week: a reply to it
    can change W19 only."""
    info = store.get_list("kvmarm")
    assert info is not None
    window = iso_week_window("2022-W19")
    for msg in store.messages_between(info.id, window.start_utc, window.end_utc):
        thread = store.messages_of_threads(info.id, [msg.thread_id or 0], 2**62)
        if msg.in_reply_to is None and all(m.date_utc < window.end_utc for m in thread):
            if not msg.subject.startswith("[PATCH"):
                continue
            return msg.message_id, msg.subject
    raise AssertionError("no quiet thread in 2022-W19")


def _reply_mbox(path: Path, parent: str, subject: str) -> Path:
    date = datetime(2022, 5, 12, 12, 0, tzinfo=UTC)
    path.write_bytes(
        "\n".join(
            [
                f"From tester@example.org {date.strftime('%a %b %d %H:%M:%S %Y')}",
                "From: Tess Tester <tester@example.org>",
                f"Subject: Re: {subject}",
                f"Date: {format_datetime(date)}",
                "Message-ID: <new-reply-1@example.org>",
                f"In-Reply-To: <{parent}>",
                f"References: <{parent}>",
                "Content-Type: text/plain; charset=utf-8",
                "",
                "Tested on my machine, works for me.",
                "",
            ]
        ).encode()
    )
    return path


def test_incremental_rebuild(synced_db: Path, tmp_path: Path) -> None:
    store_path = copy_store(synced_db, tmp_path / "copy.sqlite3")
    out = tmp_path / "site"
    first = build(store_path, out, weeks=WEEKS)
    assert first.skipped_unchanged == 0 and first.index == out / "index.html"
    again = build(store_path, out, weeks=WEEKS)
    assert again.written == [] and again.skipped_unchanged == len(WEEKS)

    with Store.open(store_path) as store:
        parent, subject = _quiet_w19_thread(store)
        synced = sync_mbox(store, _reply_mbox(tmp_path / "new.mbox", parent, subject), "kvmarm")
        assert synced.new == 1
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    third = build(store_path, out, weeks=WEEKS)
    written = {p.relative_to(out).as_posix() for p in third.written}
    week_pages = {w for w in written if w.startswith("kvmarm-")}
    assert week_pages == {"kvmarm-2022-W19.html", "kvmarm-2022-W19.json"}
    assert third.skipped_unchanged == len(WEEKS) - 1
    allowed = {
        "index.html",
        "archive.html",
        "feed.atom",
        "search-index.json",
        "search-index.js",
    }
    # The thread's series page and its subsystems' pages show its mail count too.
    assert all(
        w in allowed or w in week_pages or w.startswith(("series/", "subsystems/")) for w in written
    )
    assert 'class="n-messages">112<' in (out / "kvmarm-2022-W19.html").read_text("utf-8")
    untouched = [
        p for p in before if p.relative_to(out).as_posix() not in written and p.name != MANIFEST
    ]
    assert untouched and all(p.read_bytes() == before[p] for p in untouched)
    assert broken_links(out) == []


def test_missing_page_is_rebuilt(synced_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(synced_db, out, weeks=WEEKS[:2])
    (out / "kvmarm-2022-W18.html").unlink()
    result = build(synced_db, out, weeks=WEEKS[:2])
    assert [p.name for p in result.written] == ["kvmarm-2022-W18.html"]


def test_adding_a_week_relinks_its_neighbour(synced_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(synced_db, out, weeks=WEEKS[:2])
    result = build(synced_db, out, weeks=WEEKS[2:])
    written = {p.name for p in result.written}
    # W19 gains a "next" link; W18 keeps its page; the index moves to W20.
    assert {"kvmarm-2022-W19.html", "kvmarm-2022-W20.html", "index.html"} <= written
    assert "kvmarm-2022-W18.html" not in written
    assert 'href="kvmarm-2022-W20.html"' in (out / "kvmarm-2022-W19.html").read_text("utf-8")
    assert broken_links(out) == []


# -- hostile input --------------------------------------------------------------------------


def test_hostile_mail_is_inert(hostile_site: Path) -> None:
    pages = html_pages(hostile_site)
    assert len(pages) >= 8
    assert injection_problems(hostile_site) == []
    week = (hostile_site / f"hostile-{hostile_mail.WEEK}.html").read_text("utf-8")
    # The payloads are shown as text, not dropped.
    assert "&lt;script&gt;window.__lore_digest_pwned=1&lt;/script&gt;" in week
    assert "W" * 1000 in week and "Y" * 9992 in week and hostile_mail.RLO in week
    assert broken_links(hostile_site) == []


def test_hostile_feed_and_index_are_inert(hostile_site: Path) -> None:
    feed = (hostile_site / "feed.atom").read_text("utf-8")
    ET.fromstring(feed)  # well-formed despite control characters and markup in subjects
    assert "<script" not in feed
    script = (hostile_site / "search-index.js").read_text("ascii")
    assert "<" not in script and "\u2028" not in script
    json.loads((hostile_site / "search-index.json").read_text("utf-8"))


def test_message_ids_only_in_escaped_text_and_quoted_urls(hostile_site: Path) -> None:
    for page in html_pages(hostile_site):
        for tag in parse(page).tags:
            href = tag.attrs.get("href", "")
            if href.startswith("https://lore.kernel.org/"):
                path = urlsplit(href).path
                assert '"' not in path and "<" not in path and " " not in path
                assert urlsplit(href).query == "" and urlsplit(href).fragment == ""


LORE = "https://lore.kernel.org/kvmarm/"


@pytest.mark.parametrize(
    ("markdown", "expected", "forbidden"),
    [
        ("[x](javascript:alert(1))", "x", ["href", "<a"]),
        ("<img src=x onerror=alert(1)>", "&lt;img", ["<img"]),
        ("<script>alert(1)</script>", "&lt;script&gt;", ["<script"]),
        ("![p](https://evil.example/p.png)", "p (https://evil.example/p.png)", ["<img", "<a"]),
        ("[ok](relative.html)", "ok (relative.html)", ["href"]),
        (
            "**bold** [lore](https://lore.kernel.org/kvmarm/x@y/)",
            '<a href="https://lore.kernel.org/kvmarm/x@y/" rel="noopener noreferrer">lore</a>',
            [],
        ),
        ("`code` and *em*", "<code>code</code>", []),
        ('[q](https://a.example/"onmouseover="x)', "https://a.example/", ['onmouseover="', "<a"]),
        (
            test_escape.PHISH,
            "Security advisory: click to update (https://evil.example/phish)",
            ["<a", "href"],
        ),
        ("<https://evil.example>", "https://evil.example", ["<a", "href"]),
        ("<mallory@evil.example>", "mallory@evil.example", ["<a", "href", "mailto"]),
        ("see https://evil.example/phish", "see https://evil.example/phish", ["<a"]),
        ("[other list](https://lore.kernel.org/kvmarm-evil/x/)", "other list (", ["<a"]),
        ("[host](https://lore.kernel.org.evil.example/kvmarm/)", "host (", ["<a"]),
        ("&lt;img src=x onerror=alert(1)&gt;", "&lt;img", ["<img"]),
        ("[up](https://lore.kernel.org/kvmarm/../evil/)", "up (", ["<a"]),
        ("[up](https://lore.kernel.org/kvmarm/%2e%2e/evil/)", "up (", ["<a"]),
        (
            "[a](https://evil.example/x) [b](https://lore.kernel.org/kvmarm/y/)",
            'a (https://evil.example/x) <a href="https://lore.kernel.org/kvmarm/y/"',
            ['href="https://evil'],
        ),
    ],
)
def test_summary_markdown_is_sanitised(markdown: str, expected: str, forbidden: list[str]) -> None:
    """LLM prose: Markdown, with raw HTML off and links only into the list's archive.

    (Before links were limited, the relative link was dropped to its text and the image
    to nothing; both are now shown as text with their URL, like any other link.)"""
    out = str(summary_html(markdown, [LORE]))
    assert expected in out
    for bad in forbidden:
        assert bad not in out


def test_summary_links_need_an_allowed_prefix() -> None:
    link = "[tree](https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git/log/)"
    assert "<a" not in str(summary_html(link))  # no prefix: no link at all
    assert "<a" not in str(summary_html(link, [LORE]))
    assert 'href="https://git.kernel.org/' in str(
        summary_html(link, [LORE, "https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm"])
    )


def _hostile_week(hostile_site: Path, lang: str = "en") -> str:
    suffix = "" if lang == "zh" else f".{lang}"
    return (hostile_site / f"hostile-{hostile_mail.WEEK}{suffix}.html").read_text("utf-8")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quoted_mail_is_text_on_the_week_page(hostile_site: Path, lang: str) -> None:
    """The offline summary quotes the cover letter: its phishing link is shown, not linked."""
    page = _hostile_week(hostile_site, lang)
    doc = _Collector()
    doc.feed(page)
    hosts = {urlsplit(t.attrs["href"]).netloc for t in doc.tags if "href" in t.attrs}
    assert hosts <= {"", "lore.kernel.org"}, hosts
    assert not [t for t in doc.tags if t.name in {"img", "svg", "iframe"}]
    assert [t.attrs.get("src") for t in doc.tags if t.name == "script"] == ["search.js"]
    summaries = "".join(re.findall(r'<section class="summary">.*?</section>', page, re.S))
    assert html.escape(test_escape.PHISH, quote=False) in summaries
    assert "&lt;img src=x onerror=" in summaries and "<em>" not in summaries
    assert html.escape(test_escape.QUESTION, quote=False) in summaries


def _llm_prose(threads: list[Thread], text: str) -> list[Thread]:
    item = SummaryItem(text, ())
    summary = Summary("en", (item,), (item,), (item,), source="llm", model="m")
    return [replace(t, summary=summary) for t in threads]


def test_llm_prose_links_only_into_the_archive(hostile_store: Path) -> None:
    """LLM prose is Markdown: a link into the list's archive stays a link, one elsewhere
    (a quoted phishing link, a tree not configured) is shown as text."""
    with Store.open(hostile_store) as store:
        report = _digest(store, hostile_mail.LIST).week(hostile_mail.WEEK, lang="en")
    tree = "https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git"
    prose = (
        f"**Reviewed** in [the thread]({report.threads[0].url}), see [log]({tree}/log/), "
        f"{test_escape.PHISH}, <https://evil.example/auto> and {test_escape.IMG}"
    )
    report.threads = _llm_prose(report.threads, prose)
    nav = WeekNav(None, None)
    for renderer, tree_linked in (
        (SiteRenderer(hostile_mail.LIST, ("en",)), False),
        (SiteRenderer(hostile_mail.LIST, ("en",), link_prefixes=(tree,)), True),
    ):
        page = renderer.week(report, nav)
        summaries = "".join(re.findall(r'<section class="summary">.*?</section>', page, re.S))
        assert "<strong>Reviewed</strong>" in summaries
        assert f'<a href="{html.escape(report.threads[0].url)}" rel="noopener' in summaries
        assert (f'<a href="{tree}/log/"' in summaries) is tree_linked
        assert "Security advisory: click to update (https://evil.example/phish)" in summaries
        assert "evil.example/auto" in summaries and "&lt;img src=x onerror=" in summaries
        hosts = set(re.findall(r'href="https?://([^/"]+)', summaries))
        assert hosts <= {"lore.kernel.org", "git.kernel.org"} and "<img" not in summaries


def test_unsafe_list_name_is_refused(synced_db: Path, tmp_path: Path) -> None:
    from lore_digest.errors import UsageError

    with Store.open(synced_db) as store, pytest.raises(UsageError):
        build_site(_digest(store, "../kvmarm"), tmp_path)


def test_reply_changes_later_weeks_with_the_thread(synced_db: Path, tmp_path: Path) -> None:
    """A W19 reply in a thread that goes on in W20 changes W20's history too."""
    store_path = copy_store(synced_db, tmp_path / "copy.sqlite3")
    out = tmp_path / "site"
    build(store_path, out, weeks=WEEKS)
    with Store.open(store_path) as store:
        report = ReportBuilder(store, "kvmarm").build(iso_week_window("2022-W19"), now=NOW)
        its = next(t for t in report.threads if t.subject == ITS)
        sync_mbox(store, _reply_mbox(tmp_path / "new.mbox", its.id, ITS), "kvmarm")
    result = build(store_path, out, weeks=WEEKS)
    assert result.weeks_rebuilt == ["2022-W19", "2022-W20"]
    written = {p.name for p in result.written}
    assert {"kvmarm-2022-W19.html", "kvmarm-2022-W20.html"} <= written
    assert "kvmarm-2022-W18.html" not in written


def test_weeks_touched_follows_threads_and_revisions(synced_store: Store) -> None:
    builder = _digest(synced_store, "kvmarm")
    info = builder.info
    messages = synced_store.messages_between(info.id, 0, 2**62)
    w19 = iso_week_window("2022-W19")
    in_w19 = [m for m in messages if w19.start_utc <= m.date_utc < w19.end_utc]
    its_v3 = next(m for m in in_w19 if m.subject == ITS)
    touched = weeks_touched(builder, [its_v3])
    # Its own thread goes on into W20; v3 also supersedes v2, whose thread has W18 and
    # W19 mail, but only weeks from the new posting on can change.
    assert {"2022-W19", "2022-W20"} <= touched
    assert all(w >= "2022-W19" for w in touched)
    assert weeks_touched(builder, []) == set()


def test_a_thank_you_in_the_archives_first_months_touches_all_of_them(
    synced_store: Store,
) -> None:
    """Appliers of those weeks are learned from the whole span (facts.appliers): a new
    thank-you mail in it may change any of them; an ordinary reply does not."""
    from lore_digest.report.trust import may_decide

    builder = _digest(synced_store, "kvmarm")
    messages = synced_store.messages_between(builder.info.id, 0, 2**62)
    first = min(m.date_utc for m in messages)
    replies = [
        m
        for m in messages
        if m.subject.startswith("Re:") and first + 100 * 86400 < m.date_utc < first + 200 * 86400
    ]
    raws = synced_store.raw_many(m.pk for m in replies)
    thanks = next(m for m in replies if b"commit:" in raws[m.pk] and may_decide(raws[m.pk]))
    plain = next(m for m in replies if not may_decide(raws[m.pk]))
    span = {builder.week_of(first + day * 86400) for day in range(0, 238, 7)}
    assert span <= weeks_touched(builder, [thanks])
    assert builder.week_of(first) not in weeks_touched(builder, [plain])
    late = next(m for m in messages if m.date_utc > first + 400 * 86400)
    assert builder.week_of(first) not in weeks_touched(builder, [late])


def test_english_only_site_has_an_index(synced_db: Path, tmp_path: Path) -> None:
    build(synced_db, tmp_path, langs=("en",), weeks=WEEKS[1:2])
    assert (tmp_path / "index.html").is_file() and (tmp_path / "index.en.html").is_file()
    assert (tmp_path / "kvmarm-2022-W19.en.html").is_file()
    assert not (tmp_path / "kvmarm-2022-W19.html").exists()
    assert broken_links(tmp_path) == []


def test_dropping_a_language_removes_its_pages(synced_db: Path, tmp_path: Path) -> None:
    build(synced_db, tmp_path, langs=("zh", "en"), weeks=WEEKS[1:2])
    assert list(tmp_path.rglob("*.en.html"))
    build(synced_db, tmp_path, langs=("zh",), weeks=WEEKS[1:2])
    assert list(tmp_path.rglob("*.en.html")) == []
    assert broken_links(tmp_path) == []


def _write_mbox(path: Path, raws: list[bytes]) -> Path:
    box = mailbox.mbox(path, create=True)
    try:
        for raw in raws:
            box.add(raw)
    finally:
        box.close()
    return path


@pytest.mark.parametrize("joined", [False, True], ids=["held-back", "threads-joined"])
def test_incremental_site_equals_a_fresh_build(
    synced_store: Store, tmp_path: Path, joined: bool
) -> None:
    """Mail held back, then synced: the updated site is the one a fresh build makes.

    Checks `weeks_touched` end to end: a week it missed would keep a stale page. With
    `joined`, one held-back reply also names the first mail of a W16 thread in its
    References (a cross-thread reply): the two threads merge, the stored mail of one
    moves to the other, and the site learns of the moves from the store (thread_moves).
    """
    info = synced_store.get_list("kvmarm")
    assert info is not None
    start, end = iso_week_window("2022-W15"), iso_week_window("2022-W21")
    mails = synced_store.messages_between(info.id, start.start_utc, end.end_utc)
    raws = synced_store.raw_many(m.pk for m in mails)
    its = next(m for m in mails if m.subject == ITS)
    w18 = iso_week_window("2022-W18")
    middle = [m.pk for m in mails if w18.start_utc <= m.date_utc < w18.end_utc]
    late = {its.pk, *random.Random(19).sample(middle, 4)}
    if joined:
        w16 = iso_week_window("2022-W16")
        other = next(
            m
            for m in mails
            if w16.start_utc <= m.date_utc < w16.end_utc
            and m.thread_id == m.pk
            and m.thread_id != its.thread_id
            and sum(n.thread_id == m.thread_id for n in mails) > 3
        )
        reply = next(pk for pk in sorted(late) if b"\nReferences: " in raws[pk])
        raws[reply] = raws[reply].replace(
            b"\nReferences: ", f"\nReferences: <{other.message_id}> ".encode(), 1
        )
    store_path = tmp_path / "partial.sqlite3"
    out, fresh = tmp_path / "updated", tmp_path / "fresh"
    with Store.open(store_path) as store:
        first = [raws[m.pk] for m in mails if m.pk not in late]
        sync_mbox(store, _write_mbox(tmp_path / "first.mbox", first), "kvmarm")
        build_site(_digest(store, "kvmarm"), out)
        rest = [raws[pk] for pk in sorted(late)]
        sync_mbox(store, _write_mbox(tmp_path / "rest.mbox", rest), "kvmarm")
        updated = build_site(_digest(store, "kvmarm"), out)
        build_site(_digest(store, "kvmarm"), fresh)
        listed = store.get_list("kvmarm")
        assert listed is not None
        assert (store.last_move(listed.id) > 0) is joined, "the threads merged, or not"
    assert_same_site(fresh, out)
    assert "2022-W18" in updated.weeks_rebuilt
    if joined:  # the moved thread's weeks, whichever thread id it now has
        assert "2022-W16" in updated.weeks_rebuilt
    else:  # not every week of the seven: that is the point of being incremental
        assert len(updated.weeks_rebuilt) < 7


def assert_same_site(fresh: Path, out: Path) -> None:
    """The same files with the same bytes (the manifest aside)."""
    pages = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.name != MANIFEST)
    assert pages == sorted(p.relative_to(out) for p in out.rglob("*") if p.name != MANIFEST)
    differ = [
        p
        for p in pages
        if (fresh / p).is_file() and (fresh / p).read_bytes() != (out / p).read_bytes()
    ]
    assert differ == []


def test_an_interrupted_build_resumes_where_it_stopped(synced_db: Path, tmp_path: Path) -> None:
    """Ctrl-C (or any failure) during a long build keeps what was rendered: the next build
    renders only the weeks left, and ends with the same site as an uninterrupted one."""
    store_path = copy_store(synced_db, tmp_path / "copy.sqlite3")
    out, fresh = tmp_path / "site", tmp_path / "fresh"
    weeks = ("2022-W15", "2022-W16", "2022-W17", "2022-W18", "2022-W19", "2022-W20")

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(store_path, out, weeks=weeks, progress=stop_after_three)
    resumed = build(store_path, out, weeks=weeks)
    assert resumed.weeks_rebuilt == list(weeks[3:])
    build(store_path, fresh, weeks=weeks)
    assert_same_site(fresh, out)


def test_a_new_week_gives_its_neighbour_new_links_without_rebuilding_it(
    synced_db: Path, tmp_path: Path
) -> None:
    """2022-W20 arrives: 2022-W19's pages get their "next" link in place (its report is
    not made again), and the site equals one built with all three weeks at once."""
    out, fresh = tmp_path / "site", tmp_path / "fresh"
    langs = ("zh", "en")
    build(synced_db, out, langs=langs, weeks=WEEKS[:2])
    added = build(synced_db, out, langs=langs, weeks=WEEKS[2:])
    assert added.weeks_rebuilt == ["2022-W20"]
    assert added.weeks_relinked == ["2022-W19"]
    assert 'rel="next" href="kvmarm-2022-W20.html"' in (out / "kvmarm-2022-W19.html").read_text()
    build(synced_db, fresh, langs=langs, weeks=WEEKS)
    assert_same_site(fresh, out)
    # A page that is not as the manifest says is rebuilt, not patched.
    (out / "kvmarm-2022-W20.en.html").write_text("edited by hand", encoding="utf-8")
    again = build(synced_db, out, langs=langs, weeks=("2022-W21",))
    assert again.weeks_relinked == [] and "2022-W20" in again.weeks_rebuilt
