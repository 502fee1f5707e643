"""The stage list (PRODUCT.md §4): configuration, not code.

`PORTAL_BUILD_STAGES` lists the factory's stages in order (default
`scheduled,body,paint,assembly,inspection,completed`). The first is a unit's stage when its order is approved,
the last is "built" (下线). `shipped` and `delivered` always follow; they are set by shipping, never by the MES;
`returned` (a delivered unit the dealer sent back and HQ accepted, §13) is set by returns, and shown only once reached.

A stage's *rank* is its position in the full list. A unit's current stage is the furthest stage reached by rank
(on a tie, the later time), so a late event for an earlier stage never moves a unit backwards.
"""

from __future__ import annotations

from flask import current_app, has_app_context

from portal.platform.i18n import current_lang

DEFAULT_BUILD_STAGES = ("scheduled", "body", "paint", "assembly", "inspection", "completed")
TRAILING = ("shipped", "delivered", "returned")

# Labels of the default stages (and of the trailing ones), per UI language. A stage configured beyond these is
# shown by its code.
LABELS = {
    "scheduled": {"zh_CN": "已排产", "en": "Scheduled"},
    "body": {"zh_CN": "车身", "en": "Body"},
    "paint": {"zh_CN": "涂装", "en": "Paint"},
    "assembly": {"zh_CN": "总装", "en": "Assembly"},
    "inspection": {"zh_CN": "检测", "en": "Inspection"},
    "completed": {"zh_CN": "下线", "en": "Completed"},
    "shipped": {"zh_CN": "已发运", "en": "Shipped"},
    "delivered": {"zh_CN": "已交付", "en": "Delivered"},
    "returned": {"zh_CN": "已退回", "en": "Returned"},
}


def parse(text: str | None) -> tuple[str, ...]:
    stages = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    if len(stages) < 2:
        raise ValueError("PORTAL_BUILD_STAGES needs at least two stages (the first and the completed one)")
    if len(set(stages)) != len(stages) or set(stages) & set(TRAILING):
        raise ValueError(
            "PORTAL_BUILD_STAGES: each stage once, and never shipped/delivered/returned (they always follow)"
        )
    if any(len(s) > 32 for s in stages):
        raise ValueError("PORTAL_BUILD_STAGES: a stage code has at most 32 characters")
    return stages


def build_stages() -> tuple[str, ...]:
    """The factory's stages in order (the MES reports these)."""
    if not has_app_context():
        return DEFAULT_BUILD_STAGES
    text = current_app.config.get("PORTAL_BUILD_STAGES")
    cached = current_app.extensions.get("portal_build_stages")
    if cached is None or cached[0] != text:
        cached = (text, parse(text) if text else DEFAULT_BUILD_STAGES)
        current_app.extensions["portal_build_stages"] = cached
    return cached[1]


def all_stages() -> tuple[str, ...]:
    return build_stages() + TRAILING


def first() -> str:
    return build_stages()[0]


def completed() -> str:
    return build_stages()[-1]


def rank(stage: str | None) -> int:
    """Position in the full list; -1 for a stage that is not (or no longer) configured."""
    try:
        return all_stages().index(stage)
    except ValueError:
        return -1


def done_stages() -> tuple[str, ...]:
    """Stages at which a unit counts as built: the completed stage and everything after it."""
    return (completed(), *TRAILING)


def started_stages() -> tuple[str, ...]:
    """Stages at which a unit has entered the line (any stage after the first)."""
    return all_stages()[1:]


def open_stages() -> tuple[str, ...]:
    """Stages of a unit still being built (not yet completed)."""
    return build_stages()[:-1]


def label(stage: str, lang: str | None = None) -> str:
    lang = lang or current_lang()
    names = LABELS.get(stage)
    return names.get(lang, names["en"]) if names else stage


def labels(lang: str | None = None) -> dict[str, str]:
    return {s: label(s, lang) for s in all_stages()}
