"""The served OpenAPI document is valid and complete: every status an operation answers is declared, in the error
shape, and the bearer token is required everywhere but at the token endpoint (declared once for the whole API)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from portal.platform.auth import PERMISSIONS, TOKEN_SCOPES
from tests.conftest import login

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _operations(spec: dict) -> list[tuple[str, str, dict, list[dict]]]:
    """(path, method, operation, its parameters including the path item's)."""
    return [
        (path, method, op, [*item.get("parameters", []), *op.get("parameters", [])])
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _declared(op: dict) -> set[int]:
    return {int(status) for status in op["responses"]}


def _url(path: str, parameters: list[dict]) -> str:
    """The path with identifiers that name nothing: an integer where the parameter is one, a code otherwise."""
    integers = {p["name"] for p in parameters if p["in"] == "path" and p["schema"].get("type") == "integer"}
    return re.sub(r"{(\w+)}", lambda m: "999999" if m.group(1) in integers else "NO-SUCH-1", path)


def _permission(app, url: str, method: str) -> str | None:
    endpoint, _args = app.url_map.bind("localhost").match(url, method.upper())
    return getattr(app.view_functions[endpoint], "_permission", None)


def test_the_served_document_is_valid_openapi(spec):
    validate(spec)  # raises with the first problem (the channel-flow group_by default was an array in a string)
    group_by = next(
        p for p in spec["paths"]["/api/v1/analytics/channel-flow"]["get"]["parameters"] if p["name"] == "group_by"
    )
    assert group_by["schema"]["default"] == "region"


def test_no_catch_all_response_hides_a_status(spec):
    """Without a `default` response every status is declared one by one, which is what the fuzzing's status code
    check (schemathesis' status_code_conformance, on in tests/test_api_fuzz.py) holds every answer to."""
    from schemathesis.specs.openapi.checks import status_code_conformance

    from tests.test_api_fuzz import CHECKS

    assert status_code_conformance in CHECKS
    for path, method, op, _parameters in _operations(spec):
        assert "default" not in op["responses"], (method, path)
        for status in _declared(op) - {200, 201, 202, 204}:  # 204: no content (DELETE /orders/draft)
            ref = op["responses"][str(status)]["$ref"]
            error = spec["components"]["responses"][ref.rsplit("/", 1)[-1]]
            assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_security_is_declared_once_and_lifted_at_the_token_endpoint_only(app, spec):
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    lifted = {(method, path) for path, method, op, _p in _operations(spec) if "security" in op}
    assert lifted == {("post", "/api/v1/auth/token")}
    assert spec["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    for path, method, _op, parameters in _operations(spec):  # the document says what the views enforce
        assert (_permission(app, _url(path, parameters), method) is None) == ((method, path) in lifted), path


def test_operation_ids_are_unique(spec):
    ids = [op["operationId"] for _path, _method, op, _p in _operations(spec)]
    assert len(ids) == len(set(ids)) and "orders_create_order" in ids


def test_every_operation_declares_the_errors_it_answers(app, client, world, spec):
    """Each operation is called without credentials, by a caller without its permission, by one with it naming objects
    that do not exist (writes with a body that is not JSON), and from a browser session without the CSRF header:
    each answer's status is one the operation declares."""
    callers: dict[str, dict] = {}

    def allowed(permission: str | tuple) -> dict:
        permission = permission[0] if isinstance(permission, tuple) else permission  # any of several: the first
        scope = next((s for s, held in TOKEN_SCOPES.items() if permission in held), None)
        key = f"token:{scope}" if scope else PERMISSIONS[permission][0]
        if key not in callers:
            if scope:
                callers[key] = {"Authorization": f"Bearer {world.integration_token(scope, f'walk-{scope}')}"}
            else:
                callers[key] = world.auth(world.user(key))
        return callers[key]

    def refused(permission: str | tuple) -> dict:
        permission = permission[0] if isinstance(permission, tuple) else permission
        scope = "erp" if permission in TOKEN_SCOPES["production"] else "production"
        return allowed(TOKEN_SCOPES[scope][0])

    undeclared: list[str] = []

    def check(answer, path: str, method: str, op: dict, expected: int | None, why: str) -> None:
        status = answer.status_code
        if status not in _declared(op) or (expected is not None and status != expected):
            undeclared.append(f"{method.upper()} {path} ({why}): {status} {answer.get_data(as_text=True)[:200]}")

    for path, method, op, parameters in _operations(spec):
        url = _url(path, parameters)
        permission = _permission(app, url, method)
        write = method != "get"
        body = {"json": {}} if write else {}
        anonymous = client.open(url, method=method.upper(), **body)
        check(anonymous, path, method, op, 401 if permission else None, "no credentials")
        if permission is None:
            continue
        check(client.open(url, method=method.upper(), headers=refused(permission), **body), path, method, op, 403,
              "without the permission")  # fmt: skip
        malformed = {"data": "{", "content_type": "application/json"} if write else {}
        missing = client.open(url, method=method.upper(), headers=allowed(permission), **malformed)
        json_body = "application/json" in op.get("requestBody", {}).get("content", {})
        expected = 400 if json_body else 404 if "{" in path and "requestBody" not in op else None
        check(missing, path, method, op, expected, "missing objects, a body that is not JSON")

    admin = world.user("hq_admin")
    login(client, admin)
    for path, method, op, parameters in _operations(spec):
        if method != "get":
            answer = client.open(_url(path, parameters), method=method.upper(), json={})
            check(answer, path, method, op, 400, "a session without the CSRF header")
    assert not undeclared, "\n".join(undeclared)
