"""plan_conversion: two legs through per-currency conversion accounts, with the rate recorded on both."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnsmm.domain.errors import CurrencyMismatchError, ValidationError
from vpnsmm.domain.ledger import (
    AccountPurpose,
    Conversion,
    LedgerAccount,
    TransferKind,
    conversion_leg_ids,
    plan_conversion,
)
from vpnsmm.domain.money import Currency, ExchangeRate, Money, Rounding

USD_WALLET = LedgerAccount.open(1, 7, Currency.USD, AccountPurpose.WALLET)
USD_CONV = LedgerAccount.open(2, None, Currency.USD, AccountPurpose.CONVERSION)
IRR_CONV = LedgerAccount.open(3, None, Currency.IRR, AccountPurpose.CONVERSION)
IRR_WALLET = LedgerAccount.open(4, 7, Currency.IRR, AccountPurpose.WALLET)
USD_IRR = ExchangeRate.parse(Currency.USD, Currency.IRR, "620000")
IRR_USD = ExchangeRate.parse(Currency.IRR, Currency.USD, "0.0000016")


def usd_to_irr(amount: int = 1250, *, conversion_id: str = "cv-1", **overrides: Any) -> Conversion:
    args: dict[str, Any] = {"source_wallet": USD_WALLET, "source_conversion": USD_CONV,
                            "target_conversion": IRR_CONV, "target_wallet": IRR_WALLET, "amount": amount,
                            "rate": USD_IRR, **overrides}
    return plan_conversion(conversion_id, **args)


def test_legs_go_wallet_to_conversion_and_conversion_to_wallet_with_the_rate() -> None:
    plan = usd_to_irr(1250, reference="order:5", memo="swap")
    out_leg, in_leg = plan.legs
    assert (out_leg.id, in_leg.id) == conversion_leg_ids("cv-1") == ("cv-1/out", "cv-1/in")
    assert (out_leg.debit_account_id, out_leg.credit_account_id, out_leg.amount) == (1, 2, 1250)
    assert (in_leg.debit_account_id, in_leg.credit_account_id, in_leg.amount) == (3, 4, 7_750_000)
    for leg in plan.legs:
        assert leg.kind is TransferKind.PLAIN
        assert leg.rate == USD_IRR
        assert (leg.code, leg.reference, leg.memo) == ("conversion", "order:5", "swap")
    assert plan.source == Money(1250, Currency.USD)
    assert plan.target == Money(7_750_000, Currency.IRR)


def test_rounding_defaults_to_down_so_the_customer_never_gets_more() -> None:
    args: dict[str, Any] = {"source_wallet": IRR_WALLET, "source_conversion": IRR_CONV, "target_conversion": USD_CONV,
            "target_wallet": USD_WALLET, "amount": 620_000, "rate": IRR_USD}
    assert plan_conversion("c", **args).target.amount == 99  # 0.992 USD
    assert plan_conversion("c", **args, rounding=Rounding.HALF_UP).target.amount == 99
    assert plan_conversion("c", **args, rounding=Rounding.UP).target.amount == 100


@given(st.integers(1, 10**9))
def test_target_is_the_rate_applied_downward(amount: int) -> None:
    plan = usd_to_irr(amount)
    assert plan.target == USD_IRR.convert(Money(amount, Currency.USD), Rounding.DOWN)
    assert plan.in_leg.amount == plan.target.amount


@pytest.mark.parametrize("swap", ["source_wallet", "source_conversion", "target_conversion", "target_wallet"])
def test_accounts_must_match_the_rate_currencies(swap: str) -> None:
    wrong = LedgerAccount.open(9, 7 if "wallet" in swap else None, Currency.RUB,
                               AccountPurpose.WALLET if "wallet" in swap else AccountPurpose.CONVERSION)
    with pytest.raises(CurrencyMismatchError) as info:
        overrides: dict[str, Any] = {swap: wrong}
        usd_to_irr(**overrides)
    assert info.value.field == swap


def test_the_bridge_accounts_must_be_conversion_accounts() -> None:
    revenue = LedgerAccount.open(9, None, Currency.IRR, AccountPurpose.REVENUE)
    with pytest.raises(ValidationError) as info:
        usd_to_irr(target_conversion=revenue)
    assert info.value.field == "target_conversion"


def test_too_small_or_non_positive_amounts_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        plan_conversion("c", source_wallet=IRR_WALLET, source_conversion=IRR_CONV, target_conversion=USD_CONV,
                        target_wallet=USD_WALLET, amount=100, rate=IRR_USD)  # 0.00016 USD -> 0 cents
    assert info.value.code == "AMOUNT_TOO_SMALL"
    for bad in (0, -5):
        with pytest.raises(ValidationError):
            usd_to_irr(bad)


def test_conversion_ids_leave_room_for_the_leg_suffix() -> None:
    assert usd_to_irr(conversion_id="c" * 124).out_leg.id == "c" * 124 + "/out"
    with pytest.raises(ValidationError):
        usd_to_irr(conversion_id="c" * 125)
