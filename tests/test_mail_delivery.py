"""E-mail delivery against real SMTP servers (aiosmtpd on 127.0.0.1): the worker claims outbox rows one at a time,
sends each once, retries with backoff, marks failed ones for a resend; web requests never talk to the mail server;
the demo never mails anyone (portal/notify/delivery.py, docs/MAIL.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import event, select

from portal.extensions import db
from portal.notify import services
from portal.notify.delivery import MailSettings, SmtpConnection, deliver
from portal.notify.models import OutboxEmail
from portal.platform.timeutil import freeze
from tests.conftest import login, page_csrf

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
SENDER = "DRP 门户 <portal@drp.example.cn>"
MESSAGE_ID = re.compile(r"<outbox-(\d+)-[0-9a-f]{12}@drp\.example\.cn>")


class Inbox:
    """An aiosmtpd handler keeping every message it accepts, parsed; `delay` makes it a slow server, `refuse` the
    number of messages it answers 451 (try again later) before accepting any."""

    def __init__(self, delay: float = 0.0, refuse: int = 0):
        self.delay, self.refuse = delay, refuse
        self.messages: list = []
        self.refused: list = []
        self.sessions: list = []
        self.in_flight = self.max_in_flight = 0

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        if self.refuse:
            self.refuse -= 1
            self.refused.append(message)
            return "451 4.3.0 Try again later"
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.messages.append(message)
        tls = server.transport.get_extra_info("ssl_object") is not None  # STARTTLS or TLS from the start
        self.sessions.append({"tls": tls, "authenticated": session.authenticated})
        return "250 2.0.0 Accepted"

    def message_ids(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtpd():
    """start(inbox, port=None, **SMTP parameters) -> port: an SMTP server on 127.0.0.1, stopped after the test."""
    controllers: list[Controller] = []

    def start(inbox: Inbox, port: int | None = None, **smtp_parameters) -> int:
        controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **smtp_parameters)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def mail(app, monkeypatch):
    """configure(port, **settings): the app's mail settings for this test (restored after it)."""

    def configure(port: int, **settings) -> None:
        values = {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_FROM": SENDER,
            "MAIL_TIMEOUT": 5.0,
            "MAIL_MAX_ATTEMPTS": 6,
            "MAIL_RETRY_SECONDS": 60.0,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_USERNAME": None,
            "MAIL_PASSWORD": None,
            "MAIL_TLS_CA_FILE": None,
        }
        values.update(settings)
        for key, value in values.items():
            monkeypatch.setitem(app.config, key, value)

    return configure


class WaitingJobs:
    """The jobs queued during a test, waiting for a worker until the test runs them: in Redis with TEST_REDIS_URL;
    otherwise this object stands in for the queue (the in-process one would run each job at once, and fakeredis cannot
    run RQ's Lua scripts)."""

    def __init__(self, rq_queue=None):
        self.rq_queue = rq_queue
        self.listed: list[tuple[str, tuple]] = []

    def enqueue(self, func: str, *args, **kwargs) -> None:
        self.listed.append((func, args))

    def pending(self) -> list[tuple[str, tuple]]:
        if self.rq_queue is not None:
            return [(job.func_name, tuple(job.args)) for job in self.rq_queue.jobs]
        return list(self.listed)

    def run(self, app) -> list[tuple[str, tuple]]:
        """Run the waiting jobs as the worker would; answer what they were."""
        from rq.utils import import_attribute

        pending = self.pending()
        with app.app_context():
            for func, args in pending:
                import_attribute(func)(*args)
        if self.rq_queue is not None:
            self.rq_queue.empty()
        self.listed.clear()
        return pending


@pytest.fixture
def worker_queue(app, monkeypatch) -> WaitingJobs:
    from portal.jobs import get_queue

    queue = get_queue(app)
    if queue._is_async:
        return WaitingJobs(queue)
    waiting = WaitingJobs()
    monkeypatch.setitem(app.extensions["portal_jobs"], "queue", waiting)
    return waiting


@pytest.fixture
def smtp_connections(monkeypatch) -> list:
    """Every SMTP connection the code under test opens (host, port)."""
    opened: list = []
    original = smtplib.SMTP.connect

    def connect(self, host="localhost", port=0, source_address=None):
        opened.append((host, port))
        return original(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    return opened


def add_emails(world, n: int, *, subject: str = "逾期提醒", body: str = "您有逾期发票。", to: str | None = None):
    """n pending e-mails written at T0 (due since then)."""

    def make():
        rows = [
            OutboxEmail(
                to_address=to or f"dealer{i}@dealers.example.cn",
                subject=f"{subject} {i}",
                body=body,
                dedupe_key=f"test:{subject}:{i}",
                created_at=T0,
                next_attempt_at=T0,
            )
            for i in range(n)
        ]
        db.session.add_all(rows)
        db.session.flush()
        return [row.id for row in rows]

    return world.run(make)


def rows(world) -> dict[int, dict]:
    def read():
        return {
            m.id: {c.key: getattr(m, c.key) for c in OutboxEmail.__table__.columns}
            for m in db.session.execute(select(OutboxEmail)).scalars()
        }

    return world.run(read)


def deliver_in(app, **kwargs) -> int:
    with app.app_context():
        return deliver(**kwargs)


# --- several workers, a slow server: each e-mail exactly once ---


def test_workers_delivering_at_once_send_each_email_exactly_once(app, world, smtpd, mail, is_postgres):
    inbox = Inbox(delay=0.3)
    mail(smtpd(inbox))
    ids = add_emails(world, 24)
    statements: list[str] = []

    def log_statement(conn, cursor, statement, *args):
        statements.append(statement)

    workers = 4
    barrier = threading.Barrier(workers)

    def worker() -> int:
        with app.app_context():
            barrier.wait(timeout=20)
            return deliver()

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", log_statement)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            sent = [f.result() for f in [pool.submit(worker) for _ in range(workers)]]
        elapsed = time.monotonic() - started
    finally:
        event.remove(engine, "before_cursor_execute", log_statement)

    assert sum(sent) == len(ids)
    received = inbox.message_ids()
    assert len(inbox.messages) == len(ids) and set(received.values()) == {1}, received
    state = rows(world)
    assert {r["status"] for r in state.values()} == {"sent"} and {r["attempts"] for r in state.values()} == {1}
    assert set(received) == {r["message_id"] for r in state.values()}
    # the workers sent side by side (no lock held while talking to the server): 24 × 0.3 s one after the other is 7.2 s
    assert inbox.max_in_flight >= 2 and sum(1 for n in sent if n) >= 2, (sent, elapsed)
    if is_postgres:
        assert any("FOR UPDATE SKIP LOCKED" in s for s in statements)
    else:
        assert any(s == "BEGIN IMMEDIATE" for s in statements)


def test_each_email_is_marked_sent_at_once_so_a_worker_dying_resends_at_most_the_one_in_flight(
    app, world, smtpd, mail, monkeypatch
):
    inbox = Inbox()
    mail(smtpd(inbox))
    ids = add_emails(world, 5)

    class WorkerKilled(BaseException):
        pass

    calls = []
    original = SmtpConnection.send

    def send(self, message):
        calls.append(message["Message-ID"])
        if len(calls) == 3:
            raise WorkerKilled  # the worker dies while it talks to the server about the third e-mail
        original(self, message)

    monkeypatch.setattr(SmtpConnection, "send", send)
    with freeze(T0), pytest.raises(WorkerKilled):
        deliver_in(app)
    state = rows(world)
    assert [state[i]["status"] for i in ids] == ["sent", "sent", "pending", "pending", "pending"]
    assert state[ids[2]]["claimed_until"] is not None and state[ids[2]]["attempts"] == 1
    assert len(inbox.messages) == 2

    # the others go at once; the one in flight waits for its claim to expire (the at-least-once window)
    monkeypatch.setattr(SmtpConnection, "send", original)
    with freeze(T0 + dt.timedelta(seconds=1)):
        assert deliver_in(app) == 2
    with app.app_context():
        lease = MailSettings.from_config(app.config).lease
    with freeze(T0 + lease + dt.timedelta(seconds=1)):
        assert deliver_in(app) == 1
    assert len(inbox.messages) == 5 and set(inbox.message_ids().values()) == {1}
    state = rows(world)
    assert state[ids[2]]["status"] == "sent" and state[ids[2]]["attempts"] == 2
    assert state[ids[2]]["message_id"] == calls[2]  # the same message as the attempt that died


# --- a server down, then up: retried after the backoff, each once ---


def test_a_server_down_then_up_gets_every_email_once_after_the_retry(app, world, smtpd, mail, smtp_connections):
    port = free_port()  # nothing listens yet: connection refused
    mail(port)
    ids = add_emails(world, 3)
    with freeze(T0):
        assert deliver_in(app) == 0
    state = rows(world)
    for i in ids:
        assert state[i]["status"] == "pending" and state[i]["attempts"] == 1
        assert state[i]["next_attempt_at"] == T0 + dt.timedelta(seconds=60)
        assert "ConnectionRefusedError" in state[i]["last_error"]
    assert len(smtp_connections) == 3

    inbox = Inbox()
    smtpd(inbox, port=port)
    with freeze(T0 + dt.timedelta(seconds=59)):
        assert deliver_in(app) == 0  # not due yet: nothing is tried
    assert len(smtp_connections) == 3 and inbox.messages == []
    with freeze(T0 + dt.timedelta(seconds=61)):
        assert deliver_in(app) == 3
        assert deliver_in(app) == 0
    assert len(smtp_connections) == 4  # one session for the three e-mails
    assert len(inbox.messages) == 3 and set(inbox.message_ids().values()) == {1}
    state = rows(world)
    for i in ids:
        assert state[i]["status"] == "sent" and state[i]["attempts"] == 2 and state[i]["last_error"] is None
        assert state[i]["sent_at"] == T0 + dt.timedelta(seconds=61) and state[i]["claimed_until"] is None


def test_the_backoff_grows_fourfold_then_the_email_is_failed(app, world, mail):
    mail(free_port(), MAIL_MAX_ATTEMPTS=4, MAIL_RETRY_SECONDS=60.0)
    [email_id] = add_emails(world, 1)
    now, waits = T0, []
    for _attempt in range(4):
        with freeze(now):
            deliver_in(app)
        state = rows(world)[email_id]
        if state["status"] == "failed":
            break
        waits.append((state["next_attempt_at"] - now).total_seconds())
        now = state["next_attempt_at"]
    assert waits == [60, 240, 960]
    assert state["status"] == "failed" and state["attempts"] == 4 and "ConnectionRefusedError" in state["last_error"]
    with freeze(now + dt.timedelta(days=30)):
        assert deliver_in(app) == 0  # a failed e-mail is never tried again by itself
    assert rows(world)[email_id]["attempts"] == 4


# --- what the e-mail looks like ---


def test_headers_utf8_and_a_message_id_kept_across_a_resend(app, world, smtpd, mail):
    inbox = Inbox(refuse=1)  # the first attempt is answered 451
    mail(smtpd(inbox), MAIL_MAX_ATTEMPTS=1)
    subject, body = "上海逾期经销商：1,000.00 元已逾期", "截至 2026-06-01，您有 1,000.00 元逾期未付。\n请尽快付款。"
    [email_id] = add_emails(world, 1, subject=subject, body=body, to="li.na@dealer.example.cn")
    with freeze(T0):
        assert deliver_in(app) == 0
    failed = rows(world)[email_id]
    assert failed["status"] == "failed" and failed["last_error"].startswith("451 4.3.0 Try again later")
    with freeze(T0 + dt.timedelta(minutes=5)):
        world.run(lambda: services.resend(None, db.session.get(OutboxEmail, email_id)))
        assert deliver_in(app) == 1
    [msg] = inbox.messages
    assert msg["Message-ID"] == inbox.refused[0]["Message-ID"] == rows(world)[email_id]["message_id"]
    assert MESSAGE_ID.fullmatch(msg["Message-ID"]).group(1) == str(email_id)
    assert msg["Subject"] == f"{subject} 0" and msg.get_content().replace("\r\n", "\n") == body + "\n"
    assert msg["From"].addresses[0].display_name == "DRP 门户"
    assert msg["From"].addresses[0].addr_spec == "portal@drp.example.cn"
    assert msg["To"] == "li.na@dealer.example.cn"
    assert parsedate_to_datetime(msg["Date"]) == T0  # when it was written, on every attempt
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    raw = msg.as_bytes(policy=policy.SMTP)
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]  # the headers travel as 7-bit RFC 2047 words


# --- TLS and login ---


def self_signed_certificate(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DRP test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"portal", b"s3cret-mail")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_files(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_login_over_tls_verified_against_the_configured_ca(app, world, smtpd, mail, tls_files, mode):
    cert, server_context = tls_files
    inbox = Inbox()
    if mode == "starttls":  # the server refuses mail before STARTTLS and AUTH before TLS, and wants a login
        port = smtpd(inbox, tls_context=server_context, require_starttls=True, auth_required=True,
                     auth_require_tls=True, authenticator=authenticator)  # fmt: skip
    else:  # TLS from the start (aiosmtpd's auth_require_tls and auth_required only work with STARTTLS)
        port = smtpd(inbox, ssl_context=server_context, auth_require_tls=False, authenticator=authenticator)
    mail(port, MAIL_USE_TLS=mode == "starttls", MAIL_USE_SSL=mode == "ssl", MAIL_USERNAME="portal",
         MAIL_PASSWORD="s3cret-mail", MAIL_TLS_CA_FILE=cert)  # fmt: skip
    add_emails(world, 2)
    assert deliver_in(app) == 2
    assert inbox.sessions == [{"tls": True, "authenticated": True}] * 2


@pytest.mark.parametrize(
    "settings, error",
    [
        ({"MAIL_PASSWORD": "wrong"}, "535"),  # login refused
        ({"MAIL_TLS_CA_FILE": None}, "CERTIFICATE_VERIFY_FAILED"),  # a certificate the system's CAs did not sign
        ({"MAIL_USE_TLS": False}, "SMTPNotSupportedError"),  # no STARTTLS: the server offers no AUTH in clear
    ],
    ids=["wrong-password", "untrusted-certificate", "no-starttls"],
)
def test_a_refused_login_or_an_untrusted_server_gets_nothing(app, world, smtpd, mail, tls_files, settings, error):
    cert, server_context = tls_files
    inbox = Inbox()
    port = smtpd(inbox, tls_context=server_context, require_starttls=True, auth_required=True,
                 auth_require_tls=True, authenticator=authenticator)  # fmt: skip
    mail(port, **{"MAIL_USE_TLS": True, "MAIL_USERNAME": "portal", "MAIL_PASSWORD": "s3cret-mail",
                  "MAIL_TLS_CA_FILE": cert, **settings})  # fmt: skip
    [email_id] = add_emails(world, 1)
    assert deliver_in(app) == 0
    state = rows(world)[email_id]
    assert state["status"] == "pending" and state["attempts"] == 1 and error in state["last_error"]
    assert inbox.messages == []


def test_starttls_and_ssl_exclude_each_other_and_ssl_defaults_to_port_465(tmp_path):
    from portal.config import Config, ConfigError

    with pytest.raises(ConfigError):
        Config(str(tmp_path), env={"SECRET_KEY": "k", "MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"})
    assert Config(str(tmp_path), env={"SECRET_KEY": "k", "MAIL_USE_SSL": "1"}).MAIL_PORT == 465
    assert Config(str(tmp_path), env={"SECRET_KEY": "k"}).MAIL_PORT == 25


# --- queued after the commit; never delivered inside a web request ---


def test_a_delivery_job_is_queued_only_after_the_commit_and_only_with_a_mail_server(app, mail, worker_queue):
    from portal.platform.uow import commit

    def queue_one(key: str) -> int:
        services.queue_email("li.na@dealer.example.cn", "主题", "正文", key)
        db.session.flush()
        return db.session.execute(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == key)).scalar_one()

    with app.app_context():  # no MAIL_SERVER: the e-mail waits in the outbox, no job
        queue_one("no-server")
        commit()
    assert worker_queue.pending() == []
    mail(free_port())
    with app.app_context():
        email_id = queue_one("with-server")
        assert worker_queue.pending() == []  # not before the commit
        commit()
    assert worker_queue.pending() == [("portal.jobs.mail.deliver", ([email_id],))]


def test_a_failed_email_is_resent_from_the_outbox_page_and_the_api_without_smtp_in_the_request(
    app, world, client, smtpd, mail, worker_queue, smtp_connections
):
    from portal.audit.models import AuditEntry

    port = free_port()
    mail(port, MAIL_MAX_ATTEMPTS=2)
    first, second = add_emails(world, 2)
    with freeze(T0):
        deliver_in(app)
    with freeze(T0 + dt.timedelta(seconds=61)):
        deliver_in(app)
    assert {r["status"] for r in rows(world).values()} == {"failed"}
    inbox = Inbox()
    smtpd(inbox, port=port)
    opened_before = len(smtp_connections)

    admin = world.user("hq_admin")
    login(client, admin)
    page = client.get("/outbox").get_data(as_text=True)
    for email_id in (first, second):
        assert f'data-outbox-id="{email_id}" data-status="failed"' in page
    assert page.count("data-resend") == 2 and "ConnectionRefusedError" in page and "Failed" in page
    assert "Last error" in page and "Next attempt" in page

    token = page_csrf(client, "/outbox")
    resp = client.post(f"/outbox/{first}/resend", data={"csrf_token": token})
    assert resp.status_code == 302
    assert "will be sent again" in client.get(resp.headers["Location"]).get_data(as_text=True)
    api_client, headers = app.test_client(), world.auth(admin)
    api = api_client.post(f"/api/v1/outbox/{second}/resend", headers=headers)
    assert api.status_code == 200, api.get_json()
    body = api.get_json()
    assert body["status"] == "pending" and body["attempts"] == 0 and "ConnectionRefusedError" in body["last_error"]
    again = api_client.post(f"/api/v1/outbox/{second}/resend", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_failed"

    # the requests only queued the deliveries: no connection to the mail server, nothing received
    assert len(smtp_connections) == opened_before and inbox.messages == []
    assert world.count(AuditEntry, action="email.resend") == 2
    deliver = "portal.jobs.mail.deliver"
    assert worker_queue.run(app) == [(deliver, ([first],)), (deliver, ([second],))]
    assert len(inbox.messages) == 2 and set(inbox.message_ids().values()) == {1}

    listed = api_client.get("/api/v1/outbox?status=sent", headers=headers).get_json()
    assert {item["id"] for item in listed["items"]} == {first, second}
    item = listed["items"][0]
    assert item["attempts"] == 1 and item["last_error"] is None and MESSAGE_ID.fullmatch(item["message_id"])
    assert set(item) >= {"status", "attempts", "next_attempt_at", "last_error", "sent_at", "to_address", "subject"}


def test_only_finance_and_hq_see_the_outbox_and_resend(app, world, client):
    [email_id] = add_emails(world, 1)
    dealer = world.user("dealer_admin")
    assert client.get("/api/v1/outbox", headers=world.auth(dealer)).status_code == 403
    assert client.post(f"/api/v1/outbox/{email_id}/resend", headers=world.auth(dealer)).status_code == 403
    finance = world.user("finance")
    assert client.get("/api/v1/outbox", headers=world.auth(finance)).get_json()["total"] == 1


def test_embedded_jobs_deliver_only_the_requests_own_email(app, world, client, smtpd, mail, monkeypatch):
    """Without REDIS_URL jobs run in-process, right after the commit: the request sends its own e-mail, never the
    others that are due (those wait for the worker's sweep)."""
    import fakeredis
    from rq import Queue

    from portal.jobs import QUEUE_NAME

    in_process = Queue(QUEUE_NAME, connection=fakeredis.FakeRedis(), is_async=False)
    monkeypatch.setitem(app.extensions.setdefault("portal_jobs", {}), "queue", in_process)
    inbox = Inbox()
    port = smtpd(inbox)
    others = add_emails(world, 3, subject="others")
    [mine] = add_emails(world, 1, subject="mine")
    world.run(lambda: setattr(db.session.get(OutboxEmail, mine), "status", "failed"))
    mail(port)
    resp = client.post(f"/api/v1/outbox/{mine}/resend", headers=world.auth(world.user("hq_admin")))
    assert resp.status_code == 200
    assert [m["Subject"] for m in inbox.messages] == ["mine 0"]
    state = rows(world)
    assert state[mine]["status"] == "sent" and {state[i]["status"] for i in others} == {"pending"}


# --- the worker's schedule ---


def test_the_worker_sweeps_the_outbox_every_minute(app, world, smtpd, mail, monkeypatch):
    import rq.cron
    from croniter import croniter

    import portal
    from portal.cli import run_cron

    registered = {}

    class Scheduler:
        def __init__(self, connection):
            pass

        def register(self, func, queue_name, *, cron, job_timeout, name):
            registered[name] = (func, cron, job_timeout)

        def start(self):
            pass

    monkeypatch.setattr(rq.cron, "CronScheduler", Scheduler)
    monkeypatch.setattr(portal, "create_app", lambda: app)
    run_cron()
    sweep, cron, timeout = registered["mail-sweep"]
    assert cron == app.config["PORTAL_MAIL_SWEEP_CRON"] == "* * * * *"
    start = dt.datetime(2026, 6, 1, 9, 0, 30, tzinfo=dt.UTC)
    assert croniter(cron, start).get_next(dt.datetime) == start + dt.timedelta(seconds=30)
    assert timeout >= 600

    inbox = Inbox()
    mail(smtpd(inbox))
    add_emails(world, 2)
    with app.app_context():
        assert sweep() == 2
    assert len(inbox.messages) == 2


# --- the demo ---


def test_loading_the_demo_with_a_mail_server_sends_nothing(app, world, smtpd, mail, worker_queue, smtp_connections):
    inbox = Inbox()
    mail(smtpd(inbox))
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    statuses = Counter(r["status"] for r in rows(world).values())
    assert statuses["suppressed"] > 100 and set(statuses) == {"suppressed"}, statuses
    assert not any(func == "portal.jobs.mail.deliver" for func, _args in worker_queue.pending())
    assert deliver_in(app) == 0
    assert smtp_connections == [] and inbox.messages == []

