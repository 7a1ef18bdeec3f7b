"""Persistence port of the CandyPanel model (application/candypanel.py): settings, client names, card orders,
API tokens and the bot's outbox. Reached as ``uow.candypanel`` inside a unit of work, so it commits with the
rest of the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen

from vpnsmm.application.ports.persistence import UnitOfWork


@frozen
class ClientName:
    """A CandyPanel client: the name it goes by, the VPN account behind it and its interface number."""

    name: str
    account_id: int
    wg: int
    created_at: datetime
    note: str = ""


@frozen
class CardOrder:
    """A bot user's card-to-card purchase: the order id they chose, and the invoice and card payment behind it
    (None while the order id is claimed but the payment is not made yet)."""

    order_id: str
    user_id: int
    telegram_id: int
    invoice_id: int | None
    payment_id: int | None
    purchase_type: str  # "gb" | "month"
    quantity: int
    amount: int  # toman
    card_number_sent: str
    requested_at: datetime
    admin_note: str | None = None


@frozen
class ApiTokenRecord:
    name: str
    token_hash: str  # sha256 hex of the token
    user_id: int
    created_at: datetime


@frozen
class OutboxMessage:
    kind: str  # "broadcast" | "support"
    sender_telegram_id: int
    recipients: Sequence[int]
    message: str
    created_at: datetime
    id: int = 0


class CandyPanelRepository(Protocol):
    # settings
    async def settings(self) -> Mapping[str, str]: ...

    async def put_setting(self, key: str, value: str, *, now: datetime) -> None:
        """Insert or replace."""
        ...

    async def claim_setting(self, key: str, value: str, *, now: datetime) -> bool:
        """Insert only if the key is absent. True for the one caller whose insert took effect."""
        ...

    # client names
    async def add_client(self, client: ClientName) -> None:
        """Raises ConflictError (code CLIENT_NAME_TAKEN) for a taken name or an account that already has one."""
        ...

    async def client(self, name: str) -> ClientName | None: ...

    async def client_of_account(self, account_id: int) -> ClientName | None: ...

    async def clients(self) -> Sequence[ClientName]: ...

    async def update_client(self, client: ClientName) -> None: ...

    async def remove_client(self, name: str) -> bool: ...

    # card orders
    async def add_order(self, order: CardOrder) -> None:
        """Raises ConflictError (code ORDER_ID_TAKEN) for an order id in use."""
        ...

    async def order(self, order_id: str) -> CardOrder | None: ...

    async def orders(self) -> Sequence[CardOrder]:
        """Newest first."""
        ...

    async def attach_payment(self, order_id: str, invoice_id: int, payment_id: int) -> None: ...

    async def set_admin_note(self, order_id: str, note: str | None) -> None: ...

    # API tokens
    async def put_token(self, token: ApiTokenRecord) -> None:
        """Insert or replace by name. Raises ConflictError (code API_TOKEN_TAKEN) if another name has the token."""
        ...

    async def token_by_hash(self, token_hash: str) -> ApiTokenRecord | None: ...

    async def tokens(self) -> Sequence[ApiTokenRecord]: ...

    async def remove_token(self, name: str) -> bool: ...

    # outbox
    async def add_message(self, message: OutboxMessage) -> OutboxMessage: ...

    async def messages(self, *, limit: int = 100) -> Sequence[OutboxMessage]:
        """Newest first."""
        ...


class CandyPanelUnitOfWork(UnitOfWork, Protocol):
    @property
    def candypanel(self) -> CandyPanelRepository: ...


class CandyPanelUnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> CandyPanelUnitOfWork: ...

    async def ping(self) -> None: ...
