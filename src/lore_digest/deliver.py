"""Mail a weekly digest: multipart/alternative (plain text, and HTML).

The plain-text part is the report as `--format txt` writes it (report.text: wrapped at
72 columns, no Markdown escapes, links as numbered footnotes), which is what mutt
shows. The HTML part is the Markdown report rendered by markdown-it-py
(raw HTML off) and then sanitised by nh3, because the report quotes subjects and names
written by strangers on a public list. Headers are built with the email package's
modern policy, which refuses CR/LF in header values, and every value taken from the
config or the store is checked first, so no list name, subject or address can add a
header or a recipient. The SMTP password only ever comes from the environment and is
scrubbed from any error text a server could echo it into.
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from html import escape

import nh3
from markdown_it import MarkdownIt

from lore_digest.digest import Digest, WeekSpec
from lore_digest.errors import LoreDigestError, UsageError
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.text import markdown_to_text
from lore_digest.settings import SMTP_PASSWORD_ENV, SmtpSettings, parse_mailbox
from lore_digest.vocabulary import LANGUAGE_TAGS, check_list_name

LIST_HEADER = "X-Lore-Digest-List"
WEEK_HEADER = "X-Lore-Digest-Week"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

SUBJECTS = {
    "en": "[{list} digest] {label}: {messages} {mails}, {threads} {thread_word}{partial}",
    "zh": "[{list} 周报] {label}：{messages} 封邮件，{threads} 个 thread{partial}",
}
PARTIAL = {"en": " (in progress)", "zh": "（本周进行中）"}
IN_PROGRESS_NOTE = {
    "en": "> ⏳ This week is still in progress: figures as of {now} ({tz}). "
    "The report is refreshed on every run; the complete one follows when the week ends.",
    "zh": "> ⏳ 本周尚未结束：统计截至 {now}（{tz}）。每次运行都会刷新，本周结束后生成完整周报。",
}


class DeliveryError(LoreDigestError):
    """The digest could not be handed to the SMTP server (the text never holds secrets)."""


class PartialDelivery(DeliveryError):
    """The server took the digest for some recipients and refused others.

    Distinct from DeliveryError because the mail *was* sent: sending it again would
    give the accepted recipients a second copy, so the runner records it as sent.
    """

    def __init__(self, message: str, message_id: str, refused: list[str]) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.refused = refused


def digest_subject(report: Report, *, in_progress: bool = False) -> str:
    """ "[kvmarm digest] 2022-W19: 111 mails, 14 threads", in the report's language."""
    lang = report.lang if report.lang in SUBJECTS else "en"
    messages, threads = report.stats.messages, report.stats.threads
    return SUBJECTS[lang].format(
        list=report.list_name,
        label=report.label,
        messages=messages,
        mails="mail" if messages == 1 else "mails",
        threads=threads,
        thread_word="thread" if threads == 1 else "threads",
        partial=PARTIAL[lang] if in_progress else "",
    )


def mark_in_progress(markdown: str, report: Report, now: datetime) -> str:
    """The Markdown with a note under the title saying the week has not ended yet."""
    lang = report.lang if report.lang in IN_PROGRESS_NOTE else "en"
    zone = report.start.tzinfo
    stamp = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    note = IN_PROGRESS_NOTE[lang].format(now=stamp, tz=report.tz)
    title, newline, rest = markdown.partition("\n")
    if not title.startswith("# "):
        return f"{note}\n\n{markdown}"
    return f"{title}{newline}\n{note}\n{rest}"


# -- HTML ---------------------------------------------------------------------------------


@cache
def _markdown_it() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


@cache
def _cleaner() -> nh3.Cleaner:
    # No images: a digest must not load anything remote when opened (tracking pixels).
    tags = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}
    return nh3.Cleaner(tags=tags, url_schemes={"http", "https", "mailto"})


_HTML_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body style="font-family: -apple-system, 'Segoe UI', 'Noto Sans', 'PingFang SC', sans-serif; \
line-height: 1.5; max-width: 60em; margin: 0 auto; padding: 0 1em;">
{body}
</body>
</html>
"""


def markdown_to_html(markdown: str, *, title: str, lang: str) -> str:
    """A whole HTML document of the Markdown, sanitised (the body comes from list mail)."""
    body = _cleaner().clean(_markdown_it().render(markdown))
    html_lang = LANGUAGE_TAGS.get(lang, lang)
    return _HTML_PAGE.format(lang=html_lang, title=escape(title), body=body)


# -- the message --------------------------------------------------------------------------


def _recipients(to: Sequence[str]) -> list[Address]:
    if isinstance(to, str):
        to = [to]  # a bare string would otherwise be read character by character
    if not to:
        raise UsageError("no recipients to mail the digest to")
    try:
        return [parse_mailbox(addr) for addr in to]
    except ValueError as exc:
        raise UsageError(f"bad recipient: {exc}") from None


def _msgid_domain(sender: Address) -> str:
    """The domain of the From address (a Message-ID must be unique, and ours to make)."""
    return sender.domain.strip("[]") or "lore-digest.invalid"


def build_digest_message(
    report: Report,
    *,
    to: Sequence[str],
    sender: str,
    now: datetime | None = None,
    in_progress: bool = False,
    markdown: str | None = None,
) -> EmailMessage:
    """The digest mail of a report, ready for `smtplib.SMTP.send_message`.

    `markdown` is the report as already rendered, else it is rendered here. A naive
    `now` is taken as UTC.
    Raises UsageError for a list name, label or address that would not be a safe header.
    """
    try:
        check_list_name(report.list_name)
    except ValueError:
        raise UsageError(
            f"list name {report.list_name!r} cannot be used in a mail header"
        ) from None
    try:
        from_address = parse_mailbox(sender)
    except ValueError as exc:
        raise UsageError(f"bad From address: {exc}") from None
    recipients = _recipients(to)
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = markdown if markdown is not None else render_markdown(report)
    if in_progress:
        text = mark_in_progress(text, report, moment)
    subject = digest_subject(report, in_progress=in_progress)
    msg = EmailMessage()
    try:
        msg["From"] = from_address
        msg["To"] = recipients
        msg["Subject"] = subject
        msg["Date"] = format_datetime(moment.astimezone(UTC))
        # No idstring: a longer id gets folded onto two lines, which some MTAs mangle.
        msg["Message-ID"] = make_msgid(domain=_msgid_domain(from_address))
        msg[LIST_HEADER] = f"<{report.list_name}>"
        msg[WEEK_HEADER] = report.label
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        msg["Precedence"] = "bulk"  # the same, for autoresponders that predate RFC 3834
        msg["Content-Language"] = report.lang
    except ValueError as exc:  # CR/LF in a header value (the email package refuses it)
        raise UsageError(f"cannot build the digest's headers: {exc}") from None
    msg.set_content(markdown_to_text(text), subtype="plain", charset="utf-8")
    msg.add_alternative(
        markdown_to_html(text, title=subject, lang=report.lang), subtype="html", charset="utf-8"
    )
    return msg


# -- SMTP ---------------------------------------------------------------------------------


def _scrub(text: str, secret: str | None, username: str | None) -> str:
    """Error text without the password, plain or in the base64 forms AUTH sends it in."""
    if not secret:
        return text
    forms = [secret, f"\0{username or ''}\0{secret}"]
    encoded = [base64.b64encode(form.encode()).decode() for form in forms]
    for form in (*encoded, *(e.rstrip("=") for e in encoded), secret):
        if form:
            text = text.replace(form, "***")
    return text


def _password(smtp: SmtpSettings, password: str | None) -> str | None:
    if smtp.username is None:
        return None
    secret = password if password is not None else os.environ.get(SMTP_PASSWORD_ENV)
    if not secret:
        raise DeliveryError(
            f"smtp.username is set but there is no password: set ${SMTP_PASSWORD_ENV}"
        )
    if smtp.security == "none" and smtp.host.lower() not in _LOOPBACK:
        raise DeliveryError(
            f"refusing to send the SMTP password unencrypted to {smtp.host}: "
            'use security = "starttls" or "ssl" (plain is for a relay on this machine)'
        )
    return secret


def _connect(smtp: SmtpSettings, context: ssl.SSLContext | None) -> smtplib.SMTP:
    context = context or ssl.create_default_context()
    port = smtp.effective_port
    if smtp.security == "ssl":
        return smtplib.SMTP_SSL(smtp.host, port, timeout=smtp.timeout, context=context)
    client = smtplib.SMTP(smtp.host, port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                raise DeliveryError(f"{smtp.host}:{port} does not offer STARTTLS")
            client.starttls(context=context)
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def _login(client: smtplib.SMTP, username: str, secret: str) -> None:
    """AUTH; a non-ASCII password goes as UTF-8 PLAIN (RFC 4616), which login() cannot do."""
    if (username + secret).isascii():
        client.login(username, secret)
        return
    client.ehlo_or_helo_if_needed()
    if "plain" not in client.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN for a non-ASCII password")
    token = base64.b64encode(f"\0{username}\0{secret}".encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def send_message(
    msg: EmailMessage,
    *,
    smtp: SmtpSettings,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Hand a built message to the server; envelope addresses come from its headers.

    Raises DeliveryError when nothing was sent, PartialDelivery when only some
    recipients were refused.
    """
    secret = _password(smtp, password)
    envelope_from = smtp.sender_address.addr_spec
    rcpts = [a.addr_spec for a in msg["To"].addresses]
    try:
        client = _connect(smtp, ssl_context)
        try:
            if smtp.username is not None and secret is not None:
                _login(client, smtp.username, secret)
            refused = client.send_message(msg, from_addr=envelope_from, to_addrs=rcpts)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except smtplib.SMTPAuthenticationError as exc:
        detail = _scrub(_reply_text(exc), secret, smtp.username)
        raise DeliveryError(
            f"SMTP login as {smtp.username} at {smtp.host} failed: {detail}"
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        detail = _scrub(_reply_text(exc), secret, smtp.username)
        raise DeliveryError(
            f"cannot send the digest via {smtp.host}:{smtp.effective_port}: {detail}"
        ) from None
    if refused:
        names = sorted(refused)
        raise PartialDelivery(
            f"sent, but the server refused {', '.join(names)}", str(msg["Message-ID"]), names
        )


def _reply_text(exc: BaseException) -> str:
    """One line describing an SMTP/socket error (server replies are bytes)."""
    code = getattr(exc, "smtp_code", None)
    reply = getattr(exc, "smtp_error", None)
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    text = f"{code} {reply}" if code is not None else (str(exc) or type(exc).__name__)
    return " ".join(text.split())


def send_digest(
    report: Report,
    *,
    to: Sequence[str],
    smtp: SmtpSettings,
    password: str | None = None,
    now: datetime | None = None,
    in_progress: bool = False,
    markdown: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Mail the digest of `report` to `to`; returns its Message-ID.

    `password` None reads $LORE_DIGEST_SMTP_PASSWORD (only used when smtp.username is
    set). `ssl_context` replaces the default certificate checks (tests, private CAs).
    """
    msg = build_digest_message(
        report, to=to, sender=smtp.sender, now=now, in_progress=in_progress, markdown=markdown
    )
    send_message(msg, smtp=smtp, password=password, ssl_context=ssl_context)
    return str(msg["Message-ID"])


def mail_week(
    digest: Digest,
    week: WeekSpec,
    to: Sequence[str],
    smtp: SmtpSettings,
    *,
    lang: str = "zh",
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Mail one week's digest as the Digest makes it; returns the Message-ID.

    A week that has not ended yet is sent marked as in progress.
    """
    window = digest.window(week)
    moment = digest.now()
    report = digest.week(window, lang=lang)
    return send_digest(
        report,
        to=to,
        smtp=smtp,
        password=password,
        now=moment,
        in_progress=window.end > moment,
        ssl_context=ssl_context,
    )
