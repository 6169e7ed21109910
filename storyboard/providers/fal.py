"""The fal.ai queue client: upload, submit, poll, fetch the result, cancel.

The same discipline as the WaveSpeed client, which it extends: a submit is
retried only when no request can have gone out (a refused connection, a 429);
anything after the request was sent is ``MaybeTask``, never resubmitted. The
key goes only into ``Authorization: Key …`` to the queue and storage; uploads'
PUTs and the clip's download go to other hosts without it. fal's errors carry
a ``detail`` and an ``x-fal-error-type`` header; both reach the message.

The queue: ``POST <queue>/<endpoint>`` → ``request_id``; ``GET
<queue>/<app>/requests/<id>/status`` → IN_QUEUE, IN_PROGRESS or COMPLETED;
``GET <queue>/<app>/requests/<id>`` → ``{video: {url}}``; ``PUT …/cancel``.
Status and result name the app and the request id only, so a request id is
enough to find a task again (recovery after a crash, a later run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from ..catalog import load_catalog
from ..errors import StoryboardError, printable
from . import MaybeTask, NoTask, ProviderError, Retryable, TaskState, check_task_id
from .fal_wire import fal_body
from .wavespeed import MAX_DOWNLOAD_BYTES, TIMEOUT, WaveSpeed, _chunks, _retry_after, _text, _wait_note

KEY_VARIABLE = "FAL_KEY"
DEFAULT_STORAGE_URL = "https://rest.fal.ai"
DEFAULT_QUEUE_URL = "https://queue.fal.run"
STATES = {"IN_QUEUE": "queued", "IN_PROGRESS": "processing"}


def fal_key_from_env(env=None) -> str:
    key = (os.environ if env is None else env).get(KEY_VARIABLE, "").strip()
    if not key:
        raise StoryboardError(f"{KEY_VARIABLE} is not set: the fal provider needs your API key "
                              "(or use --provider preview to render an offline animatic)")
    if not key.isascii() or any(not c.isprintable() or c.isspace() for c in key):
        raise StoryboardError(f"{KEY_VARIABLE} contains a character no API key has (not ASCII, a space or a "
                              "control character); copy the key again")
    return key


def fal_message(response: httpx.Response) -> str:
    """``HTTP 422: <detail> (<x-fal-error-type>)``: what fal says went wrong, as text."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = response.text
    if isinstance(detail, list):  # validation errors: [{loc, msg, type}, …]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail[:5])
    elif detail is not None and not isinstance(detail, str):
        detail = json.dumps(detail, ensure_ascii=True)
    kind = response.headers.get("x-fal-error-type", "")
    text = printable(str(detail or "")[:200], lines=False)
    text += f" ({printable(kind[:60], lines=False)})" if kind else ""
    return f"HTTP {response.status_code}: {text}".rstrip(": ")


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"unexpected answer from fal (HTTP {response.status_code}): not a JSON object")
    return data


class Fal(WaveSpeed):
    name = "fal"

    def __init__(self, api_key: str, base_url: str = DEFAULT_QUEUE_URL, *, storage_url: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, max_download: int = MAX_DOWNLOAD_BYTES):
        super().__init__(api_key, base_url, transport=transport, max_download=max_download)
        self.api.headers["Authorization"] = f"Key {api_key}"
        # fal keeps uploads apart from the queue; an emulator (any other address) serves both.
        default = base_url.rstrip("/") == DEFAULT_QUEUE_URL
        self.storage_url = (storage_url or (DEFAULT_STORAGE_URL if default else base_url)).rstrip("/")
        self.catalog = load_catalog("fal")
        self.app = self.catalog.app or "fal-ai/kling-video"

    async def check_access(self) -> None:
        """The status of a request that cannot exist: 401/403 is a wrong key, anything else is left
        for the real requests to report."""
        try:
            response = await self.api.get(f"/{self.app}/requests/00000000-0000-0000-0000-000000000000/status")
        except httpx.TransportError as exc:
            raise StoryboardError(f"cannot reach fal at {self.base_url} ({type(exc).__name__}); nothing was sent. "
                                  "Check your network, and FAL_BASE_URL if you set it") from None
        if response.status_code in (401, 403):
            raise StoryboardError(f"fal at {self.base_url} refused the API key ({fal_message(response)}); nothing was "
                                  f"submitted. Check {KEY_VARIABLE} (and FAL_BASE_URL, if you set it)")

    async def upload(self, path: Path, content_type: str) -> str:
        """fal storage: an upload URL and the file's URL from the storage API, then a PUT of the bytes."""
        size = path.stat().st_size
        try:
            ticket = await self.api.post(f"{self.storage_url}/storage/upload/initiate", params={"storage_type": "gcs"},
                                         json={"file_name": path.name, "content_type": content_type})
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        self._raise_for_retry(ticket, "upload")
        info = _json(ticket)
        put_url, url = info.get("upload_url"), info.get("file_url")
        if not isinstance(put_url, str) or not isinstance(url, str) or not put_url or not url:
            raise ProviderError("upload: fal gave no upload URL")
        try:
            put = await self.plain.put(put_url, content=_chunks(path),
                                       headers={"Content-Type": content_type, "Content-Length": str(size)})
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        self._raise_for_retry(put, "upload")
        return url

    async def submit(self, model: str, body: dict) -> str:
        wire = fal_body(self.catalog, model, body)  # a request fal cannot take is refused before it goes
        try:
            response = await self.api.post(f"/{model}", json=wire)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Retryable(f"submit: could not connect ({type(exc).__name__}); nothing was sent") from None
        except httpx.TransportError as exc:
            raise MaybeTask(f"submit: the connection failed after the request was sent ({type(exc).__name__})") from None
        if response.status_code == 429:
            raise Retryable(f"submit: rate limited ({fal_message(response)}){_wait_note(response)}",
                            _retry_after(response))
        if response.status_code >= 500:
            raise MaybeTask(f"submit: fal answered {fal_message(response)}")
        if response.status_code >= 400:
            raise NoTask(f"fal refused the request: {fal_message(response)}")
        try:
            request_id = _json(response).get("request_id")
            if not request_id:
                raise ProviderError("fal accepted the request but gave no request id")
            return check_task_id(request_id, "fal accepted the request, but its request id")
        except ProviderError as exc:
            raise MaybeTask(f"submit: {exc}") from None

    async def result(self, task_id: str) -> TaskState:
        check_task_id(task_id)
        base = f"/{self.app}/requests/{task_id}"
        status = _json(await self._get(f"{base}/status", "poll"))
        state = status.get("status")
        if state in STATES:
            return TaskState(STATES[state])
        if state != "COMPLETED":
            raise ProviderError(f"poll: fal gave an unknown status `{_text(state)}`")
        if status.get("error"):
            return TaskState("failed", error=_failure(status.get("error"), status.get("error_type")))
        response = await self._get(base, "result", failed_ok=True)
        if response.status_code >= 400:  # the request ran and failed: fal says why in the result
            return TaskState("failed", error=fal_message(response))
        video = _json(response).get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url:
            return TaskState("failed", error="fal completed the request but gave no video")
        return TaskState("completed", [url])

    async def cancel(self, task_id: str) -> None:
        """Ask fal to drop a request still in its queue (one already running goes on, and is paid)."""
        check_task_id(task_id)
        try:
            response = await self.api.put(f"/{self.app}/requests/{task_id}/cancel")
        except httpx.TransportError as exc:
            raise Retryable(f"cancel: {type(exc).__name__}") from None
        if response.status_code not in (400, 409):  # 400/409: no longer in the queue, nothing to cancel
            self._raise_for_retry(response, "cancel")

    async def _get(self, path: str, what: str, failed_ok: bool = False) -> httpx.Response:
        try:
            response = await self.api.get(path)
        except httpx.TransportError as exc:
            raise Retryable(f"{what}: {type(exc).__name__}") from None
        if failed_ok and 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 429):
            return response
        self._raise_for_retry(response, what)
        return response

    @staticmethod
    def _raise_for_retry(response: httpx.Response, what: str) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"{what}: {fal_message(response)}{_wait_note(response)}", _retry_after(response))
        if response.status_code >= 400:
            raise ProviderError(f"{what}: {fal_message(response)}")


def _failure(error, kind) -> str:
    text = _text(error)
    return f"{text} ({_text(kind)})" if kind else text


__all__ = ["Fal", "KEY_VARIABLE", "fal_key_from_env", "fal_message", "TIMEOUT"]
