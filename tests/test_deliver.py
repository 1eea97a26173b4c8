"""Mail delivery against a real SMTP server on 127.0.0.1 (aiosmtpd), plain and STARTTLS.

The report comes from the offline demo list (no corpus needed). What is checked is what
a recipient's mail client and the SMTP server see: the MIME structure, the decoded
headers, the envelope, AUTH with the password from the environment, and that the
password never shows up in an error or a traceback.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import subprocess
import traceback
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosmtpd", reason="aiosmtpd is needed for the SMTP tests (test extras)")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from lore_digest.deliver import (
    DeliveryError,
    build_digest_message,
    digest_subject,
    mail_week,
    markdown_to_html,
    send_digest,
)
from lore_digest.demo.generator import generate_demo_list, write_mbox
from lore_digest.digest import Digest, DigestSettings
from lore_digest.errors import UsageError
from lore_digest.ingest import sync_mbox
from lore_digest.report.model import Report
from lore_digest.report.text import render_text
from lore_digest.settings import SMTP_PASSWORD_ENV, SmtpSettings
from lore_digest.store.db import Store

WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of 2026-W47
WEEK = "2026-W47"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LIST = "demo-kvmarm"
SECRET = "s3cr3t-Pa55word"
UNICODE_SECRET = "pässwörd-密码"
USER = "digest@example.org"


# -- an SMTP server on loopback ------------------------------------------------------------


@dataclass
class Received:
    """One mail the server accepted, with how it got there."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """aiosmtpd handler and authenticator that remember what they saw."""

    password: str = SECRET
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data if session.authenticated else None
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                session.ssl is not None,
                login,
            )
        )
        return "250 OK"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = login == USER and password == self.password
        # handled=False: let aiosmtpd answer 535 itself (True would leave the client hanging)
        return AuthResult(success=ok, handled=False, auth_data=login)


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd's controller cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    """A running loopback server and the settings that reach it."""

    recorder: Recorder
    port: int
    controller: Controller

    def settings(self, **changes: Any) -> SmtpSettings:
        data: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from": "lore-digest <digest@example.org>",
            "timeout": 10,
        }
        data.update(changes)
        return SmtpSettings.model_validate(data)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP with AUTH allowed without TLS: the shape of a relay on this machine."""
    yield from start_server()


def start_server(**options: Any) -> Generator[SmtpServer, None, None]:
    """Start aiosmtpd on 127.0.0.1 with a recorder; stop it afterwards."""
    recorder = Recorder()
    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": recorder, "auth_require_tls": False}
    kwargs.update(options)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(recorder, port, controller)
    finally:
        controller.stop()


# -- a report to mail ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the generated demo list around 2026-W47."""
    tmp = tmp_path_factory.mktemp("deliver")
    mbox = tmp / "demo.mbox"
    write_mbox(generate_demo_list(WEEK_START, list_name=LIST), mbox)
    path = tmp / "store.sqlite3"
    with Store.open(path) as store:
        sync_mbox(store, mbox, LIST)
    return path


@pytest.fixture(scope="module")
def reports(demo_store: Path) -> dict[str, Report]:
    """The week's report in both languages."""
    with Store.open(demo_store) as store:
        digest = Digest(store, LIST, DigestSettings(now=NOW))
        return {lang: digest.week(WEEK, lang=lang) for lang in ("en", "zh")}


# -- the message ---------------------------------------------------------------------------


def test_message_is_multipart_alternative_with_clean_headers(reports: dict[str, Report]) -> None:
    report = reports["en"]
    msg = build_digest_message(
        report, to=["a@example.org", "B <b@example.net>"], sender=USER, now=NOW
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    title = f"{LIST.upper()} mailing list digest {WEEK}"
    # The text part is the plain-text report (mutt): no Markdown, links as footnotes.
    assert plain.get_content().startswith(f"{title}\n{'=' * len(title)}\n")
    assert plain.get_content() == render_text(report)
    assert "<h1>" in html.get_content() and "<script" not in html.get_content()
    stats = report.stats
    assert parsed["Subject"] == (
        f"[{LIST} digest] {WEEK}: {stats.messages} mails, {stats.threads} threads"
    )
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["Message-ID"].endswith("@example.org>")
    assert parsed["From"] == USER
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@example.org", "b@example.net"]
    assert parsed["X-Lore-Digest-List"] == f"<{LIST}>"
    assert parsed["X-Lore-Digest-Week"] == WEEK
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_chinese_subject_is_encoded_and_decodes(reports: dict[str, Report]) -> None:
    report = reports["zh"]
    msg = build_digest_message(report, to=["a@example.org"], sender=USER, now=NOW)
    raw = msg.as_bytes()
    subject_line = next(line for line in raw.split(b"\n") if line.startswith(b"Subject:"))
    assert subject_line.isascii() and b"=?utf-8?" in subject_line  # RFC 2047 on the wire
    decoded = message_from_bytes(raw, policy=policy.default)["Subject"]
    assert decoded == (
        f"[{LIST} 周报] {WEEK}：{report.stats.messages} 封邮件，{report.stats.threads} 个 thread"
    )
    assert digest_subject(report, in_progress=True).endswith("（本周进行中）")


def test_singular_counts_in_english(reports: dict[str, Report]) -> None:
    stats = dataclasses.replace(reports["en"].stats, messages=1, threads=1)
    one = dataclasses.replace(reports["en"], stats=stats)
    assert digest_subject(one) == f"[{LIST} digest] {WEEK}: 1 mail, 1 thread"


@pytest.mark.parametrize(
    "change",
    [
        {"list_name": "kvm\r\nBcc: victim@example.com"},
        {"list_name": "kvm\nX-Evil: 1"},
        {"label": "2022-W19\r\nBcc: victim@example.com"},  # refused by the email package
    ],
)
def test_header_injection_is_refused(reports: dict[str, Report], change: dict[str, str]) -> None:
    hostile = dataclasses.replace(reports["en"], **change)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        build_digest_message(hostile, to=["a@example.org"], sender=USER, now=NOW)


@pytest.mark.parametrize(
    "to",
    [
        ["a@example.org\r\nBcc: victim@example.com"],
        ["a@example.org, victim@example.com"],  # one entry must be one recipient
        ["not an address"],
        [],
    ],
)
def test_bad_recipients_are_refused(reports: dict[str, Report], to: list[str]) -> None:
    with pytest.raises(UsageError):
        build_digest_message(reports["en"], to=to, sender=USER, now=NOW)


def test_html_is_sanitised() -> None:
    hostile = (
        "# T\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) "
        '![x](https://tracker.example.com/p.gif) <img src="https://x.example.com/a.png">\n'
        "\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    html = markdown_to_html(hostile, title="<T>", lang="en")
    assert "<script" not in html and 'href="javascript' not in html
    assert "<img" not in html and "tracker" not in html  # nothing remote loads on opening
    assert "<title>&lt;T&gt;</title>" in html
    assert "<table>" in html and '<html lang="en">' in html


# -- over SMTP -----------------------------------------------------------------------------


def test_send_with_auth_from_the_environment(
    reports: dict[str, Report], smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SECRET)
    smtp = smtp_server.settings(username=USER)
    message_id = send_digest(reports["zh"], to=["list@example.net"], smtp=smtp, now=NOW)
    [got] = smtp_server.recorder.received
    assert smtp_server.recorder.logins == [(USER, SECRET)]
    assert got.login == USER and not got.tls
    assert got.mail_from == USER and got.rcpt_tos == ["list@example.net"]
    msg = got.message
    assert msg["Message-ID"] == message_id
    assert msg["Subject"].startswith(f"[{LIST} 周报] {WEEK}：")
    plain = msg.get_body(("plain",))
    assert plain is not None and "邮件列表周报" in plain.get_content()


def test_non_ascii_password(
    reports: dict[str, Report], smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """smtplib's login() only sends ASCII; RFC 4616 PLAIN is UTF-8, so that is sent."""
    smtp_server.recorder.password = UNICODE_SECRET
    monkeypatch.setenv(SMTP_PASSWORD_ENV, UNICODE_SECRET)
    send_digest(reports["en"], to=["x@example.net"], smtp=smtp_server.settings(username=USER))
    assert smtp_server.recorder.logins == [(USER, UNICODE_SECRET)]
    assert [r.login for r in smtp_server.recorder.received] == [USER]


def test_no_auth_for_a_local_relay(reports: dict[str, Report], smtp_server: SmtpServer) -> None:
    send_digest(reports["en"], to=["x@example.net"], smtp=smtp_server.settings(), now=NOW)
    [got] = smtp_server.recorder.received
    assert got.login is None and smtp_server.recorder.logins == []


def test_wrong_password_never_leaks(
    reports: dict[str, Report], smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ng-" + UNICODE_SECRET
    smtp = smtp_server.settings(username=USER)
    with pytest.raises(DeliveryError) as excinfo:
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp, password=wrong, now=NOW)
    text = "".join(traceback.format_exception(excinfo.value))
    captured = capsys.readouterr()
    assert "login" in str(excinfo.value) and "535" in str(excinfo.value)
    for leak in (text, captured.out, captured.err):
        assert wrong not in leak and SECRET not in leak
    assert smtp_server.recorder.received == []


def test_missing_password_is_a_clear_error(
    reports: dict[str, Report], smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SMTP_PASSWORD_ENV, raising=False)
    with pytest.raises(DeliveryError, match=SMTP_PASSWORD_ENV):
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp_server.settings(username=USER))


def test_password_is_not_sent_in_clear_to_a_remote_host(reports: dict[str, Report]) -> None:
    smtp = SmtpSettings.model_validate(
        {"host": "smtp.example.org", "security": "none", "username": USER, "from": USER}
    )
    with pytest.raises(DeliveryError, match="unencrypted"):
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp, password=SECRET)


def test_unreachable_server_is_a_delivery_error(reports: dict[str, Report]) -> None:
    smtp = SmtpSettings.model_validate(
        {"host": "127.0.0.1", "port": free_port(), "security": "none", "from": USER}
    )
    with pytest.raises(DeliveryError, match="cannot send"):
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp, now=NOW)


def test_mail_week_builds_and_sends(
    demo_store: Path, smtp_server: SmtpServer, reports: dict[str, Report]
) -> None:
    with Store.open(demo_store) as store:
        with Digest(store, LIST, DigestSettings(now=NOW)) as digest:
            mail_week(digest, WEEK, ["x@example.net"], smtp_server.settings(), lang="en")
        later = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # Wednesday of that same week
        with Digest(store, LIST, DigestSettings(now=later)) as digest:
            mail_week(digest, WEEK, ["x@example.net"], smtp_server.settings(), lang="en")
    first, second = (r.message for r in smtp_server.recorder.received)
    assert first["Subject"] == digest_subject(reports["en"])
    assert second["Subject"].endswith("(in progress)")
    plain = second.get_body(("plain",))
    assert plain is not None and "still in progress" in plain.get_content()


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    result = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {result.stderr.decode()[-200:]}")
    return cert, key


def _contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_starttls_then_auth(
    reports: dict[str, Report],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_ctx, client_ctx = _contexts(certificate)
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SECRET)
    servers = start_server(tls_context=server_ctx, require_starttls=True, auth_require_tls=True)
    server = next(servers)
    try:
        smtp = server.settings(security="starttls", username=USER)
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp, ssl_context=client_ctx)
        # The default context does not trust a self-signed certificate: refused, not sent.
        with pytest.raises(DeliveryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            send_digest(reports["en"], to=["x@example.net"], smtp=smtp)
    finally:
        servers.close()
    [got] = server.recorder.received
    assert got.tls and got.login == USER
    assert server.recorder.logins == [(USER, SECRET)]


def test_starttls_required_but_not_offered(
    reports: dict[str, Report], smtp_server: SmtpServer
) -> None:
    with pytest.raises(DeliveryError, match="STARTTLS"):
        send_digest(
            reports["en"], to=["x@example.net"], smtp=smtp_server.settings(security="starttls")
        )
    assert smtp_server.recorder.received == []


def test_implicit_tls(
    reports: dict[str, Report],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_ctx, client_ctx = _contexts(certificate)
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SECRET)
    # aiosmtpd only counts STARTTLS as TLS for AUTH, so it must allow AUTH "without" it here.
    servers = start_server(ssl_context=server_ctx, auth_require_tls=False)
    server = next(servers)
    try:
        smtp = server.settings(security="ssl", username=USER)
        send_digest(reports["en"], to=["x@example.net"], smtp=smtp, ssl_context=client_ctx)
        with pytest.raises(DeliveryError, match="certificate"):  # unknown to the system CAs
            send_digest(reports["en"], to=["x@example.net"], smtp=server.settings(security="ssl"))
    finally:
        servers.close()
    [got] = server.recorder.received
    assert got.login == USER and server.recorder.logins == [(USER, SECRET)]
