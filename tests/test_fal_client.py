"""The fal queue client, the fal wire mapping, and the emulator's fal side
driven by the official `fal-client` package."""

from __future__ import annotations

import asyncio
import os
import json

import httpx
import pytest

from storyboard.catalog import load_catalog
from storyboard.providers import MaybeTask, NoTask, ProviderError, Retryable
from storyboard.providers.emulator import Emulator, Fault
from storyboard.providers.fal import Fal
from storyboard.providers.fal_wire import fal_body, inline_elements
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "fal-client-key"
QUEUE = "https://queue.fal.run"
STD = "fal-ai/kling-video/o3/standard/reference-to-video"


def client(handler) -> Fal:
    return Fal(KEY, QUEUE, transport=httpx.MockTransport(handler))


def run(coro):
    return asyncio.run(coro)


def test_the_official_fal_client_submits_polls_and_fetches_from_the_emulator(monkeypatch):
    # In CI (`CI=true`, set by .ci/run) the test extra has installed it: a missing client fails there.
    fal_client = __import__("fal_client") if os.environ.get("CI") else pytest.importorskip("fal_client")
    from fal_client import client as fal_module

    with Emulator(task_seconds=0.3, api_key=KEY) as emu:
        monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", emu.url + "/")
        sdk = fal_client.SyncClient(key=KEY)
        handle = sdk.submit(STD, {"prompt": "A harbour at dusk", "duration": "3", "generate_audio": True})
        assert isinstance(handle.status(), (fal_client.Queued, fal_client.InProgress))
        result = handle.get(interval=0.05)
        assert isinstance(handle.status(), fal_client.Completed)
        video = httpx.get(result["video"]["url"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        # by request id alone, as a later process would
        again = sdk.result(STD, handle.request_id)
        assert again == result
        [entry] = emu.stats()["log"]
        assert entry["endpoint"] == STD and entry["body"]["duration"] == "3"
        # what fal refuses comes back with its detail and error type
        with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
            sdk.submit(STD, {"prompt": "x", "duration": 5})
        assert refused.value.status_code == 422 and "duration" in str(refused.value)
        with pytest.raises(fal_client.client.FalClientHTTPError) as unauthorized:
            fal_client.SyncClient(key="wrong").submit(STD, {"prompt": "x"})
        assert unauthorized.value.status_code == 401
        assert emu.stats()["total_submits"] == 1


def test_requests_carry_the_key_only_to_fal_and_fields_by_fals_names():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/storage/upload/initiate":
            return httpx.Response(200, json={"upload_url": "https://up.example/put/1",
                                             "file_url": "https://files.example/1/a.png"})
        if request.url.host == "up.example":
            return httpx.Response(200)
        return httpx.Response(200, json={"request_id": "abc-123"})

    async def go(tmp):
        fal = client(handler)
        try:
            url = await fal.upload(tmp, "image/png")
            task = await fal.submit(STD, {"prompt": "p", "images": [url], "sound": False, "duration": 5,
                                          "multi_prompt": [{"prompt": "a", "duration": 5}]})
        finally:
            await fal.aclose()
        return url, task

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        png = Path(folder) / "a.png"
        png.write_bytes(b"\x89PNG....")
        url, task = run(go(png))
    assert (url, task) == ("https://files.example/1/a.png", "abc-123")
    initiate, put, submit = seen
    assert initiate.url.host == "rest.fal.ai" and initiate.headers["authorization"] == f"Key {KEY}"
    assert put.url.host == "up.example" and "authorization" not in put.headers and put.content == b"\x89PNG...."
    assert str(submit.url) == f"{QUEUE}/{STD}" and submit.headers["authorization"] == f"Key {KEY}"
    assert json.loads(submit.content) == {"image_urls": ["https://files.example/1/a.png"], "generate_audio": False,
                                          "duration": "5", "multi_prompt": [{"prompt": "a", "duration": "5"}]}


@pytest.mark.parametrize("answer, kind", [
    (lambda r: httpx.Response(500, json={"detail": "boom"}), MaybeTask),
    (lambda r: httpx.Response(200, json={"status": "IN_QUEUE"}), MaybeTask),  # accepted, but no request id
    (lambda r: httpx.Response(200, json={"request_id": "../../x"}), MaybeTask),
    (lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("late", request=r)), MaybeTask),
    (lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)), Retryable),
    (lambda r: httpx.Response(429, json={"detail": "slow down"}, headers={"retry-after": "7"}), Retryable),
    (lambda r: httpx.Response(422, json={"detail": [{"msg": "duration is not valid"}]},
                              headers={"x-fal-error-type": "request_validation_error"}), NoTask),
])
def test_a_submit_is_sent_once_and_its_outcome_says_whether_a_task_may_exist(answer, kind):
    calls = []

    def handler(request):
        calls.append(request)
        return answer(request)

    async def go():
        fal = client(handler)
        try:
            return await fal.submit(STD, {"prompt": "p", "duration": 5})
        finally:
            await fal.aclose()

    with pytest.raises(kind) as caught:
        run(go())
    assert len(calls) == 1  # the client never sends a submit twice by itself
    if kind is NoTask:
        assert str(caught.value) == ("fal refused the request: HTTP 422: duration is not valid "
                                     "(request_validation_error)")
    if kind is Retryable and "slow" in str(caught.value):
        assert caught.value.retry_after == 7


def test_poll_states_and_a_failed_request_with_its_detail():
    answers = {
        "/fal-ai/kling-video/requests/q/status": httpx.Response(200, json={"status": "IN_QUEUE", "queue_position": 2}),
        "/fal-ai/kling-video/requests/p/status": httpx.Response(200, json={"status": "IN_PROGRESS", "logs": []}),
        "/fal-ai/kling-video/requests/c/status": httpx.Response(200, json={"status": "COMPLETED"}),
        "/fal-ai/kling-video/requests/c": httpx.Response(200, json={"video": {"url": "https://v3.fal.media/c.mp4"}}),
        "/fal-ai/kling-video/requests/f/status": httpx.Response(200, json={"status": "COMPLETED"}),
        "/fal-ai/kling-video/requests/f": httpx.Response(422, json={"detail": "policy"},
                                                         headers={"x-fal-error-type": "content_policy_violation"}),
        "/fal-ai/kling-video/requests/g/status": httpx.Response(404, json={"detail": "Request not found"}),
    }

    async def go():
        fal = client(lambda request: answers[request.url.path])
        try:
            states = [await fal.result(t) for t in "qpcf"]
            with pytest.raises(ProviderError, match="Request not found"):
                await fal.result("g")
            return states
        finally:
            await fal.aclose()

    queued, running, done, failed = run(go())
    assert (queued.status, running.status, done.status) == ("queued", "processing", "completed")
    assert done.outputs == ["https://v3.fal.media/c.mp4"] and not queued.final and done.final
    assert failed.status == "failed" and failed.error == "HTTP 422: policy (content_policy_violation)"


def test_cancel_puts_to_the_requests_cancel_url_on_the_emulator():
    async def go(emu):
        fal = Fal(KEY, emu.url)
        try:
            task = await fal.submit(STD, {"prompt": "p", "duration": 5})
            await fal.cancel(task)
            with pytest.raises(ProviderError, match="Request not found"):
                await fal.result(task)
        finally:
            await fal.aclose()

    with Emulator(task_seconds=5.0, api_key=KEY) as emu:
        run(go(emu))


def test_the_wire_mapping_and_inline_elements():
    catalog = load_catalog("fal")
    body = fal_body(catalog, "fal-ai/kling-video/o3/pro/video-to-video/reference",
                    {"prompt": "Mara rows", "video": "https://x/v.mp4", "images": ["https://x/i.png"],
                     "keep_original_sound": False, "duration": 7, "aspect_ratio": "9:16"})
    assert body == {"prompt": "Mara rows", "video_url": "https://x/v.mp4", "image_urls": ["https://x/i.png"],
                    "keep_audio": False, "duration": "7", "aspect_ratio": "9:16"}
    with pytest.raises(ProviderError, match="no Kling element ids"):
        fal_body(catalog, STD, {"prompt": "p", "element_list": [{"element_id": "1"}]})
    with pytest.raises(ProviderError, match="serves no model"):
        fal_body(catalog, "fal-ai/other", {"prompt": "p"})
    inline = inline_elements({"prompt": "Mara and Mara Jane meet @Image1; Maranatha", "multi_prompt": [
        {"prompt": "Mara waves", "duration": "2"}]}, [("Mara Jane", "https://f/1.png", ["https://r/1.png"]),
                                                     ("Mara", "https://f/2.png", [])], limit=3)
    assert inline["prompt"] == "@Element2 and @Element1 meet @Image1; Maranatha"
    assert inline["multi_prompt"] == [{"prompt": "@Element2 waves", "duration": "2"}]
    assert inline["elements"] == [{"frontal_image_url": "https://f/1.png", "reference_image_urls": ["https://r/1.png"]},
                                  {"frontal_image_url": "https://f/2.png", "reference_image_urls": []}]
    with pytest.raises(ProviderError, match="at most 3"):
        inline_elements({}, [(f"e{i}", "u", []) for i in range(4)], limit=3)


ONE = "version: 1\nprovider: fal\nshots:\n  - id: a\n    prompt: A quiet harbour\n    model: kwaivgi/kling-video-o3-std/reference-to-video\n"


@pytest.mark.parametrize("fault, submits, state", [
    (Fault("submit", "429", retry_after=0), 1, "done"),     # no task came of it: sent again, one task
    (Fault("submit", "500"), 0, "failed"),  # a task may exist: in doubt; sent again it would make one (1)
    (Fault("submit", "drop"), 1, "failed"),
    (Fault("poll", "503", times=2), 1, "done"),
    (Fault("download", "truncate"), 1, "done"),
    (Fault("submit", "fail"), 1, "failed"),
])
def test_the_emulators_fault_rules_apply_to_fal_and_a_submit_is_never_sent_twice(project, fault, submits, state):
    path = project(ONE)
    with Emulator(task_seconds=0.2, api_key=KEY, faults=[fault]) as emu:
        report = render_project(str(path), env={"FAL_BASE_URL": emu.url, "FAL_KEY": KEY}, engine=None,
                                options=Options(concurrency=1, rate=0)).report
        assert emu.stats()["total_submits"] == submits
    [outcome] = report.outcomes
    assert outcome.state == state, outcome.message
    if fault.kind in ("500", "drop"):
        assert "fal dashboard" in outcome.message and "--resubmit a" in outcome.message


def _requests():
    from hypothesis import strategies as st

    catalog = load_catalog("fal")
    models = [m for m, spec in catalog.models.items() if spec.kind == "video"]

    @st.composite
    def build(draw):
        model = draw(st.sampled_from(models))
        spec = catalog.models[model]
        request: dict = {}
        video = "video" in spec.params and (spec.params["video"].required or draw(st.booleans()))
        if video:
            request["video"] = "https://x/v.mp4"
        for name, p in spec.params.items():
            if name in ("video", "element_list") or (not p.required and draw(st.booleans())):
                continue
            if name == "prompt":
                request[name] = draw(st.text(min_size=1, max_size=40))
            elif name in ("image", "end_image"):
                request[name] = f"https://x/{name}.png"
            elif name == "images":
                limit = p.max_with_video if video and p.max_with_video else p.max
                request[name] = [f"https://x/{i}.png" for i in range(draw(st.integers(1, limit)))]
            elif name == "duration":
                request[name] = draw(st.integers(p.min, p.max))
            elif name == "multi_prompt":
                request[name] = [{"prompt": draw(st.text(min_size=1, max_size=10)), "duration": 1}] * 2
            elif p.choices:
                request[name] = draw(st.sampled_from(p.choices))
            elif name == "sound" and not video or name == "keep_original_sound" and video:
                request[name] = draw(st.booleans())
        return model, request

    return build()


def test_every_request_the_fal_catalog_allows_maps_to_a_body_fal_takes():
    from hypothesis import given, settings

    from storyboard.providers.emulator.fal import check_body

    catalog = load_catalog("fal")

    @settings(max_examples=200, deadline=2000)
    @given(_requests())
    def check(drawn):
        model, request = drawn
        endpoint = catalog.endpoint(model, request)
        body = fal_body(catalog, endpoint, request)
        assert check_body(endpoint, body) is None, (endpoint, body)
        assert not {"images", "image", "end_image", "video", "sound", "keep_original_sound"} & set(body)
        assert all(isinstance(v, str) for v in [body.get("duration", "")]
                   + [s["duration"] for s in body.get("multi_prompt", [])])
        assert ("prompt" in body) != ("multi_prompt" in body) or "prompt" not in request
        assert endpoint.endswith("video-to-video/reference") == ("video" in request and model.endswith("reference-to-video"))

    check()
