"""An app served by uvicorn on a thread, on a free loopback port, and plain HTTP calls to it (the
way a browser or QGIS calls: urllib, no test client)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any


class Live:
    def __init__(self, app_for_port, host: str = "127.0.0.1") -> None:
        import uvicorn

        from tessera.explore.server import bind, url_of

        sock = bind(host, 0)
        self.base = url_of(sock, host)
        config = uvicorn.Config(app_for_port(sock.getsockname()[1]), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def call(
        self, path: str, body: Any = None, headers: dict | None = None, raw: bytes | None = None
    ) -> tuple[int, bytes, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(
            self.base + path, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers


def json_of(body: bytes) -> Any:
    return json.loads(body)


def png_rgba(body: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.array(Image.open(io.BytesIO(body)).convert("RGBA"))
