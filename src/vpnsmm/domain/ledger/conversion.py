"""Moving value between currencies: two linked transfers through per-currency conversion accounts.

A transfer never crosses currencies. To convert, the source wallet pays the conversion account of its
currency, and the conversion account of the target currency pays the target wallet. Both legs record the
rate, and they must be executed as one linked (all-or-nothing) batch. The conversion accounts hold the
house's position in each currency.
"""

from __future__ import annotations

from attrs import frozen

from vpnsmm.domain.errors import CurrencyMismatchError, ValidationError
from vpnsmm.domain.ledger.accounts import AccountPurpose, LedgerAccount
from vpnsmm.domain.ledger.transfers import TRANSFER_ID_MAX, TransferRequest
from vpnsmm.domain.money import ExchangeRate, Money, Rounding

#: Suffixes appended to the conversion id to name its two legs.
OUT_SUFFIX = "/out"
IN_SUFFIX = "/in"


@frozen(kw_only=True)
class Conversion:
    """A planned conversion: the two legs to execute linked, and what they move."""

    out_leg: TransferRequest  # source wallet -> conversion[source currency]
    in_leg: TransferRequest  # conversion[target currency] -> target wallet
    source: Money
    target: Money
    rate: ExchangeRate

    @property
    def legs(self) -> tuple[TransferRequest, TransferRequest]:
        return (self.out_leg, self.in_leg)


def conversion_leg_ids(conversion_id: str) -> tuple[str, str]:
    return (conversion_id + OUT_SUFFIX, conversion_id + IN_SUFFIX)


def plan_conversion(conversion_id: str, *, source_wallet: LedgerAccount, source_conversion: LedgerAccount,
                    target_conversion: LedgerAccount, target_wallet: LedgerAccount, amount: int,
                    rate: ExchangeRate, rounding: Rounding = Rounding.DOWN, code: str = "conversion",
                    reference: str | None = None, memo: str = "") -> Conversion:
    """Build the two legs that convert ``amount`` minor units of the source currency at ``rate``.

    The target amount is ``rate.convert(amount)`` rounded as ``rounding`` says. DOWN is the default, so
    the customer never receives more than the rate gives. The leg ids are ``conversion_id + "/out"`` and
    ``+ "/in"``, so a retry with the same ``conversion_id`` replays both legs. Pure: nothing is executed.

    Raises CurrencyMismatchError if the accounts' currencies do not match the rate's source and target,
    and ValidationError if a "conversion" account has another purpose, if the id is too long, or if the
    amount converts to zero.
    """
    if len(conversion_id) + max(len(OUT_SUFFIX), len(IN_SUFFIX)) > TRANSFER_ID_MAX:
        raise ValidationError(f"conversion id must be at most {TRANSFER_ID_MAX - len(OUT_SUFFIX)} characters",
                              field="id")
    for name, account in (("source_conversion", source_conversion), ("target_conversion", target_conversion)):
        if account.purpose is not AccountPurpose.CONVERSION:
            raise ValidationError(f"{name} must be a conversion account, not {account.purpose.value}",
                                  field=name)
    for name, account, currency in (("source_wallet", source_wallet, rate.source),
                                    ("source_conversion", source_conversion, rate.source),
                                    ("target_conversion", target_conversion, rate.target),
                                    ("target_wallet", target_wallet, rate.target)):
        if account.currency is not currency:
            raise CurrencyMismatchError(
                f"{name} is in {account.currency.value} but the rate needs {currency.value}", field=name)
    source = Money(amount, rate.source)
    if not source.is_positive:
        raise ValidationError("amount to convert must be positive", field="amount")
    target = rate.convert(source, rounding)
    if not target.is_positive:
        raise ValidationError(f"{source} converts to nothing at {rate.format()}", field="amount",
                              code="AMOUNT_TOO_SMALL")
    out_id, in_id = conversion_leg_ids(conversion_id)
    out_leg = TransferRequest.plain(out_id, debit_account_id=source_wallet.id,
                                    credit_account_id=source_conversion.id, amount=source.amount, code=code,
                                    reference=reference, memo=memo, rate=rate)
    in_leg = TransferRequest.plain(in_id, debit_account_id=target_conversion.id,
                                   credit_account_id=target_wallet.id, amount=target.amount, code=code,
                                   reference=reference, memo=memo, rate=rate)
    return Conversion(out_leg=out_leg, in_leg=in_leg, source=source, target=target, rate=rate)
