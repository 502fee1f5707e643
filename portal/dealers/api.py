"""JSON API for tokens, regions, dealers and users (PRODUCT.md §9.1)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from portal.dealers import services
from portal.dealers.models import Region, User
from portal.dealers.schemas import (
    DealerCreateSchema,
    DealerQuerySchema,
    DealerSchema,
    DealerUpdateSchema,
    MeUpdateSchema,
    RegionCreateSchema,
    RegionQuerySchema,
    RegionSchema,
    RegionUpdateSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import issue_personal_token, requires
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.uow import commit

auth_blp = api_blueprint("api_auth", __name__, "Bearer tokens for API clients")
blp = api_blueprint("api_dealers", __name__, "Regions, dealers and users")


@auth_blp.route("/auth/token", methods=["POST"])
@auth_blp.arguments(TokenRequestSchema)
@auth_blp.response(201, TokenSchema)
@auth_blp.alt_response(401, response="UNAUTHORIZED")  # invalid_credentials
@auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")  # login_throttled
def create_token(body):
    """Exchange a username and password for a bearer token (expires after PORTAL_TOKEN_HOURS)."""
    try:
        user = services.authenticate(body["username"], body["password"], request.remote_addr)
    except services.LoginFailed:
        commit()  # the failed attempt counts even though the answer is an error
        raise
    token, expires = issue_personal_token(user)
    return {"token": token, "expires_at": expires}


# ------------------------------------------------------------------ regions


@blp.route("/regions", methods=["GET"])
@requires("regions.read")
@blp.arguments(RegionQuerySchema, location="query")
@blp.response(200, page_of(RegionSchema))
def list_regions(args):
    """Regions in the caller's scope, in tree order."""
    return paginate(services.regions_query(current_scope(), args.get("under")), args["page"], args["per_page"])


@blp.route("/regions", methods=["POST"])
@requires("regions.write")
@blp.arguments(RegionCreateSchema)
@blp.response(201, RegionSchema)
def create_region(body):
    return services.create_region(current_user, body)


@blp.route("/regions/<code>", methods=["GET"])
@requires("regions.read")
@tenant_route("region")
@blp.response(200, RegionSchema)
def get_region(code):
    return current_scope().get_or_404(Region, code=code)


@blp.route("/regions/<code>", methods=["PATCH"])
@requires("regions.write")
@tenant_route("region")
@blp.arguments(RegionUpdateSchema)
@blp.response(200, RegionSchema)
def update_region(body, code):
    return services.update_region(current_user, current_scope().get_or_404(Region, code=code), body)


# ------------------------------------------------------------------ dealers


@blp.route("/dealers", methods=["GET"])
@requires("dealers.read")
@blp.arguments(DealerQuerySchema, location="query")
@blp.response(200, page_of(DealerSchema))
def list_dealers(args):
    """Dealers in the caller's scope, filtered."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.dealers_query(current_scope(), **args), page, per_page)


@blp.route("/dealers", methods=["POST"])
@requires("dealers.write")
@blp.arguments(DealerCreateSchema)
@blp.response(201, DealerSchema)
def create_dealer(body):
    return services.create_dealer(current_user, body)


@blp.route("/dealers/<code>", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, DealerSchema)
def get_dealer(code):
    return dealer_or_404(code)


@blp.route("/dealers/<code>", methods=["PATCH"])
@requires("dealers.write")
@tenant_route("dealer")
@blp.arguments(DealerUpdateSchema)
@blp.response(200, DealerSchema)
def update_dealer(body, code):
    return services.update_dealer(current_user, dealer_or_404(code), body)


# ------------------------------------------------------------------ users


@blp.route("/users", methods=["GET"])
@requires("users.read")
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, page_of(UserSchema))
def list_users(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.users_query(current_scope(), **args), page, per_page)


@blp.route("/users", methods=["POST"])
@requires("users.write")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(body):
    """hq_admin creates any user; a dealer_admin creates users of its own dealer."""
    return services.create_user(current_user, body)


@blp.route("/users/<username>", methods=["GET"])
@requires("users.read")
@tenant_route("user")
@blp.response(200, UserSchema)
def get_user(username):
    return current_scope().get_or_404(User, username=username)


@blp.route("/users/<username>", methods=["PATCH"])
@requires("users.write")
@tenant_route("user")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(body, username):
    return services.update_user(current_user, current_scope().get_or_404(User, username=username), body)


@blp.route("/me", methods=["GET"])
@requires("account.manage")
@blp.response(200, UserSchema)
def get_me():
    return current_user


@blp.route("/me", methods=["PATCH"])
@requires("account.manage")
@blp.arguments(MeUpdateSchema)
@blp.response(200, UserSchema)
def update_me(body):
    """Change one's own language, or password (with the current one)."""
    if "password" in body:
        services.change_own_password(current_user, body.get("current_password", ""), body["password"])
    if "locale" in body:
        services.set_own_locale(current_user, body["locale"])
    return current_user
