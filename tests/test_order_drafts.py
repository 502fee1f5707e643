"""The basket as a server-side draft (PRODUCT.md §12), at the service: one per user, checked when saved (nothing
written on a bad line), priced live, submitted once per Idempotency-Key, and "order again" at today's prices with
the lines that can no longer be ordered listed, not dropped."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.orders.models import Order, OrderDraft
from portal.platform.errors import Invalid
from tests.ordering_helpers import as_user, option, order_of, place


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "100000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    option(world, "CAR-1", "colour", "WHT", "白", "White", default=True)
    option(world, "CAR-1", "colour", "RED", "红", "Red", delta="100.00")
    return world


def _dealer(code="SH-1"):
    from portal.dealers.models import Dealer

    return db.session.execute(select(Dealer).filter_by(code=code)).unique().scalar_one()


def save(world, username, lines, **kw):
    from portal.orders import drafts

    return as_user(world, username, lambda actor: drafts.save_draft(actor, _dealer(kw.pop("dealer", "SH-1")), lines,
                                                                    **kw).id)  # fmt: skip


def add(world, username, sku, quantity, options=None):
    from portal.orders import drafts

    return as_user(world, username, lambda a: list(drafts.add_to_draft(a, _dealer(), sku, quantity, options).lines))


def submit(world, username, key=None):
    from portal.orders import drafts

    return as_user(world, username, lambda a: (lambda o, c: (o.number, c))(*drafts.submit(a, key)))


def test_adding_the_same_product_and_choice_adds_to_its_line(world, shop):
    add(world, "sh1", "OIL-1", 2)
    add(world, "sh1", "CAR-1", 1, {"colour": "red"})
    add(world, "sh1", "CAR-1", 1)  # white by default: another line
    lines = add(world, "sh1", "OIL-1", 3)
    assert lines == [
        {"sku": "OIL-1", "quantity": 5},
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED"}},
        {"sku": "CAR-1", "quantity": 1},
    ]
    assert add(world, "sh1", "CAR-1", 2, {"colour": "WHT"})[2] == {"sku": "CAR-1", "quantity": 3}


def test_the_draft_is_priced_live_at_todays_prices(world, shop):
    from portal.orders import drafts

    add(world, "sh1", "OIL-1", 10)
    add(world, "sh1", "CAR-1", 1, {"colour": "RED"})
    world.price_list("all", [{"sku": "OIL-1", "discount_pct": "50"}])

    def read(actor):
        p = drafts.priced(drafts.draft_of(actor))
        return p["gross"], [ln["unit_price"] for ln in p["lines"]], p["available"], p["orderable"]

    gross, prices, available, orderable = as_user(world, "sh1", read)
    assert prices == [Decimal("5.00"), Decimal("1100.00")]
    assert gross == Decimal("56.50") + Decimal("1243.00")
    assert available == Decimal("100000.00") and orderable


def test_a_line_no_longer_orderable_is_shown_with_its_error_and_refused_at_submit(world, shop):
    from portal.catalog.models import Product
    from portal.orders import drafts

    add(world, "sh1", "OIL-1", 1)
    add(world, "sh1", "FLT-1", 1)
    world.run(lambda: setattr(db.session.execute(select(Product).filter_by(sku="FLT-1")).scalar_one(), "active", False))
    priced = as_user(world, "sh1", lambda a: drafts.priced(drafts.draft_of(a)))
    assert not priced["orderable"]
    assert priced["lines"][1]["errors"] and not priced["lines"][0]["errors"]
    assert priced["gross"] == Decimal("11.30")  # what can be ordered
    with pytest.raises(Invalid) as caught:
        submit(world, "sh1")
    assert "lines.1.sku" in caught.value.fields
    assert world.count(Order) == 0 and world.count(OrderDraft) == 1


def test_a_bad_draft_is_refused_whole_and_the_saved_one_stays(world, shop):
    world.dealer("SH-2", "EAST")
    elsewhere = world.address("SH-2")
    save(world, "sh1", [{"sku": "OIL-1", "quantity": 1}])
    for lines, kw, field in [
        ([{"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLU"}}], {}, "lines.0.options"),
        ([{"sku": "OIL-1", "quantity": 1}], {"requested_on": dt.date(2020, 1, 1)}, "requested_on"),
        ([{"sku": "OIL-1", "quantity": 1}], {"ship_to": elsewhere}, "ship_to"),
    ]:
        with pytest.raises(Invalid) as caught:
            save(world, "sh1", lines, **kw)
        assert field in caught.value.fields
    from portal.dealers.models import User

    user_id = world.get(User, username="sh1")["id"]
    assert world.get(OrderDraft, user_id=user_id)["lines"] == [{"sku": "OIL-1", "quantity": 1}]


def test_submit_places_the_order_and_deletes_the_draft_and_a_repeat_with_the_key_answers_it(world, shop):
    mine = world.address("SH-1", label="仓库")
    save(world, "sh1", [{"sku": "OIL-1", "quantity": 2}, {"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED"}}],
         note="尽快", requested_on=dt.date(2099, 1, 2), ship_to=mine)  # fmt: skip
    number, created = submit(world, "sh1", "k-1")
    assert created and world.count(OrderDraft) == 0
    got = order_of(world, number)
    assert got["requested_on"] == dt.date(2099, 1, 2) and got["ship_to"] == mine
    assert [ln["options"] for ln in got["lines"]] == [[], ["RED"]]
    assert submit(world, "sh1", "k-1") == (number, False)  # the draft is gone: the order made with the key
    assert world.count(Order) == 1
    with pytest.raises(Invalid) as caught:  # without a key, an empty draft places nothing
        submit(world, "sh1")
    assert caught.value.code == "draft_empty"


def test_a_key_reused_for_another_draft_is_refused(world, shop):
    save(world, "sh1", [{"sku": "OIL-1", "quantity": 2}])
    submit(world, "sh1", "k-1")
    save(world, "sh1", [{"sku": "OIL-1", "quantity": 3}])
    with pytest.raises(Invalid) as caught:
        submit(world, "sh1", "k-1")
    assert caught.value.code == "idempotency_mismatch"
    assert world.count(Order) == 1 and world.count(OrderDraft) == 1


def test_order_again_copies_the_lines_at_todays_prices_and_lists_what_cannot_be_ordered(world, shop):
    from portal.catalog.models import Product, ProductOption
    from portal.orders import drafts

    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 4}, {"sku": "FLT-1", "quantity": 1},
                                          {"sku": "CAR-1", "quantity": 2, "options": {"colour": "RED"}}])  # fmt: skip

    def retire():
        db.session.execute(select(Product).filter_by(sku="FLT-1")).scalar_one().active = False
        db.session.execute(select(ProductOption).filter_by(code="RED")).scalar_one().active = False

    world.run(retire)
    world.price_list("all", [{"sku": "OIL-1", "unit_price": "8.00"}])
    add(world, "sh1", "OIL-1", 1)  # already in the draft: the copy adds to it

    def again(actor):
        order = db.session.execute(select(Order).filter_by(number=number)).unique().scalar_one()
        draft, skipped = drafts.reorder(actor, order)
        return list(draft.lines), [(s["sku"], s["quantity"]) for s in skipped], drafts.priced(draft)["lines"]

    lines, skipped, priced = as_user(world, "sh1", again)
    assert lines == [{"sku": "OIL-1", "quantity": 5}]
    assert skipped == [("FLT-1", 1), ("CAR-1", 2)]
    assert priced[0]["unit_price"] == Decimal("8.00")


def test_one_draft_per_user_and_a_manager_starting_for_another_dealer_replaces_it(world, shop):
    world.dealer("SH-2", "EAST")
    world.user("channel_manager", username="cm")
    save(world, "cm", [{"sku": "OIL-1", "quantity": 1}], dealer="SH-1")
    save(world, "cm", [{"sku": "FLT-1", "quantity": 1}], dealer="SH-2")
    assert world.count(OrderDraft) == 1
    number, _created = submit(world, "cm")
    got = order_of(world, number)
    assert got["placed_by"] == "cm" and [ln["sku"] for ln in got["lines"]] == ["FLT-1"]
