"""The WaveSpeed client against httpx.MockTransport: protocol and error kinds."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from storyboard.providers import MaybeTask, NoTask, ProviderError, Retryable
from storyboard.providers.wavespeed import WaveSpeed

BASE = "https://api.wavespeed.ai"
MODEL = "kwaivgi/kling-video-o3-pro/reference-to-video"


def client(handler, base=BASE, **kw) -> WaveSpeed:
    return WaveSpeed("sk-secret", base, transport=httpx.MockTransport(handler), **kw)


def run(coro):
    return asyncio.run(coro)


def ok(data: dict) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "message": "success", "data": data})


def test_submit_posts_the_flat_body_with_the_bearer_key():
    seen = []

    def handler(request):
        seen.append(request)
        return ok({"id": "task1", "status": "created"})

    assert run(client(handler).submit(MODEL, {"prompt": "x", "duration": 5})) == "task1"
    assert seen[0].url == f"{BASE}/api/v3/{MODEL}"
    assert seen[0].headers["authorization"] == "Bearer sk-secret"
    assert json.loads(seen[0].content) == {"prompt": "x", "duration": 5}


@pytest.mark.parametrize(
    "response, kind",
    [
        (httpx.Response(429, json={"code": 429, "message": "slow down"}, headers={"Retry-After": "7"}), Retryable),
        (httpx.Response(500, json={"code": 500, "message": "oops"}), MaybeTask),
        (httpx.Response(400, json={"code": 400, "message": "Model not found."}), NoTask),
        (httpx.Response(402, json={"code": 402, "message": "Insufficient credits"}), NoTask),
        (ok({"status": "created"}), MaybeTask),  # accepted, but no id
    ],
)
def test_submit_errors_say_whether_a_task_may_exist(response, kind):
    with pytest.raises(kind) as info:
        run(client(lambda r: response).submit(MODEL, {"prompt": "x"}))
    if kind is Retryable:
        assert info.value.retry_after == 7
    assert "sk-secret" not in str(info.value)


@pytest.mark.parametrize(
    "exc, kind",
    [(httpx.ConnectError("refused"), Retryable), (httpx.ReadTimeout("slow"), MaybeTask),
     (httpx.RemoteProtocolError("closed"), MaybeTask)],
)
def test_submit_transport_errors(exc, kind):
    def handler(request):
        raise exc

    with pytest.raises(kind):
        run(client(handler).submit(MODEL, {"prompt": "x"}))


def test_result_reads_status_outputs_and_error():
    outputs = [{"url": "https://cdn.example/clip.mp4"}]
    state = run(client(lambda r: ok({"id": "t", "status": "completed", "outputs": outputs})).result("t"))
    assert state.final and state.outputs == ["https://cdn.example/clip.mp4"]
    failed = run(client(lambda r: ok({"id": "t", "status": "failed", "error": "moderation"})).result("t"))
    assert failed.final and failed.error == "moderation"
    with pytest.raises(Retryable):
        run(client(lambda r: httpx.Response(503)).result("t"))


def test_upload_ticket_then_put_without_the_key(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"\x89PNG data")
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.path == "/api/v3/media/uploads":
            body = json.loads(request.content)
            assert body == {"filename": "a.png", "size": 9, "content_type": "image/png"}
            return ok({"upload": {"method": "PUT", "url": "https://bucket.example/put/1",
                                  "headers": {"Content-Type": "image/png"}},
                       "download_url": "https://media.example/a.png"})
        assert request.url.host == "bucket.example"
        return httpx.Response(200)

    assert run(client(handler).upload(f, "image/png")) == "https://media.example/a.png"
    put = seen[1]
    assert put.method == "PUT" and put.content == b"\x89PNG data" and "authorization" not in put.headers


def test_upload_falls_back_to_multipart(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"png")

    def handler(request):
        if request.url.path == "/api/v3/media/uploads":
            return httpx.Response(404, json={"code": 404, "message": "not found"})
        assert request.url.path == "/api/v3/media/upload/binary"
        assert b'name="file"' in request.content
        return ok({"download_url": "https://media.example/b.png"})

    assert run(client(handler).upload(f, "image/png")) == "https://media.example/b.png"


def test_download_streams_without_the_key(tmp_path):
    def handler(request):
        assert "authorization" not in request.headers
        return httpx.Response(200, content=b"x" * 1000)

    dest = tmp_path / "clip.mp4"
    run(client(handler).download("https://cdn.example/clip.mp4", dest))
    assert dest.read_bytes() == b"x" * 1000


def test_download_refuses_plain_http_from_an_https_api_and_oversize(tmp_path):
    with pytest.raises(ProviderError, match="refusing a http URL"):
        run(client(lambda r: httpx.Response(200)).download("http://cdn.example/c.mp4", tmp_path / "c"))
    with pytest.raises(ProviderError, match="refusing a file URL"):
        run(client(lambda r: httpx.Response(200)).download("file:///etc/passwd", tmp_path / "c"))
    big = client(lambda r: httpx.Response(200, content=b"y" * 5000), max_download=1000)
    with pytest.raises(ProviderError, match="allowed"):
        run(big.download("https://cdn.example/c.mp4", tmp_path / "c"))


def test_download_over_http_when_the_api_is_http(tmp_path):
    local = client(lambda r: httpx.Response(200, content=b"ok"), base="http://127.0.0.1:9")
    run(local.download("http://127.0.0.1:9/_outputs/x.mp4", tmp_path / "c"))
    assert (tmp_path / "c").read_bytes() == b"ok"
