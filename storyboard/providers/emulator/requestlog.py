"""The emulator's request log (``storyboard emulate --log FILE``): one JSON line per request received.

A line holds when, the method, the path, the status answered (null: the connection was dropped, as a
fault asked) and the body as received: JSON as it came, any other body by its size. Headers are never
logged: they carry the API key."""

from __future__ import annotations

import json
import time

MAX_LOGGED_BODY = 1 << 20  # bytes: a larger body is logged by its size


def log_line(method: str, path: str, status: int | None, raw: bytes) -> str:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": method, "path": path,
             "status": status}
    if raw:
        body = None
        if len(raw) <= MAX_LOGGED_BODY:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if body is None:
            entry["bytes"] = len(raw)
        else:
            entry["body"] = body
    return json.dumps(entry, ensure_ascii=False) + "\n"
