"""The WaveSpeed API client (and so the emulator's): upload, submit, poll, download.

The API key goes only into the Authorization header of requests to the API
origin; it is never logged, never put in an error and never sent to the
hosts that serve uploads and results.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..errors import StoryboardError
from ..plan.types import origin_of
from . import MaybeTask, NoTask, ProviderError, Retryable, TaskState

MAX_DOWNLOAD_BYTES = 2 * 1024**3  # a 15 s clip is tens of MB; 2 GB is no clip
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
KEY_VARIABLE = "WAVESPEED_API_KEY"


def api_key_from_env(env=None) -> str:
    key = (os.environ if env is None else env).get(KEY_VARIABLE, "").strip()
    if not key:
        raise StoryboardError(
            f"{KEY_VARIABLE} is not set: the wavespeed provider needs your API key "
            "(or use --provider preview to render an offline animatic)"
        )
    return key


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("message") or body.get("error") or ""
    except (ValueError, AttributeError):
        message = response.text[:200]
    return f"HTTP {response.status_code}: {message}".rstrip(": ")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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
        self.api = httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT,
            transport=transport, follow_redirects=False,
        )
        # Uploads and downloads go to other hosts: no Authorization header there.
        self.plain = httpx.AsyncClient(timeout=TIMEOUT, transport=transport, follow_redirects=True)

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.plain.aclose()

    # -- uploads: the current ticket-and-PUT flow, else the older multipart one --

    async def upload(self, path: Path, content_type: str) -> str:
        data = path.read_bytes()
        try:
            ticket = await self.api.post(
                "/api/v3/media/uploads", json={"filename": path.name, "size": len(data), "content_type": content_type}
            )
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        if ticket.status_code in (404, 405):
            return await self._upload_multipart(path.name, data, content_type)
        self._raise_for_retry(ticket, "upload")
        info = _data(ticket)
        upload, url = info.get("upload") or {}, info.get("download_url")
        if not upload.get("url") or not url:
            raise ProviderError("upload: the API gave no upload URL")
        try:
            put = await self.plain.request(
                upload.get("method", "PUT"), upload["url"], content=data, headers=upload.get("headers") or {}
            )
        except httpx.TransportError as exc:
            raise Retryable(f"upload: {type(exc).__name__}") from None
        self._raise_for_retry(put, "upload")
        return url

    async def _upload_multipart(self, filename: str, data: bytes, content_type: str) -> str:
        try:
            response = await self.api.post(
                "/api/v3/media/upload/binary", files={"file": (filename, data, content_type)}
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
            raise Retryable(f"submit: rate limited ({_message(response)})", _retry_after(response))
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
        return str(task_id)

    # -- poll and download: safe to retry --

    async def result(self, task_id: str) -> TaskState:
        try:
            response = await self.api.get(f"/api/v3/predictions/{task_id}/result")
        except httpx.TransportError as exc:
            raise Retryable(f"poll: {type(exc).__name__}") from None
        self._raise_for_retry(response, "poll")
        data = _data(response)
        outputs = [o if isinstance(o, str) else (o or {}).get("url", "") for o in data.get("outputs") or []]
        return TaskState(str(data.get("status", "")), [o for o in outputs if o], str(data.get("error") or ""))

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

    def _check_download_url(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        allowed = ("https", "http") if self.origin.startswith("http://") else ("https",)
        if scheme not in allowed:
            raise ProviderError(f"download: refusing a {scheme or 'schemeless'} URL; only {' or '.join(allowed)}")

    @staticmethod
    def _raise_for_retry(response: httpx.Response, what: str) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"{what}: {_message(response)}", _retry_after(response))
        if response.status_code >= 400:
            raise ProviderError(f"{what}: {_message(response)}")
