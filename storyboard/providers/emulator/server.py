"""The emulator's HTTP side: WaveSpeed's protocol on loopback.

Bearer auth (401 without it); both upload flows; submit for every catalog
model, checked against the model's own limits (400 with a message, "Model
not found." for an unknown path); results that go created → processing →
completed after a set time; outputs from ``clips``. It counts submits per
request body, so tests can prove nothing was paid for twice, and answers
with the faults in force (``faults``). ``GET /_emulator/stats`` tells what
happened; ``POST /_emulator/faults`` adds rules at run time.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ...catalog import load_catalog
from ...format.media import inspect_file
from ...plan.types import canonical_json
from . import fal
from .clips import ClipMaker
from .faults import Fault, FaultRules
from .requestlog import log_line

RETENTION = 7 * 24 * 3600.0  # seconds a finished task's outputs are kept, as WaveSpeed keeps them


@dataclass
class Task:
    id: str
    model: str
    body: dict
    created: float
    seconds: float
    fail: str = ""
    clip: bytes | None = None
    variant: int = 0  # how many times this body was submitted before: takes get different clips
    shorter: float = 0.0  # seconds the clip falls short of the request (the "short" fault)
    cancelled: bool = False  # fal: cancelled while queued


@dataclass
class State:
    api_key: str | None
    task_seconds: float
    retention: float = RETENTION
    faults: FaultRules = field(default_factory=FaultRules)
    spread: float = 0.0  # each task takes task_seconds × uniform(1 − spread, 1 + spread), as real tasks vary
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    tasks: dict[str, Task] = field(default_factory=dict)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)
    submits: dict[str, int] = field(default_factory=dict)
    log: list[dict] = field(default_factory=list)  # every accepted submit: protocol, model or endpoint, body
    requests: dict[str, int] = field(default_factory=dict)
    clips: ClipMaker = field(default_factory=ClipMaker)
    lock: threading.Lock = field(default_factory=threading.Lock)
    log_file: Any = None  # a text file: every request received, one JSON line each (``--log FILE``)

    def count(self, what: str) -> None:
        with self.lock:
            self.requests[what] = self.requests.get(what, 0) + 1


def _stats(s: State) -> dict:
    with s.lock:
        return {"submits": dict(s.submits), "total_submits": sum(s.submits.values()),
                "tasks": len(s.tasks), "requests": dict(s.requests), "log": list(s.log)}


def body_digest(body: dict) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def check_inputs(model: str, body: Any) -> str | None:
    """The message the API would give for bad inputs, or None."""
    spec = load_catalog().get(model)
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for name, p in spec.params.items():
        value = body.get(name)
        if p.required and value in (None, "", []):
            return f"{name} is required"
        if value is None:
            continue
        if p.choices and value not in p.choices:
            return f"{name} must be one of {', '.join(p.choices)}"
        if name == "duration" and (not isinstance(value, int) or not p.min <= value <= p.max):
            return f"duration must be an integer between {p.min} and {p.max}"
        if name == "images":
            limit = p.max_with_video if body.get("video") and p.max_with_video else p.max
            if limit is not None and len(value) > limit:
                return f"images: at most {limit} reference images"
    unknown = sorted(set(body) - set(spec.params))
    if unknown:
        return f"unknown parameter: {unknown[0]}"
    if body.get("video") and body.get("sound") and spec.params.get("sound") and spec.params["sound"].not_with:
        return "sound is not available with a reference video"
    return None


class Emulator:
    """The server; ``start()`` runs it in a thread (tests), ``serve()`` in the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, task_seconds: float = 2.0,
                 api_key: str | None = None, faults: list[Fault] | None = None, retention: float = RETENTION,
                 spread: float = 0.0, log: Path | None = None):
        self.state = State(api_key, task_seconds, retention, FaultRules(list(faults or [])), spread=spread)
        if log is not None:
            self.state.log_file = open(log, "a", encoding="utf-8")
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        handler.base = self.url
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Emulator":
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def serve(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.state.log_file is not None:
            self.state.log_file.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # for tests
    def add_fault(self, fault: Fault) -> None:
        self.state.faults.add(fault)

    @property
    def submits(self) -> dict[str, int]:
        return dict(self.state.submits)

    def stats(self) -> dict:
        return _stats(self.state)


class _Handler(BaseHTTPRequestHandler):
    state: State
    base: str
    task_type = Task  # for the fal side (emulator/fal.py), which cannot import this module back
    protocol_version = "HTTP/1.1"
    # Headers and body go in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK hold every answer ~40 ms, which no real API does.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet: tests and benchmarks read stdout
        pass

    def parse_request(self) -> bool:
        self._raw = b""  # a kept-alive connection's handler serves many requests: no body is carried over
        return super().parse_request()

    def log_request(self, code="-", size="-"):  # called with every answer's status: the --log file's line
        self._log(int(code) if str(code).isdigit() else None)

    def _log(self, status: int | None) -> None:
        if self.state.log_file is not None:
            line = log_line(self.command, self.path, status, getattr(self, "_raw", b""))
            with self.state.lock:
                self.state.log_file.write(line)
                self.state.log_file.flush()

    # -- plumbing --

    def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None, ctype="application/json",
              headers: dict | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._send(status, {"code": status, "message": message}, headers=headers)

    def _drop(self) -> None:
        self._log(None)
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""
        return self._raw

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not key or (self.state.api_key is not None and key != self.state.api_key):
            self._error(401, "Unauthorized: invalid or missing API key")
            return False
        return True

    def _fault_response(self, fault: Fault | None) -> bool:
        """Answer with the fault if it is an HTTP error or a drop; True if answered."""
        if fault is None:
            return False
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind.isdigit():
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            self._error(int(fault.kind), "Too many requests" if fault.kind == "429" else "Internal server error", headers)
            return True
        return False

    def _expired(self, task: Task) -> bool:
        """Past the retention after it finished, a task and its outputs are gone."""
        return time.monotonic() > task.created + task.seconds + self.state.retention

    def _envelope(self, task: Task) -> dict:
        elapsed = time.monotonic() - task.created
        if elapsed < min(0.1 * task.seconds, 0.5):
            status = "created"
        elif elapsed < task.seconds:
            status = "processing"
        else:
            status = "failed" if task.fail else "completed"
        outputs = [f"{self.base}/_outputs/{task.id}.mp4"] if status == "completed" else []
        return {"code": 200, "message": "success", "data": {
            "id": task.id, "model": task.model, "outputs": outputs, "status": status,
            "urls": {"get": f"{self.base}/api/v3/predictions/{task.id}/result"},
            "has_nsfw_contents": [False] * len(outputs), "created_at": "2026-01-01T00:00:00.000Z",
            "error": task.fail if status == "failed" else "", "timings": {"inference": int(task.seconds * 1000)},
        }}

    # -- routes --

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_emulator/stats":
            return self._send(200, _stats(self.state))
        if m := re.fullmatch(r"/_media/([0-9a-f]+)/[^/]*", path):
            item = self.state.media.get(m.group(1))
            return self._send(200, raw=item[1], ctype=item[0]) if item else self._error(404, "not found")
        if m := re.fullmatch(r"/_outputs/([0-9a-f]+)\.mp4", path):
            return self._output(m.group(1))
        if fal.handles(path):
            return fal.get(self, path)
        if not self._authorized():
            return
        if m := re.fullmatch(r"/api/v3/predictions/([0-9a-f]+)/result", path):
            self.state.count("poll")
            task = self.state.tasks.get(m.group(1))
            if task is None or self._expired(task):
                return self._error(404, "Prediction not found.")
            if self._fault_response(self.state.faults.take("poll", str(task.body.get("prompt", "")))):
                return
            return self._send(200, self._envelope(task))
        if path == "/api/v3/balance":
            return self._send(200, {"code": 200, "message": "success", "data": {"balance": 100.0}})
        self._error(404, "Not found.")

    def do_PUT(self):
        if fal.handles(self.path.split("?", 1)[0]):
            return fal.put(self, self.path.split("?", 1)[0])
        m = re.fullmatch(r"/_uploads/([0-9a-f]+)", self.path)
        ticket = self.state.tickets.get(m.group(1)) if m else None
        if ticket is None:
            return self._error(404, "no such upload ticket")
        data = self._body()
        ctype = self.headers.get("Content-Type", "application/octet-stream")
        self.state.media[m.group(1)] = (ctype, data)
        self._send(200, {"code": 200, "message": "success"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path == "/_emulator/faults":
            rules = json.loads(self._body() or b"[]")
            return self._send(200, {"faults": self.state.faults.add(*[Fault(**r) for r in rules])})
        if fal.handles(path):
            return fal.post(self, path)
        if not self._authorized():
            self._body()
            return
        if path == "/api/v3/media/uploads":
            return self._ticket()
        if path == "/api/v3/media/upload/binary":
            return self._multipart()
        if path.startswith("/api/v3/"):
            return self._submit(path.removeprefix("/api/v3/"))
        self._error(404, "Not found.")

    def _ticket(self):
        self.state.count("upload")
        info = json.loads(self._body() or b"{}")
        if self._fault_response(self.state.faults.take("upload")):
            return
        ident = uuid.uuid4().hex
        self.state.tickets[ident] = info.get("filename", "file")
        name = re.sub(r"[^A-Za-z0-9._-]", "_", info.get("filename", "file"))
        self._send(200, {"code": 200, "message": "success", "data": {
            "upload": {"method": "PUT", "url": f"{self.base}/_uploads/{ident}",
                       "headers": {"Content-Type": info.get("content_type", "application/octet-stream")}},
            "download_url": f"{self.base}/_media/{ident}/{name}"}})

    def _multipart(self):
        self.state.count("upload")
        body = self._body()
        ctype = self.headers.get("Content-Type", "")
        boundary = ctype.split("boundary=", 1)[-1].encode()
        for part in body.split(b"--" + boundary):
            head, _, content = part.partition(b"\r\n\r\n")
            if b'name="file"' in head:
                ident = uuid.uuid4().hex
                self.state.media[ident] = ("application/octet-stream", content.rsplit(b"\r\n", 1)[0])
                return self._send(200, {"code": 200, "message": "success",
                                        "data": {"download_url": f"{self.base}/_media/{ident}/file"}})
        self._error(400, "multipart field `file` is missing")

    def _submit(self, model: str):
        raw = self._body()
        spec = load_catalog().get(model)
        if spec is None or spec.kind != "video":
            return self._error(400, "Model not found.")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._error(400, "request body is not JSON")
        problem = check_inputs(model, body)
        if problem:
            return self._error(400, problem)
        fault = self.state.faults.take("submit", str(body.get("prompt", "")))
        if fault and fault.kind.isdigit():
            return self._fault_response(fault)
        task = Task(uuid.uuid4().hex, model, body, time.monotonic(), self._task_seconds())
        if fault and fault.kind == "fail":
            task.fail = "The content may violate our policy (emulated failure)."
        if fault and fault.kind == "slow":
            task.seconds += fault.seconds
        if fault and fault.kind == "short":
            task.shorter = fault.seconds
        with self.state.lock:
            self.state.tasks[task.id] = task
            digest = body_digest({"model": model, **body})
            task.variant = self.state.submits.get(digest, 0)
            self.state.submits[digest] = task.variant + 1
            self.state.log.append({"protocol": "wavespeed", "endpoint": model, "body": body, "request_id": task.id})
        if not task.fail:  # "render" while the task processes, as the real service does
            threading.Thread(target=self._clip, args=(task,), daemon=True).start()
        if fault and fault.kind == "drop":  # the task exists, the answer is lost
            return self._drop()
        if fault and fault.kind == "stall":  # the task exists, the answer is late
            time.sleep(fault.seconds)
        self._send(200, self._envelope(task))

    def _task_seconds(self) -> float:
        spread = self.state.spread
        if not spread:
            return self.state.task_seconds
        with self.state.lock:  # seeded: a benchmark's runs see the same times
            return self.state.task_seconds * self.state.rng.uniform(1 - spread, 1 + spread)

    def _output(self, task_id: str):
        self.state.count("download")
        task = self.state.tasks.get(task_id)
        if task is None or task.fail or time.monotonic() - task.created < task.seconds or self._expired(task):
            return self._error(404, "not found")
        fault = self.state.faults.take("download", str(task.body.get("prompt", "")))
        if self._fault_response(fault):
            return
        data = self._clip(task)
        if fault and fault.kind == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            return self._drop()
        self._send(200, raw=data, ctype="video/mp4")

    def _clip(self, task: Task) -> bytes:
        return self.state.clips.clip_for(task.body, lambda: self._video_length(task.body), task.variant,
                                         task.shorter, model=task.model)

    def _video_length(self, body: dict) -> float | None:
        m = re.search(r"/_media/([0-9a-f]+)/", str(body.get("video", "")))
        item = self.state.media.get(m.group(1)) if m else None
        if item is None:
            return None
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(item[1])
            f.flush()
            return inspect_file(Path(f.name)).duration
