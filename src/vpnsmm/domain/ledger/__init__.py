"""The double-entry ledger, modelled on TigerBeetle (accounts, transfers, two-phase holds, entries).

Pure: the rules in :mod:`.rules` decide, and the implementations of the ``Ledger`` port store the results.
"""

from vpnsmm.domain.ledger.accounts import MAX_COUNTER, AccountFlags, AccountPurpose, LedgerAccount, Side
from vpnsmm.domain.ledger.conversion import Conversion, conversion_leg_ids, plan_conversion
from vpnsmm.domain.ledger.rules import (
    MAX_LINKED,
    LedgerTotals,
    PendingResolution,
    TransferBody,
    TransferOutcome,
    account_not_found,
    check_linked_batch,
    check_replay,
    conflicting_fields,
    involved_account_ids,
    partial_replay_error,
    plan_transfer,
    require_pending,
    resolve_body,
    totals_of,
)
from vpnsmm.domain.ledger.transfers import (
    AccountChange,
    Entry,
    PendingStatus,
    Transfer,
    TransferKind,
    TransferRequest,
)

__all__ = [
    "MAX_COUNTER",
    "MAX_LINKED",
    "AccountChange",
    "AccountFlags",
    "AccountPurpose",
    "Conversion",
    "Entry",
    "LedgerAccount",
    "LedgerTotals",
    "PendingResolution",
    "PendingStatus",
    "Side",
    "Transfer",
    "TransferBody",
    "TransferKind",
    "TransferOutcome",
    "TransferRequest",
    "account_not_found",
    "check_linked_batch",
    "check_replay",
    "conflicting_fields",
    "conversion_leg_ids",
    "involved_account_ids",
    "partial_replay_error",
    "plan_conversion",
    "plan_transfer",
    "require_pending",
    "resolve_body",
    "totals_of",
]
