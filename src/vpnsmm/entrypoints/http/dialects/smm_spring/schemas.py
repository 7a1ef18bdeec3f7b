"""Request bodies of the smm-spring document (camelCase on the wire; unknown fields are ignored)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

Id = Annotated[int, Meta(ge=1, le=2**62)]


class In(Struct, rename="camel"):
    pass


class RegisterIn(In):
    username: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    email: Annotated[str, Meta(max_length=254)] | None = None
    confirm_password: Annotated[str, Meta(max_length=256)] | None = None


class LoginIn(In):
    username: Annotated[str, Meta(max_length=256)]
    password: Annotated[str, Meta(max_length=1024)]


class RefreshIn(In):
    refresh_token: Annotated[str, Meta(max_length=256)] | None = None


class OrderIn(In):
    service: Id
    link: Annotated[str, Meta(max_length=1000)]
    quantity: Annotated[int, Meta(ge=1, le=10**9)]


class BulkIn(In):
    order_ids: Annotated[list[Id], Meta(min_length=1, max_length=100)]
    action: Annotated[str, Meta(min_length=1, max_length=32)]
    reason: Annotated[str, Meta(max_length=500)] = ""


class DepositIn(In):
    amount: Any
    description: Annotated[str, Meta(max_length=255)] = ""
    method: Annotated[str, Meta(max_length=16)] | None = None  # cryptomus / zarinpal (optional)
    user_id: Id | None = None  # admins only: credit this user directly (audited)
    username: Annotated[str, Meta(max_length=64)] | None = None  # admins only, instead of userId
    idempotency_key: Annotated[str, Meta(max_length=100)] | None = None  # for an admin credit


class FundsIn(In):
    amount: Any


class ActionIn(In):
    action: Annotated[str, Meta(min_length=1, max_length=32)]
    reason: Annotated[str, Meta(max_length=500)] = ""
    new_quantity: Annotated[int, Meta(ge=0, le=10**9)] | None = None
    new_start_count: Annotated[int, Meta(ge=0, le=10**12)] | None = None


class CoefficientIn(In):
    coefficient: Any
    reason: Annotated[str, Meta(max_length=500)] = ""


class StatusIn(In):
    status: Annotated[str, Meta(min_length=1, max_length=32)]
