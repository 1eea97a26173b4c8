"""Take the README's picture of the site: kvmarm 2022-W19 from the shared corpus.

    .venv/bin/python scripts/site-screenshot.py [--corpus ../shared/corpus/kvmarm-0.git]
        [--out docs/site-kvmarm-2022-W19.png]

Needs the test extras (playwright) and Debian's chromium (scripts/install-test-deps.sh);
the site is built through the command line into a temporary folder, as a user would.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/kvmarm-0.git")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/site-kvmarm-2022-W19.png")
    parser.add_argument("--lang", default="en")
    opts = parser.parse_args()
    cli = [sys.executable, "-m", "lore_digest"]
    with tempfile.TemporaryDirectory(prefix="lore-digest-shot-") as tmp:
        db, site = Path(tmp) / "s.sqlite3", Path(tmp) / "site"
        subprocess.run(
            [*cli, "--db", db, "sync", "--mirror", opts.corpus, "--list", "kvmarm", "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [*cli, "--db", db, "site", "--list", "kvmarm", "--week", "2022-W17..2022-W20",
             "--lang", f"{opts.lang},zh" if opts.lang != "zh" else "zh,en", "--out", site, "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        suffix = "" if opts.lang == "zh" else f".{opts.lang}"
        page = site / f"kvmarm-2022-W19{suffix}.html"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            tab = browser.new_page(viewport={"width": 1100, "height": 1300}, device_scale_factor=1)
            tab.goto(page.as_uri())
            opts.out.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(opts.out))
            browser.close()
    print(f"wrote {opts.out}")


if __name__ == "__main__":
    main()
