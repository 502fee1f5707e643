"""Uploads (bank file, sell-through, products; API and browser): CSV — a .csv name and text content — or, for the
bank file and the sell-through (tests/test_import_files.py), an XLSX workbook; and at most PORTAL_MAX_UPLOAD_MB
(16 MB): a larger request is 413, JSON in the documented error shape under /api/ and a page saying the limit
elsewhere. Nothing is queued or written for a refused file."""

from __future__ import annotations

import io

import pytest

from portal.background.models import JobRecord
from portal.platform.security import upload_problem
from tests.conftest import login, make_app, page_csrf

BANK = "dealer_code,amount,received_on,reference\nSH-1,1000.00,2026-03-01,BK-001\n"
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"[Content_Types].xml" + b"\x00" * 64
MB = 1024 * 1024

# (API path, browser path, who may upload)
UPLOADS = [
    ("/api/v1/payments/import", "/payments/import", "finance"),
    ("/api/v1/sell-through/import", "/sell-through/import", "staff"),
    ("/api/v1/products/import", "/products/import", "channel"),
]
WORKBOOKS = {"/api/v1/payments/import", "/api/v1/sell-through/import"}  # they take XLSX as well
NOT_A_WORKBOOK = "The file is not a readable XLSX workbook."


@pytest.fixture
def people(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    return {
        "finance": world.user("finance"),
        "staff": world.user("dealer_staff", dealer="SH-1"),
        "channel": world.user("channel_manager"),
    }


def post_file(client, path, data: bytes, name: str, headers=None, **extra):
    return client.post(path, data={"file": (io.BytesIO(data), name), **extra}, headers=headers or {},
                       content_type="multipart/form-data")  # fmt: skip


@pytest.mark.parametrize("api,page,who", UPLOADS)
@pytest.mark.parametrize(
    "data,name,message,workbook_message",
    [
        (BANK.encode(), "bank.xlsx", "Only CSV files (.csv) can be uploaded.",
         "The file is named as an Excel workbook but is not one"),
        (BANK.encode(), "bank", "Only CSV files (.csv) can be uploaded.",
         "Only CSV (.csv) or Excel (.xlsx) files can be uploaded."),
        (XLSX, "bank.csv", 'This is not a CSV text file. Save the sheet as "CSV UTF-8" and upload that file.',
         NOT_A_WORKBOOK),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "bank.csv", "This is not a CSV text file.", None),
        (b"dealer_code,amount\x00\x00\x01\nSH-1,1", "bank.csv", "This is not a CSV text file.", None),
        (b"\xff\xfe" + BANK.encode("utf-16-le"), "bank.csv", "UTF-8", None),
    ],
)  # fmt: skip
def test_the_api_refuses_anything_but_a_csv_in_the_error_shape(client, world, people, api, page, who, data, name,
                                                               message, workbook_message):  # fmt: skip
    if api in WORKBOOKS:
        message = workbook_message or message
    resp = post_file(client, api, data, name, world.auth(people[who]))
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and message in error["fields"]["file"][0]
    assert world.count(JobRecord) == 0


@pytest.mark.parametrize("api,page,who", UPLOADS)
def test_the_browser_form_says_what_is_wrong_and_queues_nothing(client, world, people, api, page, who):
    login(client, people[who])
    csrf = page_csrf(client, page)
    resp = post_file(client, page, XLSX, "bank.xlsx", csrf_token=csrf)
    if api in WORKBOOKS:  # the view opens the workbook and answers the form with what is wrong with it
        assert resp.status_code == 422
        html = resp.get_data(as_text=True)
        assert NOT_A_WORKBOOK in html and 'type="file"' in html
        resp = post_file(client, page, b"%PDF-1.7\n", "bank.csv", csrf_token=csrf)
    else:
        assert resp.status_code == 303 and resp.headers["Location"].endswith(page)  # back to the form
        html = client.get(page).get_data(as_text=True)
        assert "Only CSV files (.csv) can be uploaded." in html and 'type="file"' in html
        resp = post_file(client, page, XLSX, "bank.csv", csrf_token=csrf)
    assert resp.status_code == 303
    assert "This is not a CSV text file." in client.get(page).get_data(as_text=True)
    assert world.count(JobRecord) == 0


@pytest.fixture(scope="module")
def small_app(database_url):
    """PORTAL_MAX_UPLOAD_MB is read at start; a quarter of a MB keeps the test's request bodies in memory."""
    return make_app(database_url, MAX_CONTENT_LENGTH=MB // 4)


def test_the_default_limit_is_16_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * MB


@pytest.mark.parametrize("api,page,who", UPLOADS)
def test_a_file_over_the_limit_is_413_in_the_error_shape(small_app, world, people, api, page, who):
    client = small_app.test_client()
    big = (BANK * (MB // 4 // len(BANK) + 10)).encode()
    resp = post_file(client, api, big, "bank.csv", world.auth(people[who]))
    assert resp.status_code == 413
    assert resp.get_json() == {
        "error": {
            "code": "payload_too_large",
            "message": "The request is larger than 0.25 MB; split the file and send the parts.",
            "fields": {},
        }
    }
    assert post_file(client, api, BANK.encode(), "bank.csv", world.auth(people[who])).status_code != 413
    assert world.count(JobRecord) <= 1


@pytest.mark.parametrize("api,page,who", UPLOADS)
def test_a_file_over_the_limit_in_the_browser_gets_a_page_with_the_limit(small_app, world, people, api, page, who):
    client = small_app.test_client()
    login(client, people[who])
    csrf = page_csrf(client, page)
    resp = post_file(client, page, b"x" * (MB // 4 + 1), "bank.csv", csrf_token=csrf)
    assert resp.status_code == 413
    html = resp.get_data(as_text=True)
    assert "File too large" in html and "at most 0.25 MB" in html and "Traceback" not in html
    assert "Content-Security-Policy" in resp.headers
    assert world.count(JobRecord) == 0


def test_a_good_csv_still_goes_through_whatever_the_case_of_its_extension(client, world, people):
    resp = post_file(client, "/api/v1/payments/import", ("\ufeff" + BANK).encode(), "银行流水.CSV",
                     world.auth(people["finance"]))  # fmt: skip
    assert resp.status_code == 202, resp.get_json()
    assert world.count(JobRecord) == 1


def test_an_anonymous_upload_is_refused_as_anonymous_not_as_a_bad_file(client, people):
    resp = post_file(client, "/api/v1/payments/import", XLSX, "bank.xlsx")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "head,ok",
    [
        ("sku,name\nP-1,机油滤清器\n".encode(), True),
        ("\ufeffsku,name\r\nP-1,x\r\n".encode(), True),
        ("sku,name\nP-1,机油\n".encode("gb18030"), True),  # text: the view itself says it must be UTF-8
        (b"", True),  # empty: the view says so in its own words
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", False),  # .xls
        (b"\x1f\x8b\x08\x00", False),  # gzip
        (b"\x89PNG\r\n\x1a\n", False),
        (b"a,b\n1,\x1b[31m\n", False),  # terminal escape sequences are not CSV
    ],
)
def test_the_content_sniff(app, head, ok):
    from werkzeug.datastructures import FileStorage

    upload = FileStorage(io.BytesIO(head), filename="x.csv")
    with app.test_request_context():
        assert (upload_problem(upload) is None) is ok
    assert upload.stream.read() == head  # rewound for the view
