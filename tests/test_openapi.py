"""The OpenAPI document describes the §9.1 contract, and the readable docs page renders it."""

from __future__ import annotations


def test_openapi_document_lists_the_contract_paths(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/auth/token", "post"),
        ("/api/v1/regions", "post"),
        ("/api/v1/dealers", "get"),
        ("/api/v1/dealers", "post"),
        ("/api/v1/dealers/{code}", "get"),
        ("/api/v1/dealers/{code}", "patch"),
        ("/api/v1/users", "post"),
    ):
        assert method in paths[path], (path, method)
    dealer = spec["components"]["schemas"]["DealerCreate"]
    # region_code: required for a dealer that buys from HQ (checked with the other fields), a sub-dealer's is its
    # distributor's (§16)
    assert set(dealer["required"]) == {"code", "name", "tier", "channel_type"}
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_error_responses_are_documented_in_the_error_shape(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("ErrorDetail")


def test_the_docs_page_is_readable_html(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/dealers/{code}" in page and "PATCH" in page and "region_code" in page


def test_decimals_sent_as_strings_are_documented_as_strings(client, world):
    """fields.Decimal(as_string=True) answers "0.1300"; the document said number (found by tests/test_api_fuzz.py)."""
    world.product("OIL-1", tax_rate="0.13")
    headers = world.auth(world.user("hq_admin"))
    assert client.get("/api/v1/products/OIL-1", headers=headers).get_json()["tax_rate"] == "0.1300"
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Product"]["properties"]["tax_rate"]["type"] == "string"
    assert schemas["Ageing"]["properties"]["dso"] == {
        "type": "string", "nullable": True, "description": "days sales outstanding"}  # fmt: skip
