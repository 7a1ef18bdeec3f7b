"""Exact money: integer minor units plus a currency that knows its exponent.

There is no float and no ``Decimal`` here. Decimal strings are parsed and formatted with integer
arithmetic only (:meth:`Money.parse`, :meth:`Money.format`), and scaling by a ratio names its rounding.
"""

from __future__ import annotations

import math
import re
from enum import Enum, StrEnum
from typing import Any

from attrs import field, frozen

from vpnsmm.domain.errors import CurrencyMismatchError, ValidationError

#: The largest amount any single Money may hold: fits a signed 64-bit column with room for sums.
MAX_AMOUNT = 10**17


class Currency(StrEnum):
    """Supported currencies. ``exponent`` is the number of minor-unit digits."""

    IRR = "IRR"  # Iranian rial (Zarinpal's default unit)
    IRT = "IRT"  # Iranian toman = 10 rials, the unit people quote prices in
    RUB = "RUB"  # kopecks
    USD = "USD"  # cents
    EUR = "EUR"
    USDT = "USDT"  # Tether, kept to 6 decimals (TRC-20/ERC-20 precision)

    @property
    def exponent(self) -> int:
        return _EXPONENT[self]

    @classmethod
    def parse(cls, raw: object, *, field_name: str = "currency") -> Currency:
        """The currency named by ``raw`` (case-insensitive). Raises ValidationError otherwise."""
        if isinstance(raw, Currency):
            return raw
        if isinstance(raw, str):
            try:
                return cls(raw.strip().upper())
            except ValueError:
                pass
        known = ", ".join(c.value for c in cls)
        raise ValidationError(f"unknown currency {raw!r}; expected one of {known}", field=field_name,
                              code="INVALID_CURRENCY")


_EXPONENT: dict[Currency, int] = {
    Currency.IRR: 0,
    Currency.IRT: 0,
    Currency.RUB: 2,
    Currency.USD: 2,
    Currency.EUR: 2,
    Currency.USDT: 6,
}


class Rounding(Enum):
    """How :meth:`Money.scale` resolves a fraction of a minor unit."""

    DOWN = "down"  # toward zero: what a refund uses, so we never refund more than was charged
    UP = "up"  # away from zero: what a price uses, so we never undercharge
    HALF_UP = "half_up"  # half away from zero: display and conversions


def _strict_int(_: object, attribute: Any, value: int) -> None:
    if type(value) is not int:  # bool is an int subclass; reject it too
        raise ValidationError(f"{attribute.name} must be an integer number of minor units, got {value!r}",
                              field=attribute.name)
    if abs(value) > MAX_AMOUNT:
        raise ValidationError(f"amount {value} is out of range (|amount| <= {MAX_AMOUNT})",
                              field=attribute.name, code="AMOUNT_OUT_OF_RANGE")


def _to_currency(value: object) -> Currency:
    return Currency.parse(value)


def _divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder and (rounding is Rounding.UP or (rounding is Rounding.HALF_UP and 2 * remainder >= denominator)):
        quotient += 1
    return quotient if numerator >= 0 else -quotient


_DECIMAL = re.compile(r"^\s*([+-]?)(\d{1,20})(?:\.(\d{0,18}))?\s*$")


@frozen
class Money:
    """An exact amount in minor units of one currency.

    Arithmetic and comparison between different currencies raise CurrencyMismatchError; amounts
    beyond +/- MAX_AMOUNT raise ValidationError. Instances are immutable and hashable.
    """

    amount: int = field(validator=_strict_int)
    currency: Currency = field(converter=_to_currency)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: Currency) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: Currency | str, *, field_name: str = "amount") -> Money:
        """Parse a decimal string in major units (``"12.50"`` USD -> 1250 cents) exactly.

        Raises ValidationError for anything that is not a plain decimal, or that has more
        fractional digits than the currency allows (``"0.001"`` USD), instead of rounding silently.
        """
        cur = Currency.parse(currency)
        match = _DECIMAL.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(f"{text!r} is not a decimal amount", field=field_name, code="INVALID_AMOUNT")
        sign, whole, frac = match.group(1), match.group(2), (match.group(3) or "")
        frac = frac.rstrip("0")
        if len(frac) > cur.exponent:
            raise ValidationError(
                f"{text.strip()} has more than {cur.exponent} decimal places for {cur.value}",
                field=field_name, code="INVALID_AMOUNT")
        minor = int(whole) * 10**cur.exponent + (int(frac.ljust(cur.exponent, "0")) if cur.exponent else 0)
        if abs(minor) > MAX_AMOUNT:
            raise ValidationError(f"amount {text.strip()} is out of range", field=field_name,
                                  code="AMOUNT_OUT_OF_RANGE")
        return cls(-minor if sign == "-" else minor, cur)

    # -- presentation ---------------------------------------------------------------------------
    def format(self) -> str:
        """Major units as a plain decimal string with every minor digit: ``Money(1250, USD) -> "12.50"``."""
        exp = self.currency.exponent
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp)
        return f"{sign}{whole}" if exp == 0 else f"{sign}{whole}.{frac:0{exp}d}"

    def __str__(self) -> str:
        return f"{self.format()} {self.currency.value}"

    # -- arithmetic -----------------------------------------------------------------------------
    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency is not self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency.value} with {other.currency.value}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("Money can only be multiplied by an int; use scale() for ratios")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def scale(self, numerator: int, denominator: int, rounding: Rounding) -> Money:
        """``self * numerator / denominator``, rounded to a whole minor unit as ``rounding`` says."""
        return Money(_divide(self.amount * numerator, denominator, rounding), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0


@frozen
class ExchangeRate:
    """``1 source = numerator/denominator target`` in *major* units, held as an exact ratio.

    Build it from a decimal string with :meth:`parse` (``ExchangeRate.parse(USD, IRR, "620000")``).
    Converting records nothing by itself; the ledger stores the rate used with the transfer.
    """

    source: Currency
    target: Currency
    numerator: int
    denominator: int

    def __attrs_post_init__(self) -> None:
        if type(self.numerator) is not int or type(self.denominator) is not int \
                or self.numerator <= 0 or self.denominator <= 0:
            raise ValidationError("an exchange rate must be positive", field="rate")
        if self.source is self.target:
            raise ValidationError("an exchange rate needs two different currencies", field="rate")
        # Keep the ratio in lowest terms so equal rates compare (and replay) equal: 3/2 == 15/10.
        common = math.gcd(self.numerator, self.denominator)
        if common > 1:
            object.__setattr__(self, "numerator", self.numerator // common)
            object.__setattr__(self, "denominator", self.denominator // common)

    @classmethod
    def parse(cls, source: Currency, target: Currency, rate: str) -> ExchangeRate:
        match = _DECIMAL.match(rate)
        if match is None or match.group(1) == "-":
            raise ValidationError(f"{rate!r} is not a positive decimal rate", field="rate")
        frac = (match.group(3) or "").rstrip("0")
        return cls(source, target, int(match.group(2) + frac), 10 ** len(frac))

    def convert(self, money: Money, rounding: Rounding = Rounding.HALF_UP) -> Money:
        """``money`` (in ``source``) expressed in ``target`` minor units, rounded as told."""
        if money.currency is not self.source:
            raise CurrencyMismatchError(f"rate converts {self.source.value}, not {money.currency.value}")
        shift = self.target.exponent - self.source.exponent
        num = self.numerator * (10**shift if shift > 0 else 1)
        den = self.denominator * (10**-shift if shift < 0 else 1)
        return Money(_divide(money.amount * num, den, rounding), self.target)

    def format(self, max_digits: int = 18) -> str:
        """The rate as a decimal string; exact when it terminates, else cut after ``max_digits`` (``"0.333…"``)."""
        whole, rem = divmod(self.numerator, self.denominator)
        digits: list[str] = []
        while rem and len(digits) < max_digits:
            rem *= 10
            digit, rem = divmod(rem, self.denominator)
            digits.append(str(digit))
        text = f"{whole}.{''.join(digits)}" if digits else str(whole)
        return text + "…" if rem else text
