"""No two views answer the same path and method (the second would silently never run)."""

from __future__ import annotations

from collections import Counter


def test_each_path_and_method_has_one_view(app):
    seen = Counter()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            seen[(rule.rule, method)] += 1
    assert [k for k, n in seen.items() if n > 1] == []
