"""lore.kernel.org (any public-inbox-httpd) over HTTP: search results and threads as mboxrd.

For users who want a few weeks of a list without cloning its git epochs. The endpoints,
as verified against public-inbox-httpd (1.9) and its WWW.pm / SearchView.pm / Mbox.pm:

* ``POST {base}/?x=m&q=rt:A..B`` answers a gzipped mboxrd of *every* message matching the
  Xapian query (the server pages through the results itself; there is no `o=`/`l=` limit
  for `x=m`). `rt:` is the Received time in Unix seconds, inclusive at both ends; it only
  grows as mail arrives, unlike the sender's Date. No match: 404 "No results found". A GET
  ignores `x=m` (HTML), and a request *body* starting `x=` (what the web form, and liblore,
  send) or `t=1` widens the answer to whole threads, so we POST an empty body.
* ``GET {base}/{Message-ID}/t.mbox.gz`` answers the whole thread containing that message,
  404 when unknown.

Each message in the mboxrd is ``From mboxrd@z Thu Jan  1 00:00:00 1970`` + the original
bytes with body lines matching ``>*From `` given one more ``>``, + one ``\\n``; undoing both
gives back the bytes public-inbox stored (byte-identical to its git blob), so the ingest's
Message-ID dedupe recognises mail already stored from a mirror as the same mail.

Politeness is the point of this module: one request at a time, a pause between requests,
a User-Agent naming the tool, and retries that back off (honouring Retry-After) instead of
hammering a shared service.
"""

from __future__ import annotations

import gzip
import random
import re
import time
import zlib
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import httpx

from lore_digest.errors import SourceError
from lore_digest.version import __version__
from lore_digest.vocabulary import retry_after_seconds

PROJECT_URL = "https://pypi.org/project/lore-digest/"
USER_AGENT = f"lore-digest/{__version__} (+{PROJECT_URL})"

_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Characters public-inbox leaves unescaped in Message-ID URLs (PublicInbox::MID::MID_ESC).
_MID_SAFE = "!$&'()*+,;=:@~"


class LoreHTTPError(SourceError):
    """A lore request failed for good (after retries, or a status that retrying cannot fix)."""


class _Retryable(Exception):
    """A failure worth another attempt; `wait` is the server's Retry-After, if it gave one."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def normalize_base(url: str) -> str:
    """`https://lore.kernel.org/kvmarm/` → `https://lore.kernel.org/kvmarm` (checked)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as exc:
        raise SourceError(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SourceError(f"not an http(s) URL of a public-inbox: {url!r}")
    if parts.query or parts.fragment:
        raise SourceError(f"give the inbox URL without ?query or #fragment: {url!r}")
    path = parts.path.rstrip("/")
    if not path:
        raise SourceError(f"{url!r} names a server, not an inbox: add the list, e.g. /kvmarm")
    return f"{parts.scheme}://{parts.netloc}{path}"


def split_mboxrd(data: bytes) -> list[bytes]:
    """Messages of a public-inbox mboxrd, with the From line, quoting and final newline undone."""
    if not data:
        return []
    if not data.startswith(b"From "):
        raise SourceError("not an mbox: it does not start with a 'From ' line")
    starts = list(_MBOX_SEPARATOR.finditer(data))
    messages = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(data)
        chunk = data[match.end() : end]
        if chunk.endswith(b"\n"):
            chunk = chunk[:-1]  # Mbox.pm appends one "\n" after every body
        if b">From " in chunk:
            chunk = _MBOXRD_QUOTED.sub(rb"\1", chunk)
        messages.append(chunk)
    return messages


def _gunzip(body: bytes) -> bytes:
    """The mbox inside a (possibly truncated) gzip answer; truncation is retryable."""
    if not body.startswith(b"\x1f\x8b"):
        return body  # a proxy already undid the gzip (Content-Encoding), or plain mbox
    try:
        return gzip.decompress(body)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _Retryable(f"damaged gzip body ({exc or type(exc).__name__})") from exc


class LoreClient:
    """One public-inbox over HTTP, asked politely: serial requests, pauses, backoff."""

    def __init__(
        self,
        base: str,
        *,
        client: httpx.Client | None = None,
        delay: float = 1.0,
        timeout: float = 120.0,
        attempts: int = 6,
        backoff: float = 2.0,
        max_backoff: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        on_retry: Callable[[str, float], None] | None = None,
    ) -> None:
        self.base = normalize_base(base)
        self.delay = delay
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.jitter = jitter
        self.on_retry = on_retry  # (what went wrong, seconds until the next attempt)
        self.requests = 0
        self._owned = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        # A caller's client keeps its own User-Agent unless it is httpx's anonymous default.
        agent = self._client.headers.get("User-Agent", "")
        self._headers = {"User-Agent": USER_AGENT} if agent.startswith("python-httpx") else {}
        self._last_request_end: float | None = None

    def close(self) -> None:
        """Close the HTTP connection pool if we created it."""
        if self._owned:
            self._client.close()

    def __enter__(self) -> LoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two endpoints ----------------------------------------------------------------

    def search(self, query: str) -> list[bytes]:
        """Raw bytes of every message matching a public-inbox search query (may be [])."""
        url = f"{self.base}/"
        body = self._fetch("POST", url, {"x": "m", "q": query}, missing_ok=True)
        return split_mboxrd(body)

    def thread(self, message_id: str) -> list[bytes]:
        """Raw bytes of every message of the thread containing `message_id` ([] if unknown)."""
        url = f"{self.base}/{quote(message_id, safe=_MID_SAFE)}/t.mbox.gz"
        return split_mboxrd(self._fetch("GET", url, None, missing_ok=True))

    # -- transport ------------------------------------------------------------------------

    def _fetch(
        self, method: str, url: str, params: dict[str, str] | None, *, missing_ok: bool
    ) -> bytes:
        """The decompressed body, retrying what a later attempt can fix."""
        shown = f"{method} {url}" + (f"?q={params['q']}" if params and "q" in params else "")
        last = ""
        for attempt in range(self.attempts):
            self._pause()
            try:
                return self._attempt(method, url, params, missing_ok=missing_ok)
            except _Retryable as exc:
                last = exc.reason
                if attempt + 1 < self.attempts:
                    wait = self._backoff(attempt, exc.wait)
                    if self.on_retry is not None:
                        self.on_retry(exc.reason, wait)
                    self.sleep(wait)
        last = " ".join(last.split())  # one line, whatever the transport said
        raise LoreHTTPError(f"{shown} failed after {self.attempts} attempts: {last}")

    def _pause(self) -> None:
        """Keep `delay` seconds between the end of one request and the start of the next."""
        if self._last_request_end is None or self.delay <= 0:
            return
        left = self.delay - (time.monotonic() - self._last_request_end)
        if left > 0:
            self.sleep(left)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; the server's Retry-After wins when longer."""
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        wait = ceiling * (0.5 + self.jitter() / 2)  # "equal jitter": never less than half
        if retry_after is not None:
            if retry_after > self.max_backoff:
                raise LoreHTTPError(
                    f"{self.base} asks to wait {retry_after:.0f} s (Retry-After): try again later"
                )
            wait = max(wait, retry_after)
        return wait

    def _attempt(
        self, method: str, url: str, params: dict[str, str] | None, *, missing_ok: bool
    ) -> bytes:
        self.requests += 1
        try:
            # POST an empty body on purpose: a body starting "x=" makes public-inbox expand
            # the results to whole threads.
            response = self._client.request(
                method,
                url,
                params=params,
                content=b"" if method == "POST" else None,
                headers=self._headers,
            )
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # refused, reset, body shorter than announced, …
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._last_request_end = time.monotonic()  # a backoff wait counts as the pause
        status = response.status_code
        if status == 200:
            data = _gunzip(response.content)
            if data and not data.startswith(b"From "):
                kind = response.headers.get("Content-Type", "unknown type")
                raise LoreHTTPError(
                    f"{url} answered {kind} instead of an mbox (a bot check or login page?)"
                )
            return data
        if status in (300, 404) and missing_ok and self._is_no_results(response):
            return b""
        if status in _RETRY_STATUS:
            raise _Retryable(
                f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After"))
            )
        raise LoreHTTPError(self._explain(status, url))

    @staticmethod
    def _is_no_results(response: httpx.Response) -> bool:
        """public-inbox's 404 for an empty result, unlike its 404 for an unknown inbox."""
        if response.request.method == "GET":
            # t.mbox.gz of a Message-ID this inbox lacks: 404, or 300 listing other inboxes.
            return True
        return b"No results found" in response.content[:200]

    def _explain(self, status: int, url: str) -> str:
        if status == 404:
            return f"{self.base} is not a public-inbox archive (HTTP 404 for {url})"
        if status == 501:
            return f"{self.base} has no search index (HTTP 501): use --mirror instead"
        return f"{url}: HTTP {status}"
