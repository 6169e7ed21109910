"""The emulator speaks the protocol as documented, over real HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from storyboard.providers.emulator import Emulator, Fault
from storyboard.format.media import inspect_file

MODEL = "kwaivgi/kling-video-o3-pro/reference-to-video"
AUTH = {"Authorization": "Bearer any-key"}


@pytest.fixture(scope="module")
def emu():
    with Emulator(task_seconds=0.3) as emulator:
        yield emulator


def test_auth_is_required(emu):
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"prompt": "x"})
    assert r.status_code == 401


def test_unknown_model_and_bad_inputs(emu):
    r = httpx.post(f"{emu.url}/api/v3/kwaivgi/nope", json={"prompt": "x"}, headers=AUTH)
    assert (r.status_code, r.json()["message"]) == (400, "Model not found.")
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"prompt": "x", "duration": 20}, headers=AUTH)
    assert r.status_code == 400 and "duration" in r.json()["message"]
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"duration": 5}, headers=AUTH)
    assert r.status_code == 400 and "prompt is required" in r.json()["message"]


def test_task_lifecycle_and_a_real_clip(emu, tmp_path):
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"prompt": "x", "duration": 3, "aspect_ratio": "9:16",
                                                       "sound": True}, headers=AUTH)
    data = r.json()["data"]
    assert data["status"] == "created" and data["outputs"] == []
    url = f"{emu.url}/api/v3/predictions/{data['id']}/result"
    seen = set()
    for _ in range(100):
        state = httpx.get(url, headers=AUTH).json()["data"]
        seen.add(state["status"])
        if state["status"] == "completed":
            break
        time.sleep(0.02)
    assert {"processing", "completed"} <= seen
    clip = tmp_path / "c.mp4"
    clip.write_bytes(httpx.get(state["outputs"][0]).content)
    info = inspect_file(clip)
    assert info.kind == "video" and 3.0 < info.duration < 3.2  # a little longer than asked


def test_both_upload_flows(emu):
    ticket = httpx.post(f"{emu.url}/api/v3/media/uploads", headers=AUTH,
                        json={"filename": "a.png", "size": 3, "content_type": "image/png"}).json()["data"]
    upload = ticket["upload"]
    assert httpx.put(upload["url"], content=b"abc", headers=upload["headers"]).status_code == 200
    assert httpx.get(ticket["download_url"]).content == b"abc"
    multi = httpx.post(f"{emu.url}/api/v3/media/upload/binary", headers=AUTH, files={"file": ("b.png", b"xyz")})
    assert httpx.get(multi.json()["data"]["download_url"]).content == b"xyz"


def test_faults_by_request_and_counting(emu):
    before = emu.stats()["total_submits"]
    emu.add_fault(Fault("submit", "429", times=1, match="special"))
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"prompt": "a special one"}, headers=AUTH)
    assert r.status_code == 429
    r = httpx.post(f"{emu.url}/api/v3/{MODEL}", json={"prompt": "a special one"}, headers=AUTH)
    assert r.status_code == 200
    assert emu.stats()["total_submits"] == before + 1
    httpx.post(f"{emu.url}/_emulator/faults", json=[{"on": "poll", "kind": "503", "times": 1}])
    task = r.json()["data"]["id"]
    assert httpx.get(f"{emu.url}/api/v3/predictions/{task}/result", headers=AUTH).status_code == 503
    assert httpx.get(f"{emu.url}/api/v3/predictions/{task}/result", headers=AUTH).status_code == 200


def test_fault_spec_parsing():
    assert Fault.parse("submit:fail:2:storm") == Fault("submit", "fail", 2, "storm")
    assert Fault.parse("poll:503") == Fault("poll", "503", 1, None)
    with pytest.raises(ValueError):
        Fault.parse("nonsense")
