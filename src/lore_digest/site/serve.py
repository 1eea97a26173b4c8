"""`lore-digest serve DIR`: a loopback HTTP server for a built site.

The site works from file:// too; serving it is for browsers or tools that treat file://
pages specially. Loopback only: this is a preview, not a public web server.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
from pathlib import Path

from lore_digest.errors import UsageError

HOST = "127.0.0.1"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the right types for the feed and the search index."""

    extensions_map = {  # noqa: RUF012 (the base class declares it as a plain dict)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".atom": "application/atom+xml",
        ".js": "text/javascript",
        ".json": "application/json",
        ".css": "text/css",
        ".html": "text/html; charset=utf-8",
    }

    def end_headers(self) -> None:
        # A preview must show the current build, never a cached older one.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the CLI prints the address; a log line per request is noise."""


def make_server(out_dir: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server bound to 127.0.0.1:`port` (0: any free port) serving `out_dir`.

    Split from `serve` so tests can run it in a thread and shut it down.
    """
    if not (out_dir / "index.html").is_file():
        raise UsageError(f"{out_dir} has no index.html: build the site first")
    handler = functools.partial(_Handler, directory=str(out_dir))
    try:
        return http.server.ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {HOST}:{port}: {exc}") from exc


def run_server(server: http.server.ThreadingHTTPServer) -> None:
    """Serve until interrupted (Ctrl-C is how a preview ends: not an error)."""
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def serve(out_dir: Path, port: int = 8000) -> None:
    """Serve the site in `out_dir` on http://127.0.0.1:`port`/ until interrupted."""
    run_server(make_server(out_dir, port))
