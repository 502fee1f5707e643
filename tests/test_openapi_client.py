"""A client generated from the served OpenAPI document (openapi-python-client, from the local file, no network) drives a
dealer's order through a live server over HTTP: a token, the products and the dealer's prices, an order, read back.

What a generated client relies on is checked on the way: the operation names, the request and response models, the
bearer security, and errors parsed into the declared error shape."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.conftest import PASSWORD, serving

PACKAGE = "drp_client"


@pytest.fixture
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture
def generated(client, tmp_path, monkeypatch):
    """The client package generated from the document the app serves, importable for this test only."""
    document = tmp_path / "openapi.json"
    document.write_bytes(client.get("/api/v1/openapi.json").get_data())
    config = tmp_path / "generator.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run on the generated code
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--meta", "none",
         "--output-path", str(tmp_path / PACKAGE), "--config", str(config), "--fail-on-warning"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PACKAGE)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def test_a_generated_client_places_and_reads_back_an_order(world, live_server, generated):
    world.region("EAST")
    world.dealer("E1", "EAST", tier="A")
    world.credit_limit("E1", "100000.00")
    world.product("OIL-1", list_price="100.00")
    world.stock("OIL-1", 50)
    world.price_list("tier:A", [{"sku": "OIL-1", "discount_pct": "10"}])
    staff = world.user("dealer_staff", dealer="E1")

    auth = importlib.import_module(f"{PACKAGE}.api.api_auth.auth_create_token")
    products = importlib.import_module(f"{PACKAGE}.api.api_catalog.catalog_list_products")
    prices = importlib.import_module(f"{PACKAGE}.api.api_catalog.catalog_get_dealer_prices")
    create_order = importlib.import_module(f"{PACKAGE}.api.api_orders.orders_create_order")
    get_order = importlib.import_module(f"{PACKAGE}.api.api_orders.orders_get_order")
    models = importlib.import_module(f"{PACKAGE}.models")

    anonymous = generated.Client(base_url=live_server)
    refused = auth.sync(client=anonymous, body=models.TokenRequest(username=staff, password="wrong-pass-1"))
    assert isinstance(refused, models.Error) and refused.error.code == "invalid_credentials"
    token = auth.sync(client=anonymous, body=models.TokenRequest(username=staff, password=PASSWORD))
    assert isinstance(token, models.Token)
    dealer = generated.AuthenticatedClient(base_url=live_server, token=token.token)

    page = products.sync(client=dealer)
    assert [p.sku for p in page.items] == ["OIL-1"] and page.total == 1
    (price,) = prices.sync("E1", client=dealer, qty=3).items
    assert (price.sku, Decimal(price.unit_price), Decimal(price.list_price)) == ("OIL-1", Decimal("90.00"),
                                                                                 Decimal("100.00"))  # fmt: skip
    missing = prices.sync("NO-SUCH-1", client=dealer)
    assert isinstance(missing, models.Error) and missing.error.code == "not_found"

    body = models.OrderCreate(lines=[models.OrderLineIn(sku="OIL-1", quantity=3)], note="generated client")
    placed = create_order.sync(client=dealer, body=body)
    assert isinstance(placed, models.OrderOut), placed
    assert placed.status == "approved" and Decimal(placed.net) == Decimal("270.00")

    read = get_order.sync(placed.number, client=dealer)
    assert isinstance(read, models.OrderOut)
    assert (read.number, read.note, read.net) == (placed.number, "generated client", placed.net)
    assert [(line.sku, line.quantity) for line in read.lines] == [("OIL-1", 3)]
