"""fal's queue protocol on the emulator, beside WaveSpeed's: the same tasks,
clips, fault rules and submit counts, fal's paths, fields and errors.

``POST /<endpoint>`` (``Authorization: Key …``) checks the body against the
fal catalog (fal's field names, ``duration`` as a string, a prompt or
``multi_prompt`` but not both, no element ids) and queues a request;
``GET /<app>/requests/<id>/status`` goes IN_QUEUE → IN_PROGRESS → COMPLETED;
``GET /<app>/requests/<id>`` is ``{video: {url, …}}`` (a failed request
answers 422 with its ``detail`` and ``x-fal-error-type``); ``PUT …/cancel``
drops a request still queued; ``POST /storage/upload/initiate`` hands out an
upload URL. Every submit is logged, body and all (``GET /_emulator/stats``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from typing import Any

from ...catalog import load_catalog
from ...plan.types import canonical_json

APP_PATH = re.compile(r"/([\w.-]+/[\w.-]+)/requests/([0-9a-f]+)(/status|/cancel)?")
STATUS = {"created": "IN_QUEUE", "processing": "IN_PROGRESS"}


def handles(path: str) -> bool:
    """Whether a request path is fal's (every fal endpoint and app lives under ``fal-ai/``)."""
    return path.startswith("/fal-ai/") or path.startswith("/storage/")


def error(h, status: int, detail: str, kind: str | None = None, headers: dict | None = None) -> None:
    h._send(status, {"detail": detail}, headers={**({"x-fal-error-type": kind} if kind else {}), **(headers or {})})


def authorized(h) -> bool:
    auth = h.headers.get("Authorization", "")
    key = auth.removeprefix("Key ").strip() if auth.startswith("Key ") else ""
    if not key or (h.state.api_key is not None and key != h.state.api_key):
        error(h, 401, "No user found for Key ID and Secret", "unauthorized")
        return False
    return True


def check_body(endpoint: str, body: Any) -> str | None:
    """What fal would say about a body, or None."""
    catalog = load_catalog("fal")
    spec = catalog.by_endpoint(endpoint)
    if not isinstance(body, dict):
        return "the input must be a JSON object"
    wire = {catalog.fields.get(p, p): p for p in spec.params}
    unknown = sorted(set(body) - set(wire))
    if unknown:
        return f"unknown field: {unknown[0]}"
    if "prompt" in body and "multi_prompt" in body:
        return "either prompt or multi_prompt must be provided, but not both"
    for field, param in wire.items():
        p, value = spec.params[param], body.get(field)
        if p.required and value in (None, "", []) and not (param == "prompt" and body.get("multi_prompt")):
            return f"{field}: field required"
        if value is None:
            continue
        if param == "duration" and (not isinstance(value, str) or not value.isdigit()
                                    or not p.min <= int(value) <= p.max):
            return f"duration: must be one of \"{p.min}\" … \"{p.max}\" (a string)"
        if param == "multi_prompt" and any(not isinstance(s.get("duration"), str) for s in value):
            return "multi_prompt: each duration must be a string"
        if p.choices and value not in p.choices:
            return f"{field}: must be one of {', '.join(p.choices)}"
        if param == "images" and len(value) > (p.max_with_video if body.get("video_url") and p.max_with_video
                                              else p.max or 99):
            return "image_urls: too many reference images"
        if param == "element_list":
            return check_elements(value, catalog.max_elements)
    return None


def check_elements(value: Any, limit: int | None) -> str | None:
    """fal's inline elements: ``[{frontal_image_url, reference_image_urls}]``, at most ``limit``, URLs only."""
    if not isinstance(value, list) or (limit is not None and len(value) > limit):
        return f"elements: a list of at most {limit} elements"
    for item in value:
        if not isinstance(item, dict) or set(item) - {"frontal_image_url", "reference_image_urls"}:
            return "elements: each element is {frontal_image_url, reference_image_urls}"
        urls = [item.get("frontal_image_url"), *(item.get("reference_image_urls") or [])]
        if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
            return "elements: every image must be a URL"
    return None


def view(body: dict) -> dict:
    """The body in the storyboard's words, as the clip maker and the fault rules read it."""
    segments = body.get("multi_prompt") or []
    return {"prompt": body.get("prompt") or " ".join(str(s.get("prompt", "")) for s in segments),
            "aspect_ratio": body.get("aspect_ratio", "16:9"), "duration": int(body.get("duration") or 0) or None,
            "sound": bool(body.get("generate_audio")), "video": body.get("video_url"),
            "keep_original_sound": body.get("keep_audio", True)}


def post(h, path: str) -> None:
    if not authorized(h):
        h._body()
        return
    if path == "/storage/upload/initiate":
        return _initiate(h)
    endpoint = path.strip("/")
    raw = h._body()
    if load_catalog("fal").by_endpoint(endpoint) is None:
        return error(h, 404, f"Application '{endpoint}' not found", "application_not_found")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return error(h, 422, "the input is not JSON", "request_validation_error")
    problem = check_body(endpoint, body)
    if problem:
        return error(h, 422, problem, "request_validation_error")
    _submit(h, endpoint, body)


def _submit(h, endpoint: str, body: dict) -> None:
    s = h.state
    seen = view(body)
    fault = s.faults.take("submit", seen["prompt"])
    if fault and fault.kind.isdigit():
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return error(h, int(fault.kind), "Too many requests" if fault.kind == "429" else "Internal server error",
                     "rate_limited" if fault.kind == "429" else "internal_error", headers)
    task = h.task_type(uuid.uuid4().hex, endpoint, seen, time.monotonic(), h._task_seconds())
    task.fail = "The content may violate our policy (emulated failure)." if fault and fault.kind == "fail" else ""
    task.seconds += fault.seconds if fault and fault.kind == "slow" else 0
    task.shorter = fault.seconds if fault and fault.kind == "short" else 0.0
    with s.lock:
        s.tasks[task.id] = task
        digest = hashlib.sha256(canonical_json({"model": endpoint, **body}).encode()).hexdigest()
        task.variant = s.submits.get(digest, 0)
        s.submits[digest] = task.variant + 1
        s.log.append({"protocol": "fal", "endpoint": endpoint, "body": body, "request_id": task.id})
    if not task.fail:
        threading.Thread(target=h._clip, args=(task,), daemon=True).start()
    if fault and fault.kind == "drop":
        return h._drop()
    if fault and fault.kind == "stall":
        time.sleep(fault.seconds)
    app = "/".join(endpoint.split("/")[:2])
    base = f"{h.base}/{app}/requests/{task.id}"
    h._send(200, {"request_id": task.id, "response_url": base, "status_url": f"{base}/status",
                  "cancel_url": f"{base}/cancel", "queue_position": 0})


def _initiate(h) -> None:
    h.state.count("upload")
    info = json.loads(h._body() or b"{}")
    if h._fault_response(h.state.faults.take("upload")):
        return
    ident = uuid.uuid4().hex
    h.state.tickets[ident] = info.get("file_name", "file")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(info.get("file_name", "file")))
    h._send(200, {"upload_url": f"{h.base}/_uploads/{ident}", "file_url": f"{h.base}/_media/{ident}/{name}"})


def _task(h, path: str):
    m = APP_PATH.fullmatch(path)
    task = h.state.tasks.get(m.group(2)) if m else None
    if task is None or h._expired(task) or task.cancelled:
        error(h, 404, "Request not found", "request_not_found")
        return None, None
    return task, m.group(3)


def get(h, path: str) -> None:
    if not authorized(h):
        return
    h.state.count("poll")
    task, tail = _task(h, path)
    if task is None:
        return
    if h._fault_response(h.state.faults.take("poll", str(task.body.get("prompt", "")))):
        return
    status = h._envelope(task)["data"]["status"]
    if tail == "/status":
        if status in STATUS:
            return h._send(200, {"status": STATUS[status], "queue_position": 0, "logs": None,
                                 "response_url": f"{h.base}{path.removesuffix('/status')}"})
        return h._send(200, {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": task.seconds},
                             "response_url": f"{h.base}{path.removesuffix('/status')}"})
    if status in STATUS:
        return error(h, 400, "Request is still in progress", "request_in_progress")
    if task.fail:
        return error(h, 422, task.fail, "content_policy_violation")
    url = f"{h.base}/_outputs/{task.id}.mp4"
    h._send(200, {"video": {"url": url, "content_type": "video/mp4", "file_name": "output.mp4"}})


def put(h, path: str) -> None:
    if not authorized(h):
        return
    task, tail = _task(h, path)
    if task is None:
        return
    if tail != "/cancel":
        return error(h, 405, "Method not allowed")
    if h._envelope(task)["data"]["status"] != "created":
        return h._send(400, {"status": "ALREADY_COMPLETED"})
    task.cancelled = True
    h._send(202, {"status": "CANCELLATION_REQUESTED"})
