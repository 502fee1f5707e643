"""JSON API for tokens, regions, dealers and users (PRODUCT.md §9.1)."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from portal.collections.schemas import AccountManagerSchema
from portal.dealers import overview, services
from portal.dealers.models import Region, User
from portal.dealers.schemas import (
    AddressCreateSchema,
    AddressSchema,
    AddressUpdateSchema,
    ContactCreateSchema,
    ContactSchema,
    ContactUpdateSchema,
    DealerCreateSchema,
    DealerListItemSchema,
    DealerQuerySchema,
    DealerSchema,
    DealerUpdateSchema,
    MeUpdateSchema,
    NoteCreateSchema,
    NoteSchema,
    OverviewSchema,
    RegionCreateSchema,
    RegionQuerySchema,
    RegionSchema,
    RegionUpdateSchema,
    SubDealerQuerySchema,
    SubDealerSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import can, issue_personal_token, requires
from portal.platform.errors import Forbidden, Invalid
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
@blp.response(200, page_of(DealerListItemSchema))
def list_dealers(args):
    """Dealers in the caller's scope, filtered, with their balance, overdue amount and credit utilisation (the figures
    of their overviews); `sort` by code (the default), balance, overdue or utilisation, `dir` asc or desc."""
    page, per_page = args.pop("page"), args.pop("per_page")
    sort, direction = args.pop("sort"), args.pop("dir")
    stmt = services.dealers_query(current_scope(), **args)
    return services.dealer_rows(stmt, sort=sort, direction=direction, page=page, per_page=per_page)


@blp.route("/dealers", methods=["POST"])
@requires("dealers.write")
@blp.arguments(DealerCreateSchema)
@blp.response(201, DealerSchema)
def create_dealer(body):
    """A dealer that buys from HQ; given `parent_code`, a sub-dealer of that distributor, in its region (§16)."""
    return services.create_dealer(current_user, body, current_scope())


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


@blp.route("/dealers/<code>/account-manager", methods=["PUT"])
@requires("dealers.write")
@tenant_route("dealer")
@blp.arguments(AccountManagerSchema)
@blp.response(200, DealerSchema)
def put_account_manager(body, code):
    """Name the dealer's account manager (§14): a channel manager, or a region manager of the dealer's region or a
    region above it (else 422); `null` clears. Audited as a dealer update."""
    dealer = dealer_or_404(code)
    if "username" not in body:
        raise Invalid(fields={"username": [_("Required.")]})
    return services.update_dealer(current_user, dealer, {"account_manager": body["username"]})


@blp.route("/dealers/<code>/sub-dealers", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(SubDealerQuerySchema, location="query")
@blp.response(200, page_of(SubDealerSchema))
def list_sub_dealers(args, code):
    """The dealer's sub-dealers (§16) the caller sees, each with its account with the distributor — balance, overdue,
    credit limit and temporary increases, exposure, available, utilisation, as their overviews show them — and its
    open orders; sorted like the dealer list. A sub-dealer has none (an empty page); a dealer out of scope: 404."""
    dealer = dealer_or_404(code)
    return services.sub_dealer_rows(current_scope(), dealer, sort=args["sort"], direction=args["dir"],
                                    page=args["page"], per_page=args["per_page"])  # fmt: skip


@blp.route("/dealers/<code>/overview", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, OverviewSchema)
def get_overview(code):
    """The dealer's whole picture (一户一档): the figures of its credit, ageing, open invoices, orders and backorders,
    shipments in transit, statements, stock and sell-through, rebates, contacts and addresses — each as the dealer's
    own list or page computes it. A dealer user gets its own without HQ's internal fields (notes: null). §16:
    `seller` is a sub-dealer's distributor (`visible`: whether the caller may open its overview), `sub_dealers` a
    distributor's sub-dealers with their account with it; a sub-dealer has nothing of HQ's (statements, rebates,
    backorders and the account manager are null), and its distributor's users see it as it sees itself."""
    scope = current_scope()
    dealer = dealer_or_404(code)
    return overview.build(scope, dealer, internal=not scope.is_dealer, may_read_statements=can("statements.read"))


# ------------------------------------------------------------------ contacts, ship-to addresses, notes
#
# The item paths take the id as a plain path segment (not `<int:…>`): with two rules on one path (PATCH and DELETE)
# werkzeug answers an id the int converter refuses (beyond 2³¹ − 1) with 404 for one method and 405 for the other;
# the services answer anything that is no id of the dealer's with 404.


@blp.route("/dealers/<code>/contacts", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, ContactSchema(many=True))
def list_contacts(code):
    """The dealer's contacts, by role (owner, general manager, purchasing, finance …)."""
    return services.contacts_of(dealer_or_404(code))


@blp.route("/dealers/<code>/contacts", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(ContactCreateSchema)
@blp.response(201, ContactSchema)
def create_contact(body, code):
    """HQ (administrators, channel managers) and the dealer's own dealer_admin; a phone or an e-mail is required."""
    return services.add_contact(current_user, dealer_or_404(code), body)


@blp.route("/dealers/<code>/contacts/<contact_id>", methods=["PATCH"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(ContactUpdateSchema)
@blp.response(200, ContactSchema)
def update_contact(body, code, contact_id):
    dealer = dealer_or_404(code)
    return services.update_contact(current_user, dealer, services.contact_of(dealer, contact_id), body)


@blp.route("/dealers/<code>/contacts/<contact_id>", methods=["DELETE"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, ContactSchema)
def delete_contact(code, contact_id):
    """Remove a contact; the answer is the contact as it was."""
    dealer = dealer_or_404(code)
    contact = services.contact_of(dealer, contact_id)
    services.remove_contact(current_user, dealer, contact)
    return contact


@blp.route("/dealers/<code>/addresses", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, AddressSchema(many=True))
def list_addresses(code):
    """The dealer's ship-to addresses in use, the default first."""
    return services.addresses_of(dealer_or_404(code))


@blp.route("/dealers/<code>/addresses", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(AddressCreateSchema)
@blp.response(201, AddressSchema)
def create_address(body, code):
    """HQ and the dealer's own dealer_admin. The first address, or one sent with `is_default: true`, becomes the
    default (the previous default stops being it): a dealer with addresses always has exactly one default."""
    return services.add_address(current_user, dealer_or_404(code), body)


@blp.route("/dealers/<code>/addresses/<address_id>", methods=["PATCH"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(AddressUpdateSchema)
@blp.response(200, AddressSchema)
def update_address(body, code, address_id):
    dealer = dealer_or_404(code)
    return services.update_address(current_user, dealer, services.address_of(dealer, address_id), body)


@blp.route("/dealers/<code>/addresses/<address_id>", methods=["DELETE"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, AddressSchema)
def delete_address(code, address_id):
    """The address is no longer offered (orders sent there keep it); removing the default makes the oldest remaining
    address the default. The answer is the removed address."""
    dealer = dealer_or_404(code)
    address = services.address_of(dealer, address_id)
    services.remove_address(current_user, dealer, address)
    return address


@blp.route("/dealers/<code>/notes", methods=["GET"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.response(200, NoteSchema(many=True))
def list_notes(code):
    """HQ's and the region's internal notes about the dealer, newest first (dealer users: 403)."""
    dealer = dealer_or_404(code)
    if not services.may_read_notes(current_user):
        raise Forbidden()
    return services.notes_of(dealer)


@blp.route("/dealers/<code>/notes", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
@blp.arguments(NoteCreateSchema)
@blp.response(201, NoteSchema)
def create_note(body, code):
    """HQ and the dealer's region manager add internal notes (a call, a visit); they are never changed."""
    return services.add_note(current_user, dealer_or_404(code), body)


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
    """hq_admin creates any user; a dealer_admin creates users of its own dealer and, for a distributor, of its
    sub-dealers (§16: `dealer_code` names which; absent: its own)."""
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
