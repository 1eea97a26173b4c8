"""The site in a real browser (Playwright driving Debian's /usr/bin/chromium).

Served on 127.0.0.1 by the project's own `serve` code: pages load without console
errors, links work by clicking, search finds a series (served and from file://), pages
fit a 375 px phone screen, and hostile mail neither runs nor breaks the layout.
Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import hostile_mail
import test_escape
from lore_digest.digest import Digest, DigestSettings
from lore_digest.ingest import sync_mbox
from lore_digest.site import build_site
from lore_digest.site.serve import make_server
from lore_digest.store.db import Store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WEEKS = ("2022-W18", "2022-W19", "2022-W20")
ITS = "[PATCH v3 0/4] KVM: arm64: vgic: Misc ITS fixes"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is absent: install Debian's chromium package (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is needed (pip install playwright)"
)


def _serve(root: Path) -> Iterator[str]:
    server = make_server(root, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def site_dir(synced_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-site")
    with Store.open(synced_db) as store:
        settings = DigestSettings(now=NOW, people=("maz@kernel.org",))
        build_site(Digest(store, "kvmarm", settings), out, langs=("zh", "en"), weeks=WEEKS)
    return out


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser-hostile")
    out = tmp / "site"
    with Store.open(tmp / "h.sqlite3") as store:
        sync_mbox(store, hostile_mail.write_hostile_mbox(tmp / "h.mbox"), hostile_mail.LIST)
        # The Markdown attacks: a changelog that closes a fence, a phishing link quoted.
        sync_mbox(store, test_escape.write_attack_mbox(tmp / "a.mbox"), hostile_mail.LIST)
        build_site(
            Digest(store, hostile_mail.LIST, DigestSettings(now=NOW)), out, langs=("zh", "en")
        )
    return out


@pytest.fixture(scope="module")
def site_url(site_dir: Path) -> Iterator[str]:
    yield from _serve(site_dir)


@pytest.fixture(scope="module")
def hostile_url(hostile_dir: Path) -> Iterator[str]:
    yield from _serve(hostile_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


class Watched:
    """A page with its console errors, uncaught exceptions and dialogs recorded."""

    def __init__(self, browser: Any, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def fits(self) -> bool:
        """No horizontal scrolling: nothing wider than the viewport."""
        return bool(
            self.page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser, DESKTOP)
    yield watched
    watched.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser, PHONE)
    yield watched
    watched.close()


def test_index_loads_cleanly(desktop: Watched, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "index.html")
    assert "2022-W20" in page.title()
    assert page.locator("article.thread").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-index.png"))
    page.goto(site_url + "kvmarm-2022-W19.en.html")
    page.screenshot(path=str(ARTIFACTS / "site-week-2022-W19.en.png"))
    assert desktop.errors == []


def test_navigation_by_clicking(desktop: Watched, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "index.en.html")
    page.locator("#previous-weeks a", has_text="2022-W19").click()
    page.wait_for_url("**/kvmarm-2022-W19.en.html")
    thread = page.locator("article.thread", has=page.locator("h3", has_text=ITS))
    assert thread.count() == 1
    thread.locator("a.series-link").click()
    page.wait_for_url("**/series/*.en.html")
    assert ITS in page.locator("h1").inner_text()
    assert page.locator("#status-history tbody tr").count() >= 3
    page.locator("nav.top a", has_text="Archive").click()
    page.wait_for_url("**/archive.en.html")
    page.locator("li.wk.current a").click()
    page.wait_for_url("**/kvmarm-2022-W20.en.html")
    page.locator("nav.top a.lang").click()  # language switch: same week in Chinese
    page.wait_for_url("**/kvmarm-2022-W20.html")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert desktop.errors == []


def _search(watched: Watched, url: str, words: str) -> list[str]:
    page = watched.page
    page.goto(url)
    page.locator("#search-q").fill(words)
    page.wait_for_selector("#search-results a.hit")
    return [t.strip() for t in page.locator("#search-results a.hit").all_inner_texts()]


def test_search_finds_a_series(desktop: Watched, site_url: str) -> None:
    assert ITS in _search(desktop, site_url + "kvmarm-2022-W18.en.html", "misc ITS")
    page = desktop.page
    page.locator("#search-results a.hit", has_text=ITS).first.click()
    page.wait_for_url("**/kvmarm-2022-W2*.en.html#t-*")
    assert page.locator("article.thread:target h3").inner_text().count(ITS) == 1
    assert desktop.errors == []


def test_search_works_from_file_url(desktop: Watched, site_dir: Path) -> None:
    series_page = next(p for p in (site_dir / "series").glob("*.html"))
    assert ITS in _search(desktop, series_page.as_uri(), "ITS fixes")
    assert desktop.errors == []


@pytest.mark.parametrize(
    "path", ["index.html", "kvmarm-2022-W19.html", "kvmarm-2022-W19.en.html", "archive.html"]
)
def test_phone_width_has_no_horizontal_scroll(phone: Watched, site_url: str, path: str) -> None:
    phone.page.goto(site_url + path)
    assert phone.fits()
    if path == "kvmarm-2022-W19.html":
        ARTIFACTS.mkdir(exist_ok=True)
        phone.page.screenshot(path=str(ARTIFACTS / "site-week-2022-W19-phone.png"))


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["1280", "390"])
def test_person_subsystem_and_week_pages_at_desktop_and_phone_width(
    browser: Any, site_url: str, viewport: dict[str, int]
) -> None:
    """Reached by clicking from the week page, as a reader would; each fits the screen,
    loads without errors, and is photographed for a person to look at."""
    watched = Watched(browser, viewport)
    width = viewport["width"]
    try:
        page = watched.page
        page.goto(site_url + "kvmarm-2022-W19.en.html")
        assert watched.fits()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-week-2022-W19-{width}.png"))
        page.locator("a.person-link").first.click()
        page.wait_for_url("**/people/*.en.html")
        assert page.locator("#queue ul.cards li").count() >= 1
        assert watched.fits(), f"person page scrolls sideways at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"site-person-{width}.png"), full_page=True)
        page.go_back()
        page.locator("article.thread a.subsystem").first.click()
        page.wait_for_url("**/subsystems/*.en.html")
        assert page.locator(".subsystem-week").count() >= 1
        assert watched.fits(), f"subsystem page scrolls sideways at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"site-subsystem-{width}.png"), full_page=True)
        page.locator("nav.top a", has_text="Subsystems").click()
        page.wait_for_url("**/subsystems/index.en.html")
        assert page.locator("ul.cards li").count() >= 1
        assert watched.errors == []
    finally:
        watched.close()


def test_series_history_and_trailers_are_cards_on_a_phone(browser: Any, site_url: str) -> None:
    """At 390 px the "status by week" table and the trailers table are one card per row:
    a week label such as "2022-W19" or a reviewer's name is never broken over lines."""
    watched = Watched(browser, {"width": 390, "height": 844})
    try:
        page = watched.page
        page.goto(site_url + "kvmarm-2022-W19.en.html")
        thread = page.locator("article.thread", has=page.locator("h3", has_text=ITS))
        names = thread.locator("table.trailers ul.given a")
        assert names.count() >= 1
        for link in names.all():
            assert link.evaluate("a => a.getClientRects().length") == 1, link.inner_text()
        thread.locator("a.series-link").click()
        page.wait_for_url("**/series/*.en.html")
        weeks = page.locator("table.history a.nowrap")
        assert weeks.count() >= 3
        for link in weeks.all():
            assert link.evaluate("a => a.getClientRects().length") == 1, link.inner_text()
        assert (
            page.locator("table.history thead").evaluate("e => getComputedStyle(e).display")
            == "none"
        )
        assert watched.fits() and watched.errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "site-series-390.png"), full_page=True)
    finally:
        watched.close()


def _pages(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html"))


def test_hostile_site_runs_nothing(browser: Any, hostile_url: str, hostile_dir: Path) -> None:
    for viewport in (PHONE, DESKTOP):
        watched = Watched(browser, viewport)
        try:
            for path in _pages(hostile_dir):
                watched.page.goto(hostile_url + path)
                watched.page.wait_for_load_state("load")
                ran = watched.page.evaluate(f"typeof window.{hostile_mail.SENTINEL}")
                assert ran == "undefined", path
                assert watched.fits(), f"{path} scrolls sideways at {viewport['width']} px"
            watched.page.goto(hostile_url + f"hostile-{hostile_mail.WEEK}.en.html")
            # Hover and click every link of the long thread: handlers would fire now.
            for link in watched.page.locator("article.thread h3 a").all()[:5]:
                link.hover()
            assert watched.page.locator("#search-q").count() == 1
            watched.page.locator("#search-q").fill("evil series")
            watched.page.wait_for_selector("#search-results a.hit")
            assert watched.fits()
            assert watched.page.evaluate(f"typeof window.{hostile_mail.SENTINEL}") == "undefined"
            if viewport is PHONE:
                ARTIFACTS.mkdir(exist_ok=True)
                watched.page.screenshot(path=str(ARTIFACTS / "site-hostile-phone.png"))
            assert watched.dialogs == []
            # A console error here would be the CSP blocking something injected.
            assert watched.errors == []
        finally:
            watched.close()


# What a page holds that the templates never write: links out of the site other than to
# the archive, images, scripts other than ours, event-handler attributes.
_FOREIGN = """() => ({
    links: [...document.querySelectorAll("a[href]")]
        .map(a => new URL(a.href, location.href))
        .filter(u => u.origin !== location.origin && u.hostname !== "lore.kernel.org")
        .map(String),
    images: document.querySelectorAll("img, svg, iframe, object, embed").length,
    scripts: [...document.scripts].map(s => s.getAttribute("src")),
    handlers: [...document.querySelectorAll("*")].flatMap(
        e => [...e.attributes].filter(a => a.name.startsWith("on")).map(a => a.name)),
})"""


@pytest.mark.parametrize("suffix", ["", ".en"])
def test_markdown_attacks_are_text_in_the_browser(
    browser: Any, hostile_url: str, suffix: str
) -> None:
    """The quoted phishing link and the changelog's fence-breaking payloads are text."""
    watched = Watched(browser, DESKTOP)
    try:
        page = watched.page
        page.goto(hostile_url + f"hostile-{hostile_mail.WEEK}{suffix}.html")
        page.wait_for_load_state("load")
        found = page.evaluate(_FOREIGN)
        assert found == {"links": [], "images": 0, "scripts": ["search.js"], "handlers": []}
        thread = page.locator("article.thread", has=page.locator("pre", has_text="~~~"))
        assert thread.count() == 1
        # The changelog is shown whole, as text, in its <pre>.
        changes = thread.locator("details.changes pre").inner_text()
        assert "[Changelog link](https://evil.example/changelog)" in changes
        assert test_escape.IMG in changes
        # The cover letter's phishing link, quoted by the summary, is text: clicking it
        # goes nowhere.
        quote = thread.locator("section.summary .item", has_text=test_escape.PHISH).first
        assert quote.locator("a:not(.cite)").count() == 0
        before = page.url
        quote.get_by_text("click to update", exact=False).first.click()
        assert page.url == before
        for link in thread.locator("a").all()[:8]:
            link.hover()
        assert page.evaluate(f"typeof window.{hostile_mail.SENTINEL}") == "undefined"
        assert watched.dialogs == [] and watched.errors == []
    finally:
        watched.close()
