"""Posting a week's parts to one chat channel: signed, paced, retried, remembered.

Each kind speaks its own webhook API: Feishu/Lark (a `timestamp` in seconds and `sign`,
the base64 HMAC-SHA256 keyed with "timestamp\\nsecret" over nothing, in the JSON body;
an answer `code` other than 0 is an error, 19021 a bad signature), DingTalk (`timestamp`
in milliseconds and `sign`, the URL-encoded base64 HMAC-SHA256 of "timestamp\\nsecret"
keyed with the secret, as URL parameters; `errcode` other than 0 is an error), WeCom
(`errcode`), Slack (the body "ok"), Matrix (PUT of an m.room.message with a transaction
id made of list, week and part, so a retry never posts twice), Telegram (`sendMessage`,
`ok`), and a generic webhook (the report's JSON, with an HMAC-SHA256 of the body in
X-Lore-Digest-Signature when a secret is set).

Rate limits are kept by pacing each channel's posts (Feishu 100 a minute and 5 a
second per bot, DingTalk and WeCom 20 a minute, Slack and Telegram about one a second),
and a 429 or a kind's own "too fast" code is retried after its Retry-After (or an
exponential backoff with jitter). Anything else refused is a ChannelError: one line with
the channel's name and the reason, never a URL (webhook URLs carry access tokens) nor a
secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from lore_digest.channels.formats import Part
from lore_digest.errors import LoreDigestError

__all__ = [
    "ChannelError",
    "Endpoint",
    "Poster",
    "matrix_txn_id",
    "part_hash",
    "sign_dingtalk",
    "sign_feishu",
]

# Seconds between two posts of one channel (its documented rate limits, with margin).
PACING_S: Final = {
    "feishu": 0.65,
    "dingtalk": 3.1,
    "wecom": 3.1,
    "slack": 1.1,
    "telegram": 1.1,
    "matrix": 0.2,
    "webhook": 0.0,
}
ATTEMPTS: Final = 5
BACKOFF_S: Final = 2.0
MAX_WAIT_S: Final = 120.0
# The kinds' own "too many requests" answers (HTTP 200 with an error code).
_RATE_CODES: Final = {"feishu": {9499, 11232}, "dingtalk": {130101, 660026}, "wecom": {45009}}
SIGNATURE_HEADER: Final = "X-Lore-Digest-Signature"


class ChannelError(LoreDigestError):
    """A channel refused a message (or could not be reached): one line, no secrets."""


class _RateLimited(Exception):
    def __init__(self, wait: float | None) -> None:
        super().__init__("rate limited")
        self.wait = wait


def sign_feishu(secret: str, timestamp: int) -> str:
    """Feishu/Lark's bot signature: HMAC-SHA256 keyed with "timestamp\\nsecret" over an
    empty message, base64."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: HMAC-SHA256 of "timestamp\\nsecret" keyed with the
    secret, base64, URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(digest.digest()).decode())


def part_hash(part: Part) -> str:
    """What a part says (its body before signing): a resumed run compares it."""
    text = json.dumps(part.payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def matrix_txn_id(list_name: str, week: str, part: int, room: str, content: str = "") -> str:
    """The same transaction id for the same list, week, part, room and content: Matrix
    drops a repeated one, so a retry or a resumed run never posts the part twice."""
    text = f"lore-digest\n{list_name}\n{week}\n{part}\n{room}\n{content}"
    return "ld-" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how one channel is reached (from the config and the environment)."""

    name: str
    kind: str
    url: str = ""  # feishu, dingtalk, wecom, slack, webhook
    homeserver: str = ""  # matrix
    room: str = ""  # matrix
    api_url: str = "https://api.telegram.org"  # telegram
    chat_id: str = ""  # telegram
    secret: str = field(default="", repr=False)  # signing secret (feishu, dingtalk, webhook)
    token: str = field(default="", repr=False)  # matrix access token, telegram bot token

    def secrets(self) -> tuple[str, ...]:
        """Everything that must never be printed: the secret and token (whatever their
        length), and the webhook URL's credentials: user info, query values (raw and
        decoded) and token-like path segments (Slack's /services/T…/B…/<token>, Feishu's
        hook id, where Slack, Feishu, DingTalk and WeCom put the access token)."""
        parsed = urllib.parse.urlsplit(self.url)
        raw_values = [part.partition("=")[2] for part in parsed.query.split("&")]
        values = [*raw_values, *(urllib.parse.unquote_plus(v) for v in raw_values)]
        segments = [
            p
            for p in parsed.path.split("/")
            if len(p) >= 12 or (len(p) >= 8 and any(c.isdigit() for c in p))
        ]
        userinfo = parsed.netloc.rpartition("@")[0]
        found = [v for v in (*values, *segments, userinfo) if len(v) >= 4]
        return tuple(p for p in (self.secret, self.token, *found) if p)


@dataclass
class Request:
    """One HTTP request as it will be sent (what `--dry-run` prints, redacted)."""

    method: str
    url: str
    body: bytes
    headers: dict[str, str]

    def json_body(self) -> Any:
        return json.loads(self.body)


class Poster:
    """Sends parts to one endpoint; `sleep` and `clock` are injectable for tests."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._own_client = client is None
        self.sleep = sleep
        self.clock = clock
        self._last: float | None = None

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # -- requests ----------------------------------------------------------------------

    def request(
        self, part: Part, list_name: str, week: str, report_json: str = "", fresh: str = ""
    ) -> Request:
        """The HTTP request of one part, signed now; `fresh` makes Matrix take a part it
        has seen as new (`notify --again`)."""
        e = self.endpoint
        kind = e.kind
        if kind == "webhook":
            body = report_json.encode()
            headers = {"Content-Type": "application/json"}
            if e.secret:
                mac = hmac.new(e.secret.encode(), body, hashlib.sha256).hexdigest()
                headers[SIGNATURE_HEADER] = f"sha256={mac}"
            return Request("POST", e.url, body, headers)
        payload = dict(part.payload)
        url = e.url
        method = "POST"
        if kind == "feishu" and e.secret:
            timestamp = int(self.clock())
            payload = {
                "timestamp": str(timestamp),
                "sign": sign_feishu(e.secret, timestamp),
                **payload,
            }
        elif kind == "dingtalk" and e.secret:
            timestamp_ms = int(self.clock() * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={timestamp_ms}&sign={sign_dingtalk(e.secret, timestamp_ms)}"
        elif kind == "telegram":
            url = f"{e.api_url.rstrip('/')}/bot{e.token}/sendMessage"
            payload = {"chat_id": e.chat_id, **payload}
        elif kind == "matrix":
            room = urllib.parse.quote(e.room, safe="")
            txn = matrix_txn_id(list_name, week, part.number, e.room, part_hash(part) + fresh)
            url = (
                f"{e.homeserver.rstrip('/')}/_matrix/client/v3/rooms/{room}"
                f"/send/m.room.message/{txn}"
            )
            method = "PUT"
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if kind == "matrix":
            headers["Authorization"] = f"Bearer {e.token}"
        body = json.dumps(payload, ensure_ascii=False).encode()
        return Request(method, url, body, headers)

    def redact(self, text: str) -> str:
        """`text` with every secret of the endpoint replaced."""
        for secret in sorted(self.endpoint.secrets(), key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    # -- sending -----------------------------------------------------------------------

    def send(
        self, part: Part, list_name: str, week: str, report_json: str = "", fresh: str = ""
    ) -> None:
        """Post one part: paced, retried on rate limits and server errors, signed again
        at each attempt (a signature's timestamp must be fresh)."""
        name = self.endpoint.name
        for attempt in range(1, ATTEMPTS + 1):
            self._pace()
            request = self.request(part, list_name, week, report_json, fresh)
            try:
                response = self.client.request(
                    request.method, request.url, content=request.body, headers=request.headers
                )
                self._last = self.clock()
                self._check(response)
                return
            except _RateLimited as limited:
                wait = limited.wait
                reason = "rate limited"
            except httpx.TransportError as exc:
                self._last = self.clock()
                wait, reason = None, f"cannot reach the service ({type(exc).__name__})"
            except _ServerError as exc:
                wait, reason = None, str(exc)
            if attempt == ATTEMPTS:
                raise ChannelError(f"channel {name}: {reason}, gave up after {ATTEMPTS} attempts")
            backoff = BACKOFF_S * 2 ** (attempt - 1)
            self.sleep(
                min(MAX_WAIT_S, wait if wait is not None else backoff * random.uniform(1, 1.5))
            )

    def _pace(self) -> None:
        gap = PACING_S[self.endpoint.kind]
        if self._last is not None and gap:
            left = self._last + gap - self.clock()
            if left > 0:
                self.sleep(left)

    def _check(self, response: httpx.Response) -> None:
        """Raise what the answer means: rate limited, a server error (retried), or a
        refusal (ChannelError); return for success."""
        kind, name = self.endpoint.kind, self.endpoint.name
        status = response.status_code
        data = _json(response)
        if status == 429 or (
            kind == "telegram" and isinstance(data, dict) and data.get("error_code") == 429
        ):
            raise _RateLimited(_retry_after(response, data))
        if status >= 500:
            raise _ServerError(f"HTTP {status}")
        if status >= 400:
            raise ChannelError(
                f"channel {name}: refused with HTTP {status}{_reason(kind, data, self.redact)}"
            )
        if not 200 <= status < 300:  # a redirect (a login page, a moved hook) delivered nothing
            raise ChannelError(f"channel {name}: answered HTTP {status}, not a delivery")
        if kind in _RATE_CODES:
            if not isinstance(data, dict):
                raise ChannelError(f"channel {name}: the answer is not the service's JSON")
            code = data.get("code", data.get("StatusCode", data.get("errcode")))
            if code in _RATE_CODES[kind]:
                raise _RateLimited(None)
            if code != 0:
                raise ChannelError(f"channel {name}: refused{_reason(kind, data, self.redact)}")
        if kind == "slack" and response.text.strip() != "ok":
            raise ChannelError(
                f"channel {name}: refused: {self.redact(response.text.strip()[:200])}"
            )
        if kind == "telegram" and not (isinstance(data, dict) and data.get("ok") is True):
            raise ChannelError(f"channel {name}: refused{_reason(kind, data, self.redact)}")
        if kind == "matrix" and not (isinstance(data, dict) and data.get("event_id")):
            raise ChannelError(f"channel {name}: no event id in the answer")


class _ServerError(Exception):
    """A 5xx answer: retried."""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response, data: Any) -> float | None:
    """Seconds to wait: Retry-After, Telegram's parameters.retry_after, Matrix's
    retry_after_ms."""
    header = response.headers.get("Retry-After", "")
    if header.strip().isdigit():
        return float(header)
    if isinstance(data, dict):
        params = data.get("parameters")
        if isinstance(params, Mapping) and isinstance(params.get("retry_after"), int | float):
            return float(params["retry_after"])
        if isinstance(data.get("retry_after_ms"), int | float):
            return float(data["retry_after_ms"]) / 1000
    return None


def _reason(kind: str, data: Any, redact: Callable[[str], str]) -> str:
    """ ": code 19021 (sign match fail)" from an answer's error fields, redacted."""
    if not isinstance(data, dict):
        return ""
    code = data.get("code", data.get("errcode", data.get("error_code", data.get("errcode"))))
    message = data.get("msg", data.get("errmsg", data.get("description", data.get("error", ""))))
    text = f"code {code}" if code is not None else ""
    if message:
        text += f" ({message})" if text else str(message)
    return f": {redact(text)[:200]}" if text else ""
