"""The ``smm-rest`` dialect: /work/shared/seeds/smm-rest-api.md (an SMM panel's REST API for resellers).

Mounted under ``/compat/smm-rest`` by default (its ``/api/v1/orders`` and ``/api/v1/balance`` collide with
``smm-spring``); ``VPNSMM_DIALECTS=smm-rest=/,smm-spring=off`` serves it at its own paths. See
docs/dialects/smm-rest.md for the endpoint table and every choice made where the document is vague.
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from vpnsmm.entrypoints.http.dialects import Dialect
from vpnsmm.entrypoints.http.dialects.smm_rest.errors import EXCEPTION_HANDLERS, early_error_body


def _build() -> Sequence[ControllerRouterHandler]:
    from vpnsmm.entrypoints.http.dialects.smm_rest.routes import SmmRestController

    return [SmmRestController]


DIALECT = Dialect(
    name="smm-rest", document="smm-rest-api.md", default_prefix="/compat/smm-rest", build=_build,
    exception_handlers=EXCEPTION_HANDLERS, error_body=early_error_body,
    description="SMM panel REST API for resellers: X-API-Key, {success, data} envelopes.",
)
