"""Compatibility dialects: each seed API document served as a thin router over the shared use cases.

A :class:`Dialect` names the document it implements, the prefix it mounts at by default (``/`` = the documented
paths as they stand) and builds its route handlers (paths relative to the prefix) together with the exception
handlers that render errors in that document's own wire format. Dialects translate wire formats only: every rule
lives in the use cases they call, so users, wallets, accounts and orders are the same whichever dialect touched them.

``VPNSMM_DIALECTS`` moves a dialect (``smm-rest=/``) or switches it off (``smm-spring=off``). Two mounts that would
answer the same method and path stop startup with a :class:`~vpnsmm.config.ConfigError` naming both routes, instead
of letting one silently shadow the other.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import field, frozen
from litestar import Router
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.types import ControllerRouterHandler

from vpnsmm.config import ConfigError

#: Modules that each expose ``DIALECT``; order is the mount order.
DIALECT_MODULES: tuple[str, ...] = (
    "vpnsmm.entrypoints.http.dialects.v2ray",
    "vpnsmm.entrypoints.http.dialects.ru_vpn",
    "vpnsmm.entrypoints.http.dialects.candypanel",
    "vpnsmm.entrypoints.http.dialects.smm_rest",
    "vpnsmm.entrypoints.http.dialects.smm_spring",
)

_SETTING = "VPNSMM_DIALECTS"
_PARAM = re.compile(r"\{[^}]*\}")


@frozen
class Dialect:
    """One seed document's API. ``build()`` returns its handlers; it runs once per app."""

    name: str
    document: str
    default_prefix: str
    build: Callable[[], Sequence[ControllerRouterHandler]]
    exception_handlers: Mapping[Any, Any] = field(factory=dict)
    description: str = ""
    #: An error body in this dialect's format, for errors raised before its own handlers run (the rate
    #: limiter's 429, routing's 404/405 on its paths): ``(path, status, message) -> JSON object``.
    #: None: those errors keep the native problem body.
    error_body: Callable[[str, int, str], Mapping[str, Any]] | None = None
    #: Router-level dependencies overriding the app's of the same name (e.g. a ``principal`` that also
    #: reads the document's ``?key=`` query parameter).
    dependencies: Mapping[str, Any] = field(factory=dict)

    def router(self, prefix: str) -> Router:
        return Router(path=prefix, route_handlers=list(self.build()),
                      exception_handlers=dict(self.exception_handlers), tags=[f"dialect: {self.name}"],
                      dependencies=dict(self.dependencies))


def registered_dialects() -> dict[str, Dialect]:
    """Every dialect this build ships, by name."""
    found: dict[str, Dialect] = {}
    for module_name in DIALECT_MODULES:
        dialect: Dialect = importlib.import_module(module_name).DIALECT
        found[dialect.name] = dialect
    return found


def _route_table(router: Router) -> Iterable[tuple[str, str, str]]:
    """(method, normalised path, display path) for each route; OPTIONS is Litestar's own and never collides."""
    for route in router.routes:
        display = route.path_format or "/"
        key = _PARAM.sub("{}", display).rstrip("/") or "/"
        if isinstance(route, WebSocketRoute):
            yield "WEBSOCKET", key, display
        elif isinstance(route, HTTPRoute):
            for method in sorted(route.methods - {"OPTIONS"}):
                yield method, key, display


def mount_dialects(configured: Mapping[str, str], *, native: Sequence[ControllerRouterHandler],
                   registry: Mapping[str, Dialect] | None = None) -> list[Router]:
    """The routers of every enabled dialect at its prefix, after checking nothing collides.

    ``configured`` maps dialect names to a prefix or ``"off"`` (:attr:`Settings.dialects`); unnamed dialects
    mount at their default prefix. Raises ConfigError for an unknown name or when two mounts (a dialect and the
    native API, or two dialects) serve the same method and path.
    """
    dialects = registered_dialects() if registry is None else dict(registry)
    unknown = sorted(set(configured) - set(dialects))
    if unknown:
        known = ", ".join(sorted(dialects)) or "none"
        raise ConfigError(_SETTING, f"unknown dialect {unknown[0]!r} (known: {known})")

    owners: dict[tuple[str, str], str] = {}

    def claim(label: str, router: Router) -> None:
        for method, key, display in _route_table(router):
            here = f"{label} {method} {display}"
            other = owners.setdefault((method, key), here)
            if other != here:
                raise ConfigError(_SETTING, f"{here} collides with {other}; give one of them another prefix "
                                            f"(e.g. {_SETTING}=<name>=/compat/<name>) or switch it off (<name>=off)")

    claim("native API", Router(path="/", route_handlers=list(native)))
    routers: list[Router] = []
    for name, dialect in dialects.items():
        prefix = configured.get(name, dialect.default_prefix)
        if prefix == "off":
            continue
        router = dialect.router(prefix)
        claim(f"dialect {name}", router)
        routers.append(router)
    return routers


def error_bodies(configured: Mapping[str, str], registry: Mapping[str, Dialect] | None = None,
                 ) -> list[tuple[re.Pattern[str], Callable[[str, int, str], Mapping[str, Any]]]]:
    """(full-path pattern, body renderer) for every route of each enabled dialect with an ``error_body``, so
    the rate limiter and the app's routing errors answer in that dialect's format on exactly its routes."""
    dialects = registered_dialects() if registry is None else dict(registry)
    found = []
    for name, dialect in dialects.items():
        prefix = configured.get(name, dialect.default_prefix)
        if prefix == "off" or dialect.error_body is None:
            continue
        for _, _, display in _route_table(dialect.router(prefix)):
            pattern = "^" + "[^/]+".join(re.escape(part) for part in _PARAM.split(display.rstrip("/"))) + "/?$"
            found.append((re.compile(pattern), dialect.error_body))
    return found


__all__ = ["DIALECT_MODULES", "Dialect", "error_bodies", "mount_dialects", "registered_dialects"]
