"""The WaveSpeed API client (and so the emulator's): upload, submit, poll, download.

The API key goes only into the Authorization header of requests to the API
origin; it is never logged, never put in an error and never sent to the
hosts that serve uploads and results.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..errors import StoryboardError, printable
from ..plan.types import origin_of
from . import MaybeTask, NoTask, ProviderError, Retryable, TaskState, check_task_id

MAX_DOWNLOAD_BYTES = 2 * 1024**3  # a 15 s clip is tens of MB; 2 GB is no clip
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
MAX_RETRY_AFTER = 60.0  # seconds: a `Retry-After: 1e9` must not stall a render for ever
UPLOAD_CHUNK = 1 << 20
KEY_VARIABLE = "WAVESPEED_API_KEY"


def api_key_from_env(env=None) -> str:
    key = (os.environ if env is None else env).get(KEY_VARIABLE, "").strip()
    if not key:
        raise StoryboardError(
            f"{KEY_VARIABLE} is not set: the wavespeed provider needs your API key "
            "(or use --provider preview to render an offline animatic)"
        )
    # An HTTP header carries printable ASCII only. Refuse here, before any
    # request: a bad key must never look like a request that may have gone out.
    # The message never shows the key.
    if not key.isascii():
        raise StoryboardError(f"{KEY_VARIABLE} contains a non-ASCII character, which no API key has; copy the key again")
    if any(not c.isprintable() or c.isspace() for c in key):
        raise StoryboardError(f"{KEY_VARIABLE} contains a line break, a space or a control character; copy the key again")
    return key


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("message") or body.get("error") or ""
    except (ValueError, AttributeError):
        message = response.text
    if not isinstance(message, str):  # a server's object or list is shown as JSON, not as a Python value
        message = json.dumps(message, ensure_ascii=True)[:200]
    return f"HTTP {response.status_code}: {printable(message[:200], lines=False)}".rstrip(": ")


def _text(value) -> str:
    """A field the API should send as text: as text, whatever it sent (an object as JSON, never a Python repr)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=True)
    return printable(text[:500], lines=False)


def _retry_after(response: httpx.Response) -> float | None:
    """The wait the server asks for, at most ``MAX_RETRY_AFTER`` seconds."""
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _wait_note(response: httpx.Response) -> str:
    """What the display says when the server asked for a longer wait than storyboard keeps."""
    value = response.headers.get("retry-after")
    try:
        asked = float(value) if value is not None else None
    except ValueError:
        return ""
    if asked is None or not asked > MAX_RETRY_AFTER:
        return ""
    return f"; it asked to wait {value} s, storyboard waits at most {MAX_RETRY_AFTER:g} s"


def _data(response: httpx.Response) -> dict:
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"unexpected answer from the API (HTTP {response.status_code}): no `data` object")
    return data


class WaveSpeed:
    name = "wavespeed"

    def __init__(self, api_key: str, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 max_download: int = MAX_DOWNLOAD_BYTES):
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.max_download = max_download
        # One TLS context for both clients (the same one httpx makes by default): loading the
        # CA bundle costs tens of ms of CPU, once is enough. A given transport needs none.
        verify = httpx.create_ssl_context() if transport is None else True
        self.api = httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT,
            transport=transport, follow_redirects=False, verify=verify,
        )
        # Uploads and downloads go to other hosts: no Authorization header there.
        # Redirects are followed, but every hop's scheme is checked, not only the first URL's.
        self.plain = httpx.AsyncClient(timeout=TIMEOUT, transport=transport, follow_redirects=True, verify=verify,
                                       event_hooks={"request": [self._check_hop]})

    async def check_access(self) -> None:
        """One cheap authenticated request before anything is uploaded or
        submitted, so that a wrong address or key stops the render once, with
        what was tried, instead of failing every shot. An answer it does not
        understand is left for the real requests to report."""
        try:
            response = await self.api.get("/api/v3/balance")
        except httpx.TransportError as exc:
            raise StoryboardError(
                f"cannot reach the WaveSpeed API at {self.base_url} ({type(exc).__name__}); nothing was sent. "
                f"Check your network, and WAVESPEED_BASE_URL if you set it"
            ) from None
        if response.status_code in (401, 403):
            raise StoryboardError(
                f"the WaveSpeed API at {self.base_url} refused the API key ({_message(response)}); nothing was "
                f"submitted. Check {KEY_VARIABLE} (and WAVESPEED_BASE_URL, if the key is for another address)"
            )

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.plain.aclose()

    # -- uploads: the current ticket-and-PUT flow, else the older multipart one --

    async def upload(self, path: Path, content_type: str) -> str:
        size = path.stat().st_size  # the file is streamed, never held in memory whole
        try:
            ticket = await self.api.post(
                "/api/v3/media/uploads", json={"filename": path.name, "size": size, "content_type": content_type}
            )
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        if ticket.status_code in (404, 405):
            return await self._upload_multipart(path, content_type)
        self._raise_for_retry(ticket, "upload")
        info = _data(ticket)
        upload, url = info.get("upload") or {}, info.get("download_url")
        if not upload.get("url") or not url:
            raise ProviderError("upload: the API gave no upload URL")
        headers = {**(upload.get("headers") or {}), "Content-Length": str(size)}
        try:
            put = await self.plain.request(
                upload.get("method", "PUT"), upload["url"], content=_chunks(path), headers=headers
            )
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        self._raise_for_retry(put, "upload")
        return url

    async def _upload_multipart(self, path: Path, content_type: str) -> str:
        try:
            with open(path, "rb") as data:  # httpx streams a file object in chunks
                response = await self.api.post(
                    "/api/v3/media/upload/binary", files={"file": (path.name, data, content_type)}
                )
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        self._raise_for_retry(response, "upload")
        url = _data(response).get("download_url")
        if not url:
            raise ProviderError("upload: the API gave no download URL")
        return url

    # -- submit: retried only when no task can exist --

    async def submit(self, model: str, body: dict) -> str:
        try:
            response = await self.api.post(f"/api/v3/{model}", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Retryable(f"submit: could not connect ({type(exc).__name__}); nothing was sent") from None
        except httpx.TransportError as exc:
            raise MaybeTask(f"submit: the connection failed after the request was sent ({type(exc).__name__})") from None
        if response.status_code == 429:
            raise Retryable(f"submit: rate limited ({_message(response)}){_wait_note(response)}", _retry_after(response))
        if response.status_code >= 500:
            raise MaybeTask(f"submit: the API answered {_message(response)}")
        if response.status_code >= 400:
            raise NoTask(f"the API refused the request: {_message(response)}")
        try:
            task_id = _data(response).get("id")
        except ProviderError as exc:
            raise MaybeTask(f"submit: {exc}") from None
        if not task_id:
            raise MaybeTask("submit: the API accepted the request but gave no task id")
        try:  # a number is a task id written as JSON does; anything else cannot be polled
            return check_task_id(str(task_id) if isinstance(task_id, int) and not isinstance(task_id, bool)
                                 else task_id, "the API accepted the request, but its task id")
        except ProviderError as exc:
            raise MaybeTask(f"submit: {exc}") from None

    # -- poll and download: safe to retry --

    async def result(self, task_id: str) -> TaskState:
        check_task_id(task_id)
        try:
            response = await self.api.get(f"/api/v3/predictions/{task_id}/result")
        except httpx.TransportError as exc:
            raise Retryable(f"poll: {type(exc).__name__}") from None
        self._raise_for_retry(response, "poll")
        data = _data(response)
        found = data.get("outputs")
        outputs = [o if isinstance(o, str) else o.get("url") if isinstance(o, dict) else None
                   for o in (found if isinstance(found, list) else [])]
        # An element's output is an object (`{"element_id": 307212335131305, …}`): kept as parsed, its numbers
        # Python ints (json never makes a float of an integer), for the element's side to read exactly.
        objects = [o for o in (found if isinstance(found, list) else []) if isinstance(o, dict) and "url" not in o]
        return TaskState(_text(data.get("status")), [o for o in outputs if isinstance(o, str) and o],
                         _text(data.get("error")), objects)

    async def download(self, url: str, dest: Path) -> None:
        self._check_download_url(url)
        try:
            async with self.plain.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                self._raise_for_retry(response, "download")
                length = int(response.headers.get("content-length") or 0)
                if length > self.max_download:
                    raise ProviderError(f"download: the clip is {length} bytes, more than the {self.max_download} allowed")
                size = 0
                with open(dest, "wb") as out:
                    async for chunk in response.aiter_bytes(1 << 16):
                        size += len(chunk)
                        if size > self.max_download:
                            raise ProviderError(f"download: the clip is larger than the {self.max_download} bytes allowed")
                        out.write(chunk)
                if length and size != length:
                    raise Retryable(f"download: got {size} of {length} bytes")
        except httpx.TransportError as exc:
            raise Retryable(f"download: {type(exc).__name__}") from None

    def _check_download_url(self, url: str, what: str = "download") -> None:
        scheme = urlsplit(url).scheme
        allowed = ("https", "http") if self.origin.startswith("http://") else ("https",)
        if scheme not in allowed:
            raise ProviderError(f"{what}: refusing a {scheme or 'schemeless'} URL; only {' or '.join(allowed)}")

    async def _check_hop(self, request: httpx.Request) -> None:
        """Every request of the plain client, each redirect hop included."""
        self._check_download_url(str(request.url), "transfer")

    @staticmethod
    def _raise_for_retry(response: httpx.Response, what: str) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"{what}: {_message(response)}{_wait_note(response)}", _retry_after(response))
        if response.status_code >= 400:
            raise ProviderError(f"{what}: {_message(response)}")


async def _chunks(path: Path):
    with open(path, "rb") as f:
        while chunk := f.read(UPLOAD_CHUNK):
            yield chunk
