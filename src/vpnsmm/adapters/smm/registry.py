"""Build an SmmProvider per provider row, and encrypt provider API keys at rest.

* :class:`FernetSecretCipher` -- Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the
  installation's ``secret_key`` by HKDF-SHA256, so a database dump alone does not reveal provider keys.
* :class:`ProviderRegistry` -- ``perfect_panel`` rows get a :class:`PerfectPanelProvider` over the shared
  httpx client; ``simulated`` rows get a :class:`FakeSmmProvider` over an in-process
  :class:`SimulatedPanel` kept per provider id for the life of the process (demo and tests; no network).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vpnsmm.adapters.smm.fake_provider import FakeSmmProvider
from vpnsmm.adapters.smm.perfect_panel import PerfectPanelProvider
from vpnsmm.adapters.smm.simulated_panel import SimulatedPanel
from vpnsmm.application.ports.smm_provider import ProviderError, ProviderOrderStatus, SmmProvider
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.smm_orders import Provider, ProviderKind

#: Starting balance of a simulated provider account (5 decimals, provider currency).
SIMULATED_BALANCE = "1000000.00000"


class FernetSecretCipher:
    def __init__(self, secret_key: str, *, info: bytes = b"vpnsmm smm provider api keys") -> None:
        if not secret_key:
            raise ValidationError("a secret key is required to encrypt provider keys", field="secret_key")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"vpnsmm-fernet-v1", info=info).derive(
            secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise ValidationError("the provider key cannot be decrypted with this installation's secret key",
                                  field="api_key", code="PROVIDER_KEY_UNREADABLE") from None


class _TickingProvider(FakeSmmProvider):
    """A simulated provider whose orders move one step (``panel.tick()``) before each status poll."""

    async def status(self, ids: Sequence[str]) -> dict[str, ProviderOrderStatus | ProviderError]:
        self.panel.tick()
        return await super().status(ids)


_KEY_CACHE_SIZE = 1024


class ProviderRegistry:
    """SmmProvider ports for provider rows. Cheap to call per request; simulated panels are remembered.

    ``auto_tick`` makes simulated orders progress by one step per status poll (the demo); tests leave it
    off and move orders explicitly through :meth:`simulated_panel`.
    """

    def __init__(self, http: httpx.AsyncClient, cipher: FernetSecretCipher, *, auto_tick: bool = False) -> None:
        self._http, self._cipher, self._auto_tick = http, cipher, auto_tick
        self._simulated: dict[int, SimulatedPanel] = {}
        # Decrypted provider keys by ciphertext: every submit and poll builds a port, and Fernet (HMAC + AES)
        # per call was measurable on the /api/v2 add path. A changed key is a new ciphertext, so nothing goes stale.
        self._keys: dict[str, str] = {}

    def _key(self, provider: Provider) -> str:
        token = provider.api_key_encrypted
        key = self._keys.get(token)
        if key is None:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            key = self._keys[token] = self._cipher.decrypt(token)
        return key

    def simulated_panel(self, provider: Provider) -> SimulatedPanel:
        """The in-process panel behind a ``simulated`` provider (created on first use)."""
        panel = self._simulated.get(provider.id)
        if panel is None:
            panel = self._simulated[provider.id] = SimulatedPanel(
                api_key=self._key(provider), balance=SIMULATED_BALANCE,
                currency=provider.currency.value, seed=provider.id)
        return panel

    def for_provider(self, provider: Provider) -> SmmProvider:
        key = self._key(provider)
        if provider.kind is ProviderKind.SIMULATED:
            cls = _TickingProvider if self._auto_tick else FakeSmmProvider
            return cls(self.simulated_panel(provider), api_key=key)
        return PerfectPanelProvider(self._http, provider.api_url, key, currency_hint=provider.currency)
