"""Payment notices (回款通知, PRODUCT.md §14): never money; matched automatically when the payment with the same
dealer, reference and amount is posted (before or after the notice), or by finance by hand; never twice; queried
with a question the dealer sees. The voucher: JPEG, PNG or PDF by content, at most 5 MB, served only in scope."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from portal.credit import notices
from portal.credit.models import LedgerEntry, PaymentNotice
from portal.platform.errors import Invalid
from portal.platform.timeutil import today
from tests.conftest import login, page_csrf

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


@pytest.fixture
def people(world):
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST")
    world.dealer("XA-1", "WEST")
    world.invoice("SH-1", "INV-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    return {
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "other": world.user("dealer_admin", dealer="XA-1", username="xa.admin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_west": world.user("region_manager", region="WEST", username="rm.west"),
        "fin": world.user("finance", username="fin"),
    }


def send(client, world, who="sh.staff", amount="800.00", reference="TRX-1", paid_on=None, file=None, status=201,
         **extra):  # fmt: skip
    data = {"amount": amount, "paid_on": (paid_on or today()).isoformat(), "reference": reference, **extra}
    if file is not None:
        data["file"] = (io.BytesIO(file[0]), file[1])
    resp = client.post("/api/v1/payment-notices", data=data, headers=world.auth(who),
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def post_payment(client, world, amount="800.00", reference="TRX-1", dealer="SH-1"):
    body = {"dealer_code": dealer, "amount": amount, "received_on": today().isoformat(), "reference": reference}
    resp = client.application.test_client().post("/api/v1/payments", json=body, headers=world.auth("fin"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def notice_of(client, world, notice_id, who="sh.staff"):
    return client.get(f"/api/v1/payment-notices/{notice_id}", headers=world.auth(who))


def test_a_notice_is_matched_when_the_payment_is_posted_later(client, world, people):
    sent = send(client, world, file=(PNG, "回单.png"))
    assert (sent["status"], sent["payment_reference"]) == ("notified", None)
    assert world.count(LedgerEntry, type="payment") == 0  # never money itself
    payment = post_payment(client, world)
    seen = notice_of(client, world, sent["id"]).get_json()
    assert (seen["status"], seen["payment_reference"], seen["payment_amount"]) == ("matched", "TRX-1", "800.00")
    assert world.get(PaymentNotice, id=sent["id"])["payment_id"] == payment["id"]


def test_a_notice_sent_after_the_payment_is_matched_at_once(client, world, people):
    post_payment(client, world, reference="TRX-9")
    sent = send(client, world, reference="TRX-9")
    assert (sent["status"], sent["payment_reference"]) == ("matched", "TRX-9")
    # a second notice of the same transfer stays notified: a payment matches one notice
    again = send(client, world, reference="TRX-9")
    assert again["status"] == "notified"


def test_a_different_amount_or_dealer_is_not_matched_automatically(client, world, people):
    sent = send(client, world, amount="800.00")
    post_payment(client, world, amount="799.00")
    post_payment(client, world, amount="800.00", reference="TRX-1", dealer="XA-1")
    assert notice_of(client, world, sent["id"]).get_json()["status"] == "notified"


def test_finance_matches_by_hand_once(client, world, people):
    sent = send(client, world, amount="800.00", reference="MY-REF")
    payment = post_payment(client, world, amount="790.00", reference="BANK-SERIAL-1")
    resp = client.post(f"/api/v1/payment-notices/{sent['id']}/match", json={"payment_id": payment["id"]},
                       headers=world.auth("fin"))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["status"], resp.get_json()["payment_amount"]) == ("matched", "790.00")
    again = client.post(f"/api/v1/payment-notices/{sent['id']}/match", json={"payment_id": payment["id"]},
                        headers=world.auth("fin"))  # fmt: skip
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_matched"
    other = send(client, world, amount="790.00", reference="ZZ")
    taken = client.post(f"/api/v1/payment-notices/{other['id']}/match", json={"payment_id": payment["id"]},
                        headers=world.auth("fin"))  # fmt: skip
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "payment_taken"
    assert world.count(PaymentNotice, status="matched") == 1


def test_a_payment_of_another_dealer_cannot_be_matched(client, world, people):
    sent = send(client, world)
    payment = post_payment(client, world, dealer="XA-1", reference="XA-PAY")
    resp = client.post(f"/api/v1/payment-notices/{sent['id']}/match", json={"payment_id": payment["id"]},
                       headers=world.auth("fin"))  # fmt: skip
    assert resp.status_code == 422 and "payment_id" in resp.get_json()["error"]["fields"]
    assert world.get(PaymentNotice, id=sent["id"])["status"] == "notified"


def test_finance_queries_and_the_dealer_sees_the_question(client, world, people):
    sent = send(client, world)
    resp = client.post(f"/api/v1/payment-notices/{sent['id']}/query", json={"query": "请补充银行回单"},
                       headers=world.auth("fin"))  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["status"] == "queried"
    listed = client.get("/api/v1/payment-notices", headers=world.auth("sh.admin")).get_json()["items"]
    assert [(n["status"], n["query"]) for n in listed] == [("queried", "请补充银行回单")]
    # the queried notice is still matched when its payment arrives
    post_payment(client, world)
    assert notice_of(client, world, sent["id"]).get_json()["status"] == "matched"
    resp = client.post(f"/api/v1/payment-notices/{sent['id']}/query", json={"query": "?"}, headers=world.auth("fin"))
    assert resp.status_code == 409


def test_dealers_only_send_and_finance_only_matches(client, world, people):
    send(client, world, who="fin", status=403)
    send(client, world, who="rm.east", status=403)
    sent = send(client, world, who="sh.admin")
    resp = client.post(f"/api/v1/payment-notices/{sent['id']}/query", json={"query": "?"},
                       headers=world.auth("sh.admin"))  # fmt: skip
    assert resp.status_code == 403


@pytest.mark.parametrize(
    "file,amount,paid_on,field",
    [
        ((b"dealer_code,amount\nSH-1,1\n", "voucher.png"), "800.00", None, "file"),  # not an image: a CSV
        ((b"GIF89a" + b"\x00" * 20, "voucher.pdf"), "800.00", None, "file"),  # a GIF named .pdf
        ((b"", "empty.png"), "800.00", None, "file"),
        (None, "-800.00", None, "amount"),
        (None, "0", None, "amount"),
        (None, "800.00", today() + dt.timedelta(days=1), "paid_on"),
    ],
)
def test_bad_notices_are_refused_whole(client, world, people, tmp_path, file, amount, paid_on, field):
    storage = Path(client.application.config["PORTAL_STORAGE"]) / "vouchers"
    files_before = sorted(storage.glob("*")) if storage.exists() else []
    resp = send(client, world, amount=amount, paid_on=paid_on, file=file, status=422)
    assert resp["error"]["code"] == "validation_error" and field in resp["error"]["fields"]
    assert world.count(PaymentNotice) == 0
    assert (sorted(storage.glob("*")) if storage.exists() else []) == files_before


def test_a_voucher_over_the_limit_is_refused(client, world, people, monkeypatch):
    """5 MB (`VOUCHER_MAX_BYTES`); the request test lowers it to 64 KB so the test client keeps the body in memory."""
    with pytest.raises(Invalid) as refused:
        notices.check_voucher(b"%PDF-" + b"0" * (5 * 1024 * 1024))
    assert refused.value.fields["file"] == ["The voucher is larger than 5 MB."]
    assert notices.check_voucher(b"%PDF-" + b"0" * (5 * 1024 * 1024 - 5)) == ("application/pdf", "pdf")
    monkeypatch.setattr(notices, "VOUCHER_MAX_BYTES", 64 * 1024)
    resp = send(client, world, file=(b"%PDF-" + b"0" * 64 * 1024, "big.pdf"), status=422)
    assert "larger than" in resp["error"]["fields"]["file"][0]
    assert world.count(PaymentNotice) == 0


@pytest.mark.parametrize("content,name,mimetype", [(PNG, "回单.png", "image/png"), (PDF, "slip.pdf", "application/pdf"),
                                                   (JPEG, "x.exe", "image/jpeg")])  # fmt: skip
def test_the_voucher_is_served_only_in_scope_as_an_attachment(client, world, people, content, name, mimetype):
    sent = send(client, world, file=(content, name))
    row = world.get(PaymentNotice, id=sent["id"])
    assert row["voucher_type"] == mimetype and "/" not in row["voucher_path"].removeprefix("vouchers/")
    assert name not in row["voucher_path"]  # stored under a name the portal made
    for who in ("sh.admin", "rm.east", "fin"):
        resp = client.get(f"/api/v1/payment-notices/{sent['id']}/voucher", headers=world.auth(who))
        assert resp.status_code == 200 and resp.data == content
        assert resp.mimetype == mimetype
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        resp.close()  # the file the answer streams
    for who in ("xa.admin", "rm.west"):
        for url in (f"/api/v1/payment-notices/{sent['id']}", f"/api/v1/payment-notices/{sent['id']}/voucher"):
            assert client.get(url, headers=world.auth(who)).status_code == 404
        assert client.get("/api/v1/payment-notices", headers=world.auth(who)).get_json()["total"] == 0


def test_lists_put_notified_first(client, world, people):
    matched = send(client, world, reference="A")
    post_payment(client, world, reference="A")
    waiting = send(client, world, reference="B")
    items = client.get("/api/v1/payment-notices", headers=world.auth("fin")).get_json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(waiting["id"], "notified"), (matched["id"], "matched")]


def test_the_pages_send_with_a_voucher_and_finance_matches(client, world, people):
    login(client, "sh.staff")
    csrf = page_csrf(client, "/payment-notices")
    data = {"csrf_token": csrf, "pn-amount": "800.00", "pn-paid_on": today().isoformat(), "pn-reference": "WEB-1",
            "pn-file": (io.BytesIO(PDF), "slip.pdf")}  # fmt: skip
    resp = client.post("/payment-notices", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    row = world.get(PaymentNotice, reference="WEB-1")
    assert row["voucher_name"] == "slip.pdf"
    bad = dict(data, **{"pn-reference": "WEB-2", "pn-file": (io.BytesIO(b"a,b\n1,2\n"), "slip.pdf")})
    resp = client.post("/payment-notices", data=bad, content_type="multipart/form-data")
    assert resp.status_code == 422 and "JPEG or PNG image or a PDF" in resp.get_data(as_text=True)
    assert world.count(PaymentNotice) == 1
    payment = post_payment(client, world, reference="BANK-77")
    fin = client.application.test_client()
    login(fin, "fin")
    assert 'href="/payment-notices"' in fin.get("/dealers/SH-1/credit").get_data(as_text=True)
    page = fin.get(f"/payment-notices/{row['id']}").get_data(as_text=True)
    assert "BANK-77" in page
    csrf = page_csrf(fin, f"/payment-notices/{row['id']}")
    resp = fin.post(f"/payment-notices/{row['id']}", data={"csrf_token": csrf, "action": "match",
                                                           "m-payment_id": str(payment["id"])})  # fmt: skip
    assert resp.status_code == 302
    assert world.get(PaymentNotice, id=row["id"])["status"] == "matched"
    assert "BANK-77" in client.get("/payment-notices").get_data(as_text=True)
