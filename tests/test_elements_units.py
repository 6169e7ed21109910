"""Element ids kept exactly from the API's JSON to the lock, and element
entries in a lock read as untrusted input."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from storyboard.errors import StoryboardError
from storyboard.render.element_lock import ElementEntry, element_id_of
from storyboard.render.lock import Lock, lock_text, read_lock, write_lock
from storyboard.providers.wavespeed import WaveSpeed

LONG_ID = 307212335131305123  # 18 digits: a float keeps 15 to 17 of them


def test_the_client_keeps_an_element_id_exactly_as_the_json_number_it_came_as():
    raw = ('{"code": 200, "message": "success", "data": {"id": "t1", "status": "completed", "outputs": '
           f'[{{"element_id": {LONG_ID}, "element_name": "Mara", "element_type": "image_refer"}}]}}}}')

    def handler(request):
        return httpx.Response(200, content=raw.encode(), headers={"content-type": "application/json"})

    api = WaveSpeed("sk", "https://api.wavespeed.ai", transport=httpx.MockTransport(handler))
    state = asyncio.run(api.result("t1"))
    assert state.status == "completed" and state.outputs == []
    assert element_id_of(state.objects[0]["element_id"]) == str(LONG_ID)
    assert float(LONG_ID) != LONG_ID  # what a float would have made of it


@pytest.mark.parametrize("value, kept", [
    (307212335131305, "307212335131305"), ("0307212335131305", "0307212335131305"), (3.07212335131305e14, None),
    (True, None), (-5, None), ("12a", None), ("", None), (None, None), ("١٢٣", None),
])
def test_only_whole_numbers_are_element_ids(value, kept):
    assert element_id_of(value) == kept


def entry(**change) -> dict:
    data = {"key": "a" * 64, "model": "kwaivgi/kling-elements-advanced", "origin": "https://api.wavespeed.ai",
            "task_id": "t1", "element_id": str(LONG_ID), "name": "Mara", "cost": "0.01",
            "completed_at": "2026-01-01T00:00:00+00:00"}
    return {**data, **change}


def test_a_lock_keeps_its_elements_and_reads_as_before_without_them(tmp_path):
    path = tmp_path / "storyboard.lock"
    lock = Lock()
    assert "elements" not in json.loads(lock_text(lock))
    lock.put_element("mara", ElementEntry(**entry()))
    lock.put_element("mara", ElementEntry(**entry(key="b" * 64, element_id="42")))
    write_lock(path, lock)
    again = read_lock(path)
    assert again.elements["mara"].element_id == "42"
    assert again.retired_elements["a" * 64].element_id == str(LONG_ID)  # paid is kept
    assert set(again.paid_elements()) == {"a" * 64, "b" * 64}
    assert json.loads(path.read_text())["elements"]["mara"]["element_id"] == "42"  # a string in the lock


@pytest.mark.parametrize("bad, words", [
    ({"mara": entry(element_id=3.07e14)}, "elements.mara.element_id"),
    ({"mara": entry(element_id="30721233513130e")}, "elements.mara.element_id"),
    ({"mara": entry(origin="https://x\x1b[2J")}, "elements.mara.origin"),
    ({"ma\x1bra": entry()}, "is not a character's key"),
    ({"mara": entry(task_id="../../x")}, "elements.mara.task_id"),
    ({"mara": {**entry(), "extra": 1}}, "elements.mara.extra"),
])
def test_a_hostile_element_entry_is_an_error_naming_the_lock(tmp_path, bad, words):
    path = tmp_path / "storyboard.lock"
    path.write_text(json.dumps({"version": 1, "shots": {}, "elements": bad}))
    with pytest.raises(StoryboardError) as caught:
        read_lock(path)
    message = str(caught.value)
    assert str(path) in message and words in message and "\x1b" not in message
