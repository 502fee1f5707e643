"""Operator commands of PRODUCT.md §10: create-user (password from stdin), create-token, demo."""

from __future__ import annotations

from portal.dealers.models import ApiToken, Dealer, Region, User


def test_create_user_reads_the_password_from_stdin(app, world, client):
    world.region("EAST")
    world.dealer("SH-001", "EAST")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "wang.wei", "--role", "dealer_admin", "--dealer", "SH-001"], input="Cli-pass-2026\n"
    )
    assert result.exit_code == 0, result.output
    user = world.get(User, username="wang.wei")
    assert user["role"] == "dealer_admin" and user["dealer_id"] is not None
    assert (
        client.post("/api/v1/auth/token", json={"username": "wang.wei", "password": "Cli-pass-2026"}).status_code == 201
    )


def test_create_user_explains_what_is_wrong(app, world):
    result = app.test_cli_runner().invoke(
        args=["create-user", "li.na", "--role", "region_manager"], input="Cli-pass-2026\n"
    )
    assert result.exit_code == 1
    assert "region_code" in result.output
    assert world.get(User, username="li.na") is None


def test_create_token_prints_a_working_integration_token(app, world, client):
    result = app.test_cli_runner().invoke(args=["create-token", "factory-mes", "--scope", "production"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert token.startswith("drp_i_")
    assert world.get(ApiToken, name="factory-mes")["scope"] == "production"
    resp = client.get("/api/v1/dealers", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403  # authenticated, but the production scope does not read dealers


def test_the_demo_channel(app, world):
    """One load of the demo (about 40 s) checks what it holds, that its documented logins work, and that a second
    run leaves it alone."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "demo-pass-2026" in result.output
    assert world.count(Dealer) >= 40
    assert world.count(Region) >= 5 + 1
    for role in ("dealer_staff", "dealer_admin", "region_manager", "channel_manager", "finance", "hq_admin"):
        assert world.count(User, role=role) >= 1, role
    from portal.orders.models import Order

    statuses = world.run(lambda: {o.status for o in __import__("portal.extensions", fromlist=["db"]).db.session.query(
        Order)})
    assert {"approved", "credit_review", "rejected"} <= statuses
    # the logins the README documents
    from tests.conftest import login

    for username in ("admin", "channel", "finance", "rm.east", "sh001.admin", "sh001.staff"):
        c = app.test_client()
        assert login(c, username, "demo-pass-2026").status_code == 302, username
        assert c.get("/home").status_code == 200, username
    # a second run leaves the data alone
    again = runner.invoke(args=["demo"])
    assert "already holds data" in again.output
    assert world.count(Dealer) >= 40


def test_the_demos_reset_empties_a_database_where_dealers_have_account_managers(app, world):
    from portal.demo import reset_all

    world.region("EAST")
    world.dealer("SH-001", "EAST")
    world.user("channel_manager", username="cm")
    world.account_manager("SH-001", "cm")  # dealers.account_manager_id -> users: a cycle for "children first"
    world.run(reset_all)
    assert world.count(Dealer) == world.count(User) == world.count(Region) == 0
