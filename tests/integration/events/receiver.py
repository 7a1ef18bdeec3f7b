"""A real webhook receiver for tests: a tiny ASGI app served on 127.0.0.1 that records every request and
answers with scripted status codes (then 200)."""

from __future__ import annotations

import json
from typing import Any

from attrs import define, field


@define
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@define
class Receiver:
    statuses: list[int] = field(factory=list)  # answered in turn; 200 once exhausted
    received: list[Received] = field(factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Received(path=scope["path"], headers=headers, body=body))
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"nope"})

    def events(self) -> list[str]:
        return [r.json["event"] for r in self.received]
