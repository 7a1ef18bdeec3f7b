"""Hypothesis strategies for vpnsmm's domain values (valid and deliberately invalid ones)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from vpnsmm.application.ports.smm_provider import AddOrder, ProviderService
from vpnsmm.application.vpn import PlanDraft
from vpnsmm.domain.identity import USERNAME_MAX
from vpnsmm.domain.ledger import TransferKind, TransferRequest
from vpnsmm.domain.money import MAX_AMOUNT, Currency, ExchangeRate, Money
from vpnsmm.domain.smm import ExactAmount, OrderStatus, ServiceType, refund_for
from vpnsmm.domain.smm_orders import Service, SmmOrder
from vpnsmm.domain.vpn import CLIENT_KEY_PATTERN, ClientLimits, ClientSpec
from vpnsmm.domain.vpn_sales import PROTOCOLS, TRANSPORTS, Plan, TrafficReset


def currencies() -> st.SearchStrategy[Currency]:
    """Every supported currency."""
    return st.sampled_from(list(Currency))


def amounts(*, min_value: int = -MAX_AMOUNT, max_value: int = MAX_AMOUNT) -> st.SearchStrategy[int]:
    """Integer minor-unit amounts within what Money accepts."""
    return st.integers(min_value=max(min_value, -MAX_AMOUNT), max_value=min(max_value, MAX_AMOUNT))


def money(currency: Currency | None = None, *, min_value: int = -MAX_AMOUNT,
          max_value: int = MAX_AMOUNT) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (any supported one when None)."""
    cur = st.just(currency) if currency is not None else currencies()
    return st.builds(Money, amounts(min_value=min_value, max_value=max_value), cur)


def exchange_rates() -> st.SearchStrategy[ExchangeRate]:
    """Positive rates between two different currencies."""
    pairs = st.tuples(currencies(), currencies()).filter(lambda p: p[0] is not p[1])
    return st.builds(lambda p, n, d: ExchangeRate(p[0], p[1], n, d), pairs, st.integers(1, 10**9),
                     st.integers(1, 10**6))


_NAME_CHARS = st.characters(whitelist_categories=("Ll", "Lu", "Lo", "Nd"), whitelist_characters="_.@+-")


def usernames() -> st.SearchStrategy[str]:
    """Valid usernames, in any script."""
    # Only NFKC-stable text: the domain folds compatibility characters ("Ŀ" becomes "L·"), which may not be letters.
    return st.text(_NAME_CHARS, min_size=1, max_size=USERNAME_MAX).filter(
        lambda s: s.strip() == s and s != "" and unicodedata.normalize("NFKC", s) == s)


def invalid_usernames() -> st.SearchStrategy[str]:
    """Usernames the domain must refuse: empty, too long, or with spaces, control or symbol characters."""
    return st.one_of(
        st.just(""),
        st.text(_NAME_CHARS, min_size=USERNAME_MAX + 1, max_size=USERNAME_MAX + 20),
        st.tuples(st.text(_NAME_CHARS, min_size=1, max_size=10), st.sampled_from([" ", "\n", ";", "/", "\x00", "😀"]),
                  st.text(_NAME_CHARS, min_size=1, max_size=10)).map("".join),
    )


def transfer_requests(*, account_ids: st.SearchStrategy[int] | None = None,
                      ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[TransferRequest]:
    """Well-formed plain transfer requests between two different accounts."""
    accounts = st.integers(1, 50) if account_ids is None else account_ids
    printable = st.characters(min_codepoint=33, max_codepoint=126)
    keys = ids if ids is not None else st.text(printable, min_size=1, max_size=40)
    pair = st.tuples(accounts, accounts).filter(lambda p: p[0] != p[1])
    return st.builds(lambda k, p, amount: TransferRequest(id=k, code="transfer", kind=TransferKind.PLAIN,
                                                          debit_account_id=p[0], credit_account_id=p[1],
                                                          amount=amount),
                     keys, pair, st.integers(1, 10**12))


# ------------------------------------------------------------------------------------------ ledger operations
_TRANSFER_CODES = st.sampled_from(["topup", "order_charge", "refund", "transfer", "vpn.purchase", "adjust:manual"])


@st.composite
def ledger_operations(draw: st.DrawFn, account_ids: Sequence[int] = (1, 2, 3, 4), *, max_size: int = 20,
                      max_amount: int = 10_000) -> list[TransferRequest]:
    """A sequence of ledger requests of every kind between ``account_ids`` (at least two): plain transfers, holds,
    and posts (whole or partial) and voids of holds made earlier in the sequence. Ids are unique except for
    deliberate replays of an earlier request (same id, same body), which an idempotent ledger must absorb.

    Whether each request succeeds depends on balances and account bounds: that is what your property checks.
    """
    if len(set(account_ids)) < 2:
        raise ValueError("ledger_operations needs at least two account ids")
    pairs = st.tuples(st.sampled_from(list(account_ids)), st.sampled_from(list(account_ids))).filter(
        lambda p: p[0] != p[1])
    ops: list[TransferRequest] = []
    holds: list[TransferRequest] = []
    for n in range(draw(st.integers(0, max_size))):
        choice = draw(st.sampled_from(["plain", "plain", "hold", "post", "void", "replay"]))
        code = draw(_TRANSFER_CODES)
        if choice in ("post", "void") and holds:
            hold = draw(st.sampled_from(holds))
            if choice == "post":
                part = draw(st.one_of(st.none(), st.integers(1, hold.amount or 1)))
                ops.append(TransferRequest.post(f"op-{n}", pending_id=hold.id, code=code, amount=part))
            else:
                ops.append(TransferRequest.void(f"op-{n}", pending_id=hold.id, code=code))
        elif choice == "replay" and ops:
            ops.append(draw(st.sampled_from(ops)))
        else:
            debit, credit = draw(pairs)
            amount = draw(st.integers(1, max_amount))
            make = TransferRequest.hold if choice == "hold" else TransferRequest.plain
            request = make(f"op-{n}", debit_account_id=debit, credit_account_id=credit, amount=amount, code=code)
            ops.append(request)
            if request.kind is TransferKind.PENDING:
                holds.append(request)
    return ops


# ------------------------------------------------------------------------------------------ VPN plans
_PLAN_NAME = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x24F),
                     min_size=1, max_size=40).map(str.strip).filter(bool)
_GROUPS = st.sampled_from(["default", "eu", "asia-1", "premium_2"])
_INSTANTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


def _price_lists(currencies_: Sequence[Currency] | None, *, min_size: int) -> st.SearchStrategy[dict[Currency, Money]]:
    pool = list(currencies_) if currencies_ else list(Currency)
    return st.lists(st.sampled_from(pool), min_size=min_size, max_size=len(pool), unique=True).flatmap(
        lambda cs: st.tuples(*(money(c, min_value=1, max_value=10**10) for c in cs)).map(
            lambda ms: {m.currency: m for m in ms}))


@st.composite
def plan_drafts(draw: st.DrawFn, *, currencies: Sequence[Currency] | None = None) -> PlanDraft:
    """Valid ``PlanDraft`` values (what ``ManagePlans.create`` takes), priced in some of ``currencies``."""
    return PlanDraft(
        name=draw(_PLAN_NAME), prices=draw(_price_lists(currencies, min_size=1)),
        duration_days=draw(st.integers(1, 3660)),
        traffic_bytes=draw(st.one_of(st.none(), st.integers(1, 10 * 1024**4))),
        description=draw(st.text(max_size=100)), device_limit=draw(st.one_of(st.none(), st.integers(1, 20))),
        protocol=draw(st.sampled_from(list(PROTOCOLS))), server_group=draw(_GROUPS),
        start_on_first_use=draw(st.booleans()), active=draw(st.booleans()),
        extra_gb_prices=draw(_price_lists(currencies, min_size=0)),
        extra_day_prices=draw(_price_lists(currencies, min_size=0)),
        traffic_reset=draw(st.sampled_from(list(TrafficReset))), transport=draw(st.sampled_from(list(TRANSPORTS))))


def plans(*, currencies: Sequence[Currency] | None = None) -> st.SearchStrategy[Plan]:
    """Valid domain ``Plan`` objects (not stored: ``id`` is 0)."""
    return st.builds(lambda d, at: Plan(
        name=d.name, prices=dict(d.prices), duration_days=d.duration_days, traffic_bytes=d.traffic_bytes,
        created_at=at, description=d.description, device_limit=d.device_limit, protocol=d.protocol,
        server_group=d.server_group, start_on_first_use=d.start_on_first_use, active=d.active,
        extra_gb_prices=dict(d.extra_gb_prices), extra_day_prices=dict(d.extra_day_prices),
        traffic_reset=d.traffic_reset, transport=d.transport),
        plan_drafts(currencies=currencies), _INSTANTS)


def invalid_plan_changes() -> st.SearchStrategy[dict[str, object]]:
    """One field of a plan set to a value the domain refuses (``ManagePlans.update`` raises ValidationError)."""
    return st.one_of(
        st.fixed_dictionaries({"name": st.sampled_from(["", " ", "x" * 65, "bad\nname", "semi;colon"])}),
        st.fixed_dictionaries({"duration_days": st.one_of(st.integers(max_value=0), st.integers(min_value=3661))}),
        st.fixed_dictionaries({"traffic_bytes": st.integers(max_value=0)}),
        st.fixed_dictionaries({"device_limit": st.integers(max_value=0)}),
        st.fixed_dictionaries({"protocol": st.sampled_from(["ssh", "VLESS", "", "openvpn"])}),
        st.fixed_dictionaries({"server_group": st.sampled_from(["", "Has Space", "-lead", "x" * 40])}),
        st.fixed_dictionaries({"prices": st.just({})}),
        st.fixed_dictionaries({"prices": currencies().map(lambda c: {c: Money(0, c)})}),
        st.fixed_dictionaries({"description": st.text(min_size=501, max_size=600)}),
        st.fixed_dictionaries({"traffic_reset": st.sampled_from(["hourly", "", "MONTH", "fortnight"])}),
        st.fixed_dictionaries({"transport": st.sampled_from(["quic", "", "WS", "kcp"])}),
    )


# ------------------------------------------------------------------------------------------ SMM services and orders
_SERVICE_NAME = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Zs")), min_size=1, max_size=60)


@st.composite
def provider_services(draw: st.DrawFn, *, currency: Currency = Currency.USD) -> ProviderService:
    """What an SMM provider's catalogue holds (``SmmProvider.services()`` items)."""
    low = draw(st.integers(1, 10_000))
    rate = draw(money(currency, min_value=0, max_value=10**7))
    return ProviderService(
        service_id=str(draw(st.integers(1, 10**6))), name=draw(_SERVICE_NAME),
        type=draw(st.sampled_from(list(ServiceType))), type_name="", category=draw(_SERVICE_NAME),
        rate=rate, rate_exact=ExactAmount.of(rate.amount, currency.exponent, currency),
        min=low, max=draw(st.integers(low, 10**7)), refill=draw(st.booleans()), cancel=draw(st.booleans()),
        dripfeed=draw(st.booleans()))


@st.composite
def smm_services(draw: st.DrawFn, *, currency: Currency | None = None) -> Service:
    """Services as we sell them (domain ``Service``, not stored)."""
    cur = currency or draw(currencies())
    low = draw(st.integers(1, 10_000))
    return Service(
        name=draw(_SERVICE_NAME), type=draw(st.sampled_from(list(ServiceType))), category_id=draw(st.integers(1, 50)),
        rate=draw(money(cur, min_value=0, max_value=10**8)), min=low, max=draw(st.integers(low, 10**7)),
        provider_id=draw(st.integers(1, 20)), provider_service_id=str(draw(st.integers(1, 10**6))),
        refill=draw(st.booleans()), cancel=draw(st.booleans()), dripfeed=draw(st.booleans()),
        markup=draw(st.sampled_from(["0", "10", "25.5", "150"])))


_LINKS = st.builds(lambda host, path: f"https://{host}/{path}", st.sampled_from(
    ["instagram.com", "t.me", "youtube.com", "x.com"]), st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1,
                                                                max_size=30))


def add_orders(service_ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[AddOrder]:
    """Default-type orders (link + quantity, optionally drip-fed) as sent to a provider."""
    ids = st.integers(1, 100).map(str) if service_ids is None else service_ids
    plain = st.builds(lambda s, link, q: AddOrder(service=s, link=link, quantity=q),
                      ids, _LINKS, st.integers(1, 100_000))
    drip = st.builds(lambda s, link, q, runs, every: AddOrder(service=s, link=link, quantity=q, runs=runs,
                                                               interval=every),
                     ids, _LINKS, st.integers(1, 10_000),
                     st.integers(2, 20), st.integers(1, 1440))
    return st.one_of(plain, drip)


@st.composite
def smm_orders(draw: st.DrawFn, *, currency: Currency | None = None) -> SmmOrder:
    """Orders as we record them (domain ``SmmOrder``, not stored), in any status with a consistent refund."""
    cur = currency or draw(currencies())
    charge = draw(money(cur, min_value=1, max_value=10**9))
    quantity = draw(st.integers(1, 100_000))
    status = draw(st.sampled_from(list(OrderStatus)))
    remains = draw(st.integers(0, quantity)) if status is OrderStatus.PARTIAL else None
    refunded = Money.zero(cur)
    if status.is_terminal:
        refunded = refund_for(charge, quantity, remains if remains is not None else quantity, status)
    return SmmOrder(user_id=draw(st.integers(1, 10**6)), service_id=draw(st.integers(1, 1000)),
                    provider_id=draw(st.integers(1, 20)), charge=charge, quantity=quantity,
                    created_at=draw(_INSTANTS), link=draw(_LINKS), status=status, refunded=refunded,
                    remains=remains, provider_order_id=str(draw(st.integers(1, 10**9))))


# ------------------------------------------------------------------------------------------ panel payloads
def client_keys() -> st.SearchStrategy[str]:
    """Valid client keys (``acc-<id>`` and the wider pattern every panel accepts)."""
    return st.one_of(st.integers(1, 10**9).map(lambda i: f"acc-{i}"), st.from_regex(CLIENT_KEY_PATTERN, fullmatch=True))


def invalid_client_keys() -> st.SearchStrategy[object]:
    """Keys no adapter may send to a panel (ValidationError before any request)."""
    return st.one_of(st.sampled_from(["", "ab", "Acc-1", "acc 1", "acc/1", "../acc", "a" * 33, "-acc", "акк-1"]),
                     st.integers(), st.none())


def client_specs() -> st.SearchStrategy[ClientSpec]:
    """Valid ``ClientSpec`` values (limits in bytes and whole seconds, or unlimited)."""
    limits = st.builds(ClientLimits, st.one_of(st.none(), st.integers(1, 10 * 1024**4)),
                       st.one_of(st.none(), _INSTANTS), st.one_of(st.none(), st.integers(1, 10)))
    return st.builds(ClientSpec, client_keys(), limits, st.booleans(), st.text(max_size=100))


_EPOCH_SECONDS = st.integers(int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()),
                             int(datetime(2099, 12, 31, tzinfo=UTC).timestamp()))
_EXTRA_FIELDS = st.dictionaries(st.sampled_from(["lifetime_used_traffic", "created_at", "sub_updated_at",
                                                 "online_at", "admin", "excluded_inbounds"]),
                                st.one_of(st.none(), st.integers(0, 10**12), st.text(max_size=20)), max_size=3)


def marzban_user_payloads(username: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Marzban 0.8 ``UserResponse`` bodies as the panel sends them (``GET /api/user/{username}``), including
    fields vpnsmm does not read (panels add fields; adapters must ignore them)."""
    base = st.fixed_dictionaries({
        "username": client_keys() if username is None else username,
        "status": st.sampled_from(["active", "disabled", "limited", "expired", "on_hold"]),
        "used_traffic": st.integers(0, 10**14),
        "expire": st.one_of(st.none(), st.just(0), _EPOCH_SECONDS),
        "data_limit": st.one_of(st.none(), st.just(0), st.integers(1, 10**14)),
        "data_limit_reset_strategy": st.sampled_from(["no_reset", "day", "week", "month", "year"]),
        "proxies": st.just({"vless": {"id": "2f1b7ad8-6b3b-4a86-9a0c-7b2f6f0e1a11", "flow": ""}}),
        "links": st.lists(st.just("vless://2f1b7ad8-6b3b-4a86-9a0c-7b2f6f0e1a11@vpn.example.com:443#x"),
                          max_size=2),
        "subscription_url": st.sampled_from(["", "/sub/dGVzdA", "https://sub.example.com/sub/dGVzdA"]),
        "note": st.one_of(st.none(), st.text(max_size=50)),
    })
    return st.builds(lambda body, extra: {**extra, **body}, base, _EXTRA_FIELDS)


_BROKEN_VALUES = st.one_of(st.none(), st.booleans(), st.text(max_size=5),
                           st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2),
                           st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def _broken(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]], required: Sequence[str],
            typed: Mapping[str, type | tuple[type, ...]], nonsense: Mapping[str, st.SearchStrategy[Any]]) -> Any:
    body = dict(draw(valid))
    how = draw(st.sampled_from(["drop", "retype", "nonsense", "not-an-object"]))
    if how == "drop":
        body.pop(draw(st.sampled_from(list(required))))
    elif how == "retype":
        name = draw(st.sampled_from(sorted(typed)))
        body[name] = draw(_BROKEN_VALUES.filter(lambda v: not _fits(v, typed[name])))
    elif how == "nonsense":
        name = draw(st.sampled_from(sorted(nonsense)))
        body[name] = draw(nonsense[name])
    else:
        return draw(st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=10), st.integers()))
    return body


def _fits(value: object, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, float) and int in kinds and value.is_integer():
        return True  # JSON cannot tell 3.0 from 3; a decoder may accept it either way
    return isinstance(value, kinds)


def invalid_marzban_user_payloads() -> st.SearchStrategy[Any]:
    """Marzban user bodies an adapter must refuse as an unreadable answer (UpstreamUnavailableError), not crash
    on: a required field missing, a field of the wrong type, an unknown status, negative or absurd numbers,
    or not an object at all."""
    return _broken(
        marzban_user_payloads(), required=("username", "status"),
        typed={"username": str, "status": str, "used_traffic": int, "expire": (int, type(None)),
               "data_limit": (int, type(None)), "links": list},
        nonsense={"status": st.sampled_from(["deleted", "ACTIVE", "", "onhold"]),
                  "data_limit": st.integers(max_value=-1), "used_traffic": st.integers(max_value=-1),
                  "expire": st.one_of(st.integers(min_value=10**12), st.integers(max_value=-1))})


def xui_client_payloads(email: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """3x-UI client objects as they sit in an inbound's ``settings.clients`` (units: bytes, milliseconds;
    a negative ``expiryTime`` is a start-on-first-use duration, 0 = never)."""
    base = st.fixed_dictionaries({
        "email": client_keys() if email is None else email,
        "id": st.uuids().map(str),
        "flow": st.sampled_from(["", "xtls-rprx-vision"]),
        "limitIp": st.integers(0, 10),
        "totalGB": st.one_of(st.just(0), st.integers(1, 10**14)),
        "expiryTime": st.one_of(st.just(0), _EPOCH_SECONDS.map(lambda s: s * 1000), st.integers(-(10**10), -1)),
        "enable": st.booleans(),
        "tgId": st.one_of(st.just(0), st.integers(1, 10**10)),
        "subId": st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=16, max_size=16),
        "comment": st.text(max_size=30),
        "reset": st.integers(0, 30),
    })
    return st.builds(lambda body, extra: {**extra, **body}, base,
                     st.dictionaries(st.sampled_from(["created_at", "updated_at"]),
                                     st.one_of(st.integers(0, 10**13), st.text(max_size=10)), max_size=2))


def invalid_xui_client_payloads() -> st.SearchStrategy[Any]:
    """3x-UI client objects an adapter must refuse as an unreadable answer (UpstreamUnavailableError)."""
    return _broken(
        xui_client_payloads(), required=("email",),
        typed={"email": str, "totalGB": int, "expiryTime": int, "limitIp": int, "enable": bool},
        nonsense={"totalGB": st.integers(max_value=-1), "limitIp": st.integers(max_value=-1),
                  "expiryTime": st.integers(min_value=10**16)})


def xui_envelopes(obj: st.SearchStrategy[Any], *, success: bool | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """3x-UI's ``{success, msg, obj}`` answer around ``obj`` (business errors arrive with HTTP 200 and
    ``success: false``)."""
    flags = st.booleans() if success is None else st.just(success)
    return st.fixed_dictionaries({"success": flags, "msg": st.text(max_size=30), "obj": obj})
