"""The ledger's pure rules: accounts, request shapes, plan_transfer, replays, linked batches, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnsmm.domain.errors import (
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from vpnsmm.domain.ledger import (
    MAX_COUNTER,
    MAX_LINKED,
    AccountFlags,
    AccountPurpose,
    LedgerAccount,
    PendingStatus,
    Side,
    Transfer,
    TransferKind,
    TransferOutcome,
    TransferRequest,
    check_linked_batch,
    check_replay,
    conflicting_fields,
    involved_account_ids,
    plan_transfer,
    totals_of,
)
from vpnsmm.domain.money import MAX_AMOUNT, Currency, ExchangeRate

T0 = datetime(2025, 1, 1, tzinfo=UTC)
USD_IRR = ExchangeRate.parse(Currency.USD, Currency.IRR, "620000")


def account(account_id: int, purpose: AccountPurpose = AccountPurpose.WALLET, currency: Currency = Currency.USD,
            *, owner: int | None = None, **counters: Any) -> LedgerAccount:
    owner = owner if owner is not None else (account_id if purpose is AccountPurpose.WALLET else None)
    return attrs.evolve(LedgerAccount.open(account_id, owner, currency, purpose), **counters)


WORLD = account(1, AccountPurpose.WORLD)
REVENUE = account(3, AccountPurpose.REVENUE)


def wallet(balance: int = 0, *, account_id: int = 2, pending: int = 0) -> LedgerAccount:
    return account(account_id, credits_posted=balance, debits_pending=pending)


def plain(tid: str, debit: LedgerAccount, credit: LedgerAccount, amount: int, **kw: Any) -> TransferRequest:
    return TransferRequest.plain(tid, debit_account_id=debit.id, credit_account_id=credit.id, amount=amount,
                                 code=kw.pop("code", "test"), **kw)


def hold(tid: str, debit: LedgerAccount, credit: LedgerAccount, amount: int, **kw: Any) -> TransferRequest:
    return TransferRequest.hold(tid, debit_account_id=debit.id, credit_account_id=credit.id, amount=amount,
                                code=kw.pop("code", "order_charge"), **kw)


def run(request: TransferRequest, debit: LedgerAccount, credit: LedgerAccount, *,
        pending: Transfer | None = None, status: PendingStatus | None = None) -> TransferOutcome:
    return plan_transfer(request, debit=debit, credit=credit, pending=pending, pending_status=status, timestamp=T0)


def held(amount: int = 700, balance: int = 1000) -> tuple[Transfer, LedgerAccount, LedgerAccount]:
    """A wallet with ``balance`` and a hold of ``amount`` toward revenue, after the hold."""
    out = run(hold("h1", wallet(balance), REVENUE, amount, reference="order:1"), wallet(balance), REVENUE)
    return out.transfer, out.debit_account, out.credit_account


# -- accounts ------------------------------------------------------------------------------------------
def test_purposes_have_a_normal_side_and_only_wallets_are_bounded_by_default() -> None:
    for purpose in AccountPurpose:
        assert purpose.normal_side in (Side.DEBIT, Side.CREDIT)
        expected = (AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS if purpose is AccountPurpose.WALLET
                    else AccountFlags.NONE)
        assert purpose.default_flags is expected
    assert AccountPurpose.WALLET.normal_side is Side.CREDIT
    assert AccountPurpose.WORLD.normal_side is Side.DEBIT
    assert AccountPurpose.parse(" Gateway_Clearing ") is AccountPurpose.GATEWAY_CLEARING
    with pytest.raises(ValidationError):
        AccountPurpose.parse("piggy_bank")


def test_a_wallet_needs_an_owner_and_ids_must_be_positive() -> None:
    with pytest.raises(ValidationError) as info:
        LedgerAccount.open(1, None, Currency.USD, AccountPurpose.WALLET)
    assert info.value.field == "owner_id"
    for bad_id in (0, -1, True):
        with pytest.raises(ValidationError):
            LedgerAccount.open(bad_id, 5, Currency.USD, AccountPurpose.WALLET)
    with pytest.raises(ValidationError):
        LedgerAccount.open(1, 0, Currency.USD, AccountPurpose.WALLET)
    with pytest.raises(ValidationError):
        LedgerAccount.open(1, None, "XYZ", AccountPurpose.REVENUE)  # type: ignore[arg-type]
    system = LedgerAccount.open(9, None, Currency.IRR, AccountPurpose.REVENUE)
    assert (system.owner_id, system.balance, system.available) == (None, 0, 0)


def test_counters_must_be_non_negative_integers() -> None:
    for bad in (-1, 1.5, True, MAX_COUNTER + 1):
        with pytest.raises(ValidationError):
            account(2, credits_posted=bad)


def test_balance_and_available_follow_the_normal_side() -> None:
    w = account(2, credits_posted=1000, debits_posted=300, debits_pending=200, credits_pending=50)
    assert (w.balance, w.available) == (700, 500)  # incoming holds are not spendable
    assert w.balance_money.format() == "7.00"
    assert w.available_money.amount == 500
    world = account(1, AccountPurpose.WORLD, debits_posted=1000, credits_posted=100, credits_pending=40,
                    debits_pending=5)
    assert (world.balance, world.available) == (900, 860)


def test_bounds_and_headroom() -> None:
    w = account(2, credits_posted=100, debits_posted=30, debits_pending=20)
    assert w.within_bound
    assert w.headroom(Side.DEBIT) == 50
    assert w.headroom(Side.CREDIT) is None
    assert not attrs.evolve(w, debits_pending=71).within_bound
    asset = attrs.evolve(account(4, AccountPurpose.GATEWAY_CLEARING, debits_posted=100, credits_pending=10),
                         flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
    assert asset.headroom(Side.CREDIT) == 90
    assert asset.headroom(Side.DEBIT) is None
    assert not attrs.evolve(asset, credits_posted=91).within_bound
    assert account(1, AccountPurpose.WORLD, credits_posted=10).within_bound  # unbounded may go negative


def test_moved_refuses_to_overflow_or_go_below_zero() -> None:
    w = account(2, credits_posted=MAX_COUNTER - 1)
    assert w.moved(Side.CREDIT, posted=1, pending=0).credits_posted == MAX_COUNTER
    with pytest.raises(ValidationError) as info:
        w.moved(Side.CREDIT, posted=2, pending=0)
    assert info.value.code == "LEDGER_OVERFLOW"
    with pytest.raises(ValidationError):
        w.moved(Side.DEBIT, posted=0, pending=-1)


# -- request shapes --------------------------------------------------------------------------------------
GOOD: dict[str, Any] = {"id": "t-1", "code": "topup", "debit_account_id": 1, "credit_account_id": 2, "amount": 5}


@pytest.mark.parametrize(("change", "field"), [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "x" * 129}, "id"),
    ({"id": "ключ"}, "id"),
    ({"id": 7}, "id"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": 5.0}, "amount"),
    ({"amount": MAX_AMOUNT + 1}, "amount"),
    ({"amount": None}, "amount"),
    ({"debit_account_id": None}, "debit_account_id"),
    ({"debit_account_id": 0}, "debit_account_id"),
    ({"credit_account_id": "2"}, "credit_account_id"),
    ({"credit_account_id": 1}, "credit_account_id"),
    ({"code": ""}, "code"),
    ({"code": "Top Up"}, "code"),
    ({"reference": "   "}, "reference"),
    ({"reference": "r" * 129}, "reference"),
    ({"memo": "m" * 501}, "memo"),
    ({"memo": "bell\x07"}, "memo"),
    ({"pending_id": "h1"}, "pending_id"),
    ({"rate": "620000"}, "rate"),
    ({"kind": "plain"}, "kind"),
])
def test_request_shape_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        TransferRequest(**{**GOOD, **change})
    assert info.value.field == field


def test_post_and_void_need_a_pending_id_that_is_not_their_own() -> None:
    with pytest.raises(ValidationError) as info:
        TransferRequest(id="p", code="x", kind=TransferKind.POST_PENDING)
    assert info.value.field == "pending_id"
    with pytest.raises(ValidationError):
        TransferRequest.void("p", pending_id="p", code="x")
    with pytest.raises(ValidationError):
        TransferRequest.post("p", pending_id="bad id", code="x")
    assert TransferRequest.post("p", pending_id="h", code="capture").amount is None


def test_limits_are_inclusive() -> None:
    TransferRequest(**{**GOOD, "id": "x" * 128, "amount": MAX_AMOUNT, "memo": "m" * 500, "reference": "r" * 128})


# -- plain transfers -------------------------------------------------------------------------------------
def test_a_plain_transfer_moves_posted_money_and_reports_both_sides() -> None:
    w = wallet(0)
    out = run(plain("t1", WORLD, w, 1000, code="topup", reference="invoice:12", memo="card"), WORLD, w)
    t = out.transfer
    assert (t.id, t.kind, t.amount, t.currency, t.code, t.reference, t.memo, t.timestamp) == (
        "t1", TransferKind.PLAIN, 1000, Currency.USD, "topup", "invoice:12", "card", T0)
    assert out.credit_account.balance == 1000
    assert out.credit_account.credits_posted == 1000
    assert out.debit_account.balance == 1000
    assert out.debit_account.debits_posted == 1000
    assert out.resolution is None
    debit_entry, credit_entry = out.entries(41)
    assert (debit_entry.id, credit_entry.id) == (41, 42)
    assert (credit_entry.side, credit_entry.delta, credit_entry.balance_before, credit_entry.balance_after) == (
        Side.CREDIT, 1000, 0, 1000)
    assert (credit_entry.available_before, credit_entry.available_after, credit_entry.pending_delta) == (0, 1000, 0)
    assert (debit_entry.account_id, debit_entry.side, debit_entry.delta) == (WORLD.id, Side.DEBIT, 1000)
    assert credit_entry.transfer_id == "t1"
    assert credit_entry.reference == "invoice:12"


def test_a_wallet_can_spend_exactly_its_available_balance_and_not_one_unit_more() -> None:
    w = wallet(1000, pending=300)
    out = run(plain("t", w, REVENUE, 700), w, REVENUE)
    assert out.debit_account.available == 0
    assert out.debit_account.balance == 300
    with pytest.raises(InsufficientFundsError) as info:
        run(plain("t", w, REVENUE, 701), w, REVENUE)
    assert info.value.code == "INSUFFICIENT_BALANCE"
    assert info.value.details == {"account_id": w.id, "side": "debit", "available": 700, "requested": 701,
                                  "currency": "USD"}


def test_unbounded_accounts_may_go_negative() -> None:
    out = run(plain("t", REVENUE, wallet(0), 50), REVENUE, wallet(0))
    assert out.debit_account.balance == -50


def test_credit_bound_is_enforced_on_the_credit_side() -> None:
    asset = attrs.evolve(account(4, AccountPurpose.GATEWAY_CLEARING, debits_posted=100),
                         flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
    assert run(plain("t", WORLD, asset, 100), WORLD, asset).credit_account.balance == 0
    with pytest.raises(InsufficientFundsError) as info:
        run(plain("t", WORLD, asset, 101), WORLD, asset)
    assert info.value.details["side"] == "credit"


def test_accounts_in_different_currencies_cannot_trade() -> None:
    irr = account(5, currency=Currency.IRR, credits_posted=10**9)
    with pytest.raises(CurrencyMismatchError) as info:
        run(plain("t", irr, wallet(0), 1), irr, wallet(0))
    assert info.value.details == {"debit_currency": "IRR", "credit_currency": "USD"}


def test_rates_are_recorded_on_conversion_legs_only() -> None:
    conv = account(6, AccountPurpose.CONVERSION)
    w = wallet(100)
    with pytest.raises(ValidationError) as info:
        run(plain("t", w, conv, 10), w, conv)
    assert info.value.code == "RATE_REQUIRED"
    assert run(plain("t", w, conv, 10, rate=USD_IRR), w, conv).transfer.rate == USD_IRR
    with pytest.raises(ValidationError) as info:
        run(plain("t", w, REVENUE, 10, rate=USD_IRR), w, REVENUE)
    assert info.value.code == "RATE_NOT_ALLOWED"
    rub_irr = ExchangeRate.parse(Currency.RUB, Currency.IRR, "7000")
    with pytest.raises(CurrencyMismatchError):
        run(plain("t", w, conv, 10, rate=rub_irr), w, conv)


def test_the_accounts_passed_must_be_the_requested_ones() -> None:
    with pytest.raises(ValueError, match="accounts passed"):
        run(plain("t", WORLD, wallet(0), 1), WORLD, REVENUE)


def test_counter_overflow_is_refused() -> None:
    big = account(2, credits_posted=MAX_COUNTER - 5)
    with pytest.raises(ValidationError) as info:
        run(plain("t", WORLD, big, 6), WORLD, big)
    assert info.value.code == "LEDGER_OVERFLOW"


# -- two-phase ---------------------------------------------------------------------------------------------
def test_a_hold_reserves_money_without_posting_it() -> None:
    pending, w, rev = held(700, 1000)
    assert (w.balance, w.available, w.debits_pending) == (1000, 300, 700)
    assert (rev.balance, rev.credits_pending) == (0, 700)
    with pytest.raises(InsufficientFundsError):
        run(hold("h2", w, rev, 301), w, rev)
    assert pending.kind is TransferKind.PENDING
    assert pending.amount == 700


def test_posting_the_whole_hold() -> None:
    pending, w, rev = held(700, 1000)
    out = run(TransferRequest.post("p1", pending_id="h1", code="capture"), w, rev, pending=pending,
              status=PendingStatus.PENDING)
    assert out.transfer.amount == 700
    assert out.transfer.reference == "order:1"
    assert (out.transfer.debit_account_id, out.transfer.credit_account_id) == (w.id, rev.id)
    assert (out.debit_account.balance, out.debit_account.available, out.debit_account.debits_pending) == (300, 300, 0)
    assert (out.credit_account.balance, out.credit_account.credits_pending) == (700, 0)
    assert out.resolution is not None
    assert out.resolution.status is PendingStatus.POSTED
    debit_change = out.debit_change
    assert (debit_change.delta, debit_change.pending_delta) == (-700, -700)
    assert (debit_change.available_before, debit_change.available_after) == (300, 300)


def test_a_partial_post_releases_the_rest() -> None:
    pending, w, rev = held(700, 1000)
    out = run(TransferRequest.post("p1", pending_id="h1", amount=200, code="capture", reference="order:1b"),
              w, rev, pending=pending, status=PendingStatus.PENDING)
    assert out.transfer.amount == 200
    assert out.transfer.reference == "order:1b"
    assert (out.debit_account.balance, out.debit_account.available, out.debit_account.debits_pending) == (800, 800, 0)
    assert (out.credit_account.balance, out.credit_account.credits_pending) == (200, 0)


def test_posting_more_than_held_is_refused() -> None:
    pending, w, rev = held(700, 1000)
    with pytest.raises(InvalidTransitionError) as info:
        run(TransferRequest.post("p1", pending_id="h1", amount=701, code="capture"), w, rev, pending=pending,
            status=PendingStatus.PENDING)
    assert info.value.code == "EXCEEDS_PENDING_TRANSFER_AMOUNT"
    assert info.value.details == {"pending_id": "h1", "held": 700, "requested": 701}


def test_void_releases_the_whole_hold() -> None:
    pending, w, rev = held(700, 1000)
    out = run(TransferRequest.void("v1", pending_id="h1", code="cancel"), w, rev, pending=pending,
              status=PendingStatus.PENDING)
    assert out.transfer.amount == 700
    assert out.transfer.kind is TransferKind.VOID_PENDING
    assert (out.debit_account.balance, out.debit_account.available) == (1000, 1000)
    assert out.credit_account.credits_pending == 0
    assert out.credit_account.balance == 0
    assert out.resolution is not None
    assert out.resolution.status is PendingStatus.VOIDED
    explicit = TransferRequest(id="v1", code="cancel", kind=TransferKind.VOID_PENDING, pending_id="h1", amount=700)
    assert run(explicit, w, rev, pending=pending, status=PendingStatus.PENDING).transfer.amount == 700
    with pytest.raises(ValidationError) as info:
        run(attrs.evolve(explicit, amount=600), w, rev, pending=pending, status=PendingStatus.PENDING)
    assert info.value.code == "VOID_AMOUNT_MISMATCH"


@pytest.mark.parametrize("status", [PendingStatus.POSTED, PendingStatus.VOIDED])
@pytest.mark.parametrize("kind", ["post", "void"])
def test_a_hold_resolves_at_most_once(status: PendingStatus, kind: str) -> None:
    pending, w, rev = held()
    request = (TransferRequest.post("x", pending_id="h1", code="c") if kind == "post"
               else TransferRequest.void("x", pending_id="h1", code="c"))
    with pytest.raises(InvalidTransitionError) as info:
        run(request, w, rev, pending=pending, status=status)
    assert info.value.code == f"PENDING_TRANSFER_ALREADY_{status.name}"


def test_resolving_needs_an_existing_hold() -> None:
    post = TransferRequest.post("p1", pending_id="h1", code="capture")
    with pytest.raises(NotFoundError) as info:
        involved_account_ids(post, None)
    assert info.value.code == "PENDING_TRANSFER_NOT_FOUND"
    plain_transfer = run(plain("h1", WORLD, wallet(0), 5), WORLD, wallet(0)).transfer
    with pytest.raises(InvalidTransitionError) as info2:
        involved_account_ids(post, plain_transfer)
    assert info2.value.code == "NOT_A_PENDING_TRANSFER"
    pending, _, _ = held()
    assert involved_account_ids(post, pending) == (2, 3)
    assert involved_account_ids(plain("t", WORLD, REVENUE, 1), None) == (1, 3)


def test_a_post_naming_other_accounts_or_rate_is_refused() -> None:
    pending, w, rev = held()
    other = TransferRequest(id="p1", code="c", kind=TransferKind.POST_PENDING, pending_id="h1",
                            credit_account_id=99)
    with pytest.raises(ValidationError) as info:
        run(other, w, rev, pending=pending, status=PendingStatus.PENDING)
    assert (info.value.code, info.value.field) == ("PENDING_ACCOUNT_MISMATCH", "credit_account_id")
    same = attrs.evolve(other, credit_account_id=rev.id, debit_account_id=w.id)
    assert run(same, w, rev, pending=pending, status=PendingStatus.PENDING).transfer.amount == 700
    with pytest.raises(ValidationError) as info:
        run(attrs.evolve(same, rate=USD_IRR), w, rev, pending=pending, status=PendingStatus.PENDING)
    assert info.value.code == "PENDING_RATE_MISMATCH"
    with pytest.raises(ValueError, match="must be given"):
        run(same, w, rev, pending=pending, status=None)


# -- replays -----------------------------------------------------------------------------------------------
def test_an_identical_replay_returns_the_stored_transfer() -> None:
    request = plain("t1", WORLD, wallet(0), 10, reference="invoice:1")
    stored = run(request, WORLD, wallet(0)).transfer
    assert check_replay(stored, request, None) is stored


@pytest.mark.parametrize(("change", "fields"), [
    ({"amount": 11}, {"amount"}),
    ({"credit_account_id": 3}, {"credit_account_id"}),
    ({"code": "refund", "memo": "x"}, {"code", "memo"}),
    ({"reference": None}, {"reference"}),
])
def test_a_different_body_is_a_conflict_listing_each_field(change: dict[str, Any], fields: set[str]) -> None:
    request = plain("t1", WORLD, wallet(0), 10, reference="invoice:1")
    stored = run(request, WORLD, wallet(0)).transfer
    with pytest.raises(ConflictError) as info:
        check_replay(stored, attrs.evolve(request, **change), None)
    assert info.value.code == "TRANSFER_EXISTS_WITH_DIFFERENT_BODY"
    assert set(info.value.details["fields"]) == fields
    assert info.value.details["transfer_id"] == "t1"
    for name in fields:
        assert info.value.details["fields"][name] == {"existing": getattr(stored, name),
                                                      "requested": change[name]}


def test_a_different_kind_or_rate_is_a_conflict() -> None:
    w = wallet(100)
    conv = account(6, AccountPurpose.CONVERSION)
    stored = run(plain("t1", w, conv, 10, rate=USD_IRR), w, conv).transfer
    as_hold = hold("t1", w, conv, 10, code="test", rate=USD_IRR)
    assert set(conflicting_fields(stored, as_hold, None)) == {"kind"}
    other_rate = plain("t1", w, conv, 10, rate=ExchangeRate.parse(Currency.USD, Currency.IRR, "600000"))
    assert conflicting_fields(stored, other_rate, None) == {
        "rate": {"existing": "USD/IRR=620000", "requested": "USD/IRR=600000"}}


def test_post_replays_compare_the_resolved_body() -> None:
    pending, w, rev = held(700)
    full = run(TransferRequest.post("p1", pending_id="h1", code="capture"), w, rev, pending=pending,
               status=PendingStatus.PENDING).transfer
    # Leaving a field None or spelling out what it resolved to is the same request.
    explicit = TransferRequest(id="p1", code="capture", kind=TransferKind.POST_PENDING, pending_id="h1",
                               amount=700, debit_account_id=w.id, credit_account_id=rev.id, reference="order:1")
    assert check_replay(full, explicit, pending) is full
    assert conflicting_fields(full, TransferRequest.post("p1", pending_id="h1", code="capture", amount=699),
                              pending) == {"amount": {"existing": 700, "requested": 699}}
    partial = run(TransferRequest.post("p2", pending_id="h1", code="capture", amount=5), w, rev, pending=pending,
                  status=PendingStatus.PENDING).transfer
    with pytest.raises(ConflictError):
        check_replay(partial, TransferRequest.post("p2", pending_id="h1", code="capture"), pending)
    other_hold = TransferRequest.post("p2", pending_id="h9", code="capture", amount=5)
    assert set(conflicting_fields(partial, other_hold, pending)) == {"pending_id", "debit_account_id",
                                                                     "credit_account_id", "reference"}


# -- linked batches and totals -------------------------------------------------------------------------------
def test_linked_batches_need_one_to_max_distinct_requests() -> None:
    one = plain("a", WORLD, REVENUE, 1)
    assert check_linked_batch([one]) == (one,)
    with pytest.raises(ValidationError):
        check_linked_batch([])
    with pytest.raises(ValidationError) as info:
        check_linked_batch([one, attrs.evolve(one, amount=2)])
    assert info.value.code == "DUPLICATE_TRANSFER_ID"
    with pytest.raises(ValidationError):
        check_linked_batch([attrs.evolve(one, id=f"t{i}") for i in range(MAX_LINKED + 1)])
    with pytest.raises(ValidationError):
        check_linked_batch(["not a request"])  # type: ignore[list-item]


def test_totals_sum_counters_per_currency() -> None:
    accounts = [account(1, AccountPurpose.WORLD, debits_posted=10, debits_pending=3),
                account(2, credits_posted=10, credits_pending=3),
                account(3, currency=Currency.IRR, credits_posted=4)]
    totals = totals_of(accounts)
    assert list(totals) == [Currency.IRR, Currency.USD]
    assert totals[Currency.USD].balanced
    assert not totals[Currency.IRR].balanced
    assert (totals[Currency.USD].debits_posted, totals[Currency.USD].credits_pending) == (10, 3)


# -- a property over the rules ----------------------------------------------------------------------------------
@given(balance=st.integers(0, 10**6), pending=st.integers(0, 10**6), spent=st.integers(0, 10**6),
       amount=st.integers(1, 2 * 10**6), kind=st.sampled_from([TransferKind.PLAIN, TransferKind.PENDING]))
def test_a_transfer_never_breaks_a_bound_and_always_balances(balance: int, pending: int, spent: int, amount: int,
                                                             kind: TransferKind) -> None:
    w = account(2, credits_posted=balance + pending + spent, debits_posted=spent, debits_pending=pending)
    assert w.available == balance
    request = TransferRequest(id="t", code="x", kind=kind, debit_account_id=w.id, credit_account_id=REVENUE.id,
                              amount=amount)
    if amount > balance:
        with pytest.raises(InsufficientFundsError) as info:
            run(request, w, REVENUE)
        assert info.value.details["available"] == balance
        return
    out = run(request, w, REVENUE)
    assert out.debit_account.within_bound
    before = totals_of([w, REVENUE])[Currency.USD]
    after = totals_of([out.debit_account, out.credit_account])[Currency.USD]
    assert after.debits_posted - before.debits_posted == after.credits_posted - before.credits_posted
    assert after.debits_pending - before.debits_pending == after.credits_pending - before.credits_pending
    moved = amount if kind is TransferKind.PLAIN else 0
    assert out.debit_change.delta == -moved
    assert out.credit_change.delta == moved
    assert out.debit_account.available == balance - amount
