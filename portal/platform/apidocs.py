"""A readable page of the API, rendered from the same OpenAPI document served at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("apidocs", __name__)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _resolve(spec: dict, node):
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return name, spec["components"]["schemas"].get(name, {})
    return None, node or {}


def _fields(spec: dict, schema) -> list[dict]:
    _name, schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    out = []
    for field, prop in (schema.get("properties") or {}).items():
        ref_name, resolved = _resolve(spec, prop)
        kind = prop.get("type") or resolved.get("type") or ref_name or "object"
        if kind == "array":
            item_ref, _item = _resolve(spec, prop.get("items", {}))
            kind = f"array of {item_ref or prop.get('items', {}).get('type', 'object')}"
        out.append(
            {
                "name": field,
                "type": kind,
                "required": field in required,
                "enum": prop.get("enum"),
                "description": prop.get("description", ""),
                "read_only": prop.get("readOnly", False),
                "write_only": prop.get("writeOnly", False),
            }
        )
    return out


@bp.route("/api/v1/docs")
def index():
    from portal.platform.api import api

    spec = api.spec.to_dict()
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHOD_ORDER:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
            responses = []
            for status, resp in sorted(op.get("responses", {}).items()):
                schema = (resp.get("content", {}).get("application/json", {}) or {}).get("schema")
                ref_name, _s = _resolve(spec, schema) if schema else (None, None)
                responses.append({"status": status, "description": resp.get("description", ""), "schema": ref_name})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "body": _fields(spec, body) if body else [],
                    "params": params,
                    "responses": responses,
                    "secured": bool(op.get("security", spec.get("security"))),
                }
            )
    return render_template("apidocs.html", operations=operations, info=spec.get("info", {}))
