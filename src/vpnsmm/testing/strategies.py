"""Hypothesis strategies for vpnsmm's domain values (valid and deliberately invalid ones)."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

from vpnsmm.domain.identity import USERNAME_MAX
from vpnsmm.domain.ledger import TransferKind, TransferRequest
from vpnsmm.domain.money import MAX_AMOUNT, Currency, ExchangeRate, Money


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
    accounts = account_ids or st.integers(1, 50)
    keys = ids or st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
    pair = st.tuples(accounts, accounts).filter(lambda p: p[0] != p[1])
    return st.builds(lambda k, p, amount: TransferRequest(id=k, code="transfer", kind=TransferKind.PLAIN,
                                                          debit_account_id=p[0], credit_account_id=p[1],
                                                          amount=amount),
                     keys, pair, st.integers(1, 10**12))
