"""Kling elements rendered against the emulator over real loopback HTTP:
made once, ever, before the shots that send them; their ids sent exactly."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from storyboard.providers.emulator import Emulator, Fault
from storyboard.providers.emulator.elements import read_marks
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-elements-key"
ELEMENTS = "kwaivgi/kling-elements-advanced"


def png(colour: str, width: int = 320, height: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


REFS = {"refs/mara-front.png": png("red"), "refs/mara-left.png": png("orange"),
        "refs/tom-front.png": png("navy"), "refs/tom-side.png": png("blue")}
STORY = """version: 1
characters:
  mara:
    name: Mara
    description: young fisher in a yellow oilskin
    element: {frontal: refs/mara-front.png, views: [refs/mara-left.png]}
  tom:
    name: Old Tom
    description: weathered keeper
    element: {frontal: refs/tom-front.png, views: [refs/tom-side.png]}
shots:
  - {id: a, prompt: "Mara rows a boat on the sea.", characters: [mara], duration: 3}
  - {id: b, prompt: "Old Tom lights the lamp over the sea.", characters: [tom], duration: 3}
  - {id: c, prompt: "Old Tom hauls Mara out of the sea.", characters: [tom, mara], duration: 3}
  - {id: d, prompt: "Mara waves from the sea wall.", characters: [mara], duration: 3}
  - {id: e, prompt: "The sea at dawn.", duration: 3}
"""


def render(path, emu, **kw):
    kw.setdefault("options", Options(concurrency=6, rate=0))
    env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def video_tasks(emu):
    return [t for t in emu.state.tasks.values() if t.model != ELEMENTS]


def element_tasks(emu):
    return [t for t in emu.state.tasks.values() if t.model == ELEMENTS]


def lock_of(path) -> dict:
    return json.loads((path.parent / "storyboard.lock").read_text())


@pytest.fixture
def emu():
    with Emulator(task_seconds=0.3) as emulator:
        yield emulator


def test_two_elements_and_five_shots_make_two_element_submits_then_five_in_order_and_a_rerun_none(project, emu):
    path = project(STORY, REFS)
    result = render(path, emu)
    assert [o.state for o in result.report.outcomes] == ["done"] * 5 and result.film is not None
    assert [(e.job.character, e.state) for e in result.report.elements] == [("mara", "done"), ("tom", "done")]
    assert len(element_tasks(emu)) == 2 and len(video_tasks(emu)) == 5
    made = {t.output["element_name"]: t for t in element_tasks(emu)}
    for task in video_tasks(emu):  # every shot that sends an element starts after its element is made
        for item in task.body.get("element_list", []):
            element = next(t for t in element_tasks(emu) if str(t.output["element_id"]) == item["element_id"])
            assert task.created >= element.created + element.seconds
    assert result.report.spent == Decimal("1.70")  # two elements at $0.01 and five 3 s shots at $0.336
    entries = lock_of(path)["elements"]
    assert {k: (e["element_id"], e["cost"], e["origin"]) for k, e in entries.items()} == {
        "mara": (str(made["Mara"].output["element_id"]), "0.01", emu.url),
        "tom": (str(made["Old Tom"].output["element_id"]), "0.01", emu.url)}
    assert entries["mara"]["task_id"] == made["Mara"].id and entries["mara"]["completed_at"]

    again = render(path, emu)
    assert [o.state for o in again.report.outcomes] == ["cached"] * 5
    assert emu.stats()["total_submits"] == 7 and again.report.spent == 0


def test_the_ids_reach_element_list_exactly_off_the_request_log_and_off_the_clip(project, emu):
    path = project(STORY, REFS)
    result = render(path, emu)
    ids = {k: e["element_id"] for k, e in lock_of(path)["elements"].items()}
    assert all(int(i) > 2**53 for i in ids.values())  # past what a float holds: any float on the way shows
    assert sorted(ids.values()) == sorted(str(t.output["element_id"]) for t in element_tasks(emu))
    sent = {t.body["prompt"]: [i["element_id"] for i in t.body.get("element_list", [])] for t in video_tasks(emu)}
    assert sent["Old Tom hauls Mara out of the sea."] == [ids["tom"], ids["mara"]]
    assert sent["Mara rows a boat on the sea."] == [ids["mara"]] and sent["The sea at dawn."] == []
    clips = {o.job.shot: o.clip.path for o in result.report.outcomes}
    assert read_marks(clips["c"]) == [ids["tom"], ids["mara"]]
    assert read_marks(clips["b"]) == [ids["tom"]] and read_marks(clips["d"]) == [ids["mara"]]


def test_a_changed_frontal_image_makes_one_element_and_renders_exactly_its_shots_again(project, emu):
    path = project(STORY, REFS)
    render(path, emu)
    old = lock_of(path)["elements"]["mara"]
    (path.parent / "refs/mara-front.png").write_bytes(png("green"))
    again = render(path, emu)
    assert len(element_tasks(emu)) == 3 and len(video_tasks(emu)) == 8
    assert {o.job.shot for o in again.report.outcomes if o.state == "done"} == {"a", "c", "d"}
    lock = lock_of(path)
    assert lock["elements"]["mara"]["element_id"] != old["element_id"]
    assert lock["retired_elements"][old["key"]]["element_id"] == old["element_id"]  # paid is kept
    assert all(n == 1 for n in emu.submits.values())


def test_a_fresh_clone_with_the_lock_gets_the_element_ids_and_clips_back_with_no_submit(project, emu, tmp_path):
    path = project(STORY, REFS)
    render(path, emu, engine=None)
    clone = tmp_path / "clone"
    shutil.copytree(path.parent, clone, ignore=shutil.ignore_patterns(".storyboard", "renders"))
    again = render(clone / "storyboard.yaml", emu)
    assert [o.state for o in again.report.outcomes] == ["cached"] * 5
    assert emu.stats()["total_submits"] == 7 and again.report.spent == 0
    # and a shot that changed in the clone is sent the element made before, not a new one
    story = clone / "storyboard.yaml"
    story.write_text(story.read_text().replace("Mara waves from", "Mara waves at dawn from"))
    third = render(story, emu)
    assert [e.state for e in third.report.elements] == ["cached"] and len(element_tasks(emu)) == 2
    task = next(t for t in video_tasks(emu) if t.body["prompt"].startswith("Mara waves at dawn"))
    assert task.body["element_list"] == [{"element_id": lock_of(story)["elements"]["mara"]["element_id"]}]


def test_another_api_origin_makes_its_own_element(project, emu):
    path = project(STORY.replace("characters: [tom, mara]", "characters: [mara]")
                   .replace("characters: [tom]", "characters: []"), REFS)
    render(path, emu, engine=None)
    with Emulator(task_seconds=0.3) as other:
        result = render(path, other, engine=None)
        assert [e.state for e in result.report.elements] == ["done"] and len(element_tasks(other)) == 1
    assert len(element_tasks(emu)) == 1


def test_a_failed_element_stops_only_its_shots_and_says_why(project, emu, cli, monkeypatch):
    emu.add_fault(Fault("submit", "fail", times=1, match="Mara"))
    path = project(STORY, REFS)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    result = cli("render", str(path), "--rate", "0", "--keep-going")
    assert result.code == 1
    assert "shots[0]: not started: element `mara`, whose output it takes, could not be made: the provider says: " \
           "The content may violate our policy" in result.err
    assert {t.body["prompt"] for t in video_tasks(emu)} == {"Old Tom lights the lamp over the sea.", "The sea at dawn."}
    assert "mara" not in lock_of(path)["elements"] and "tom" in lock_of(path)["elements"]
    again = render(path, emu)
    assert [o.state for o in again.report.outcomes] == ["done", "cached", "done", "done", "cached"]
    assert len(element_tasks(emu)) == 3  # tom once; mara failed (refunded) and made once


def test_a_429_on_the_element_submit_is_retried_and_makes_one_task(project, emu):
    emu.add_fault(Fault("submit", "429", times=2, match="Old Tom", retry_after=0))
    path = project(STORY, REFS)
    result = render(path, emu, engine=None)
    assert not result.report.failed and len(element_tasks(emu)) == 2


def test_a_max_cost_counts_the_elements_and_refuses_before_anything(project, emu):
    path = project(STORY, REFS)
    with pytest.raises(Exception, match="more than --max-cost"):
        render(path, emu, options=Options(concurrency=6, rate=0, max_cost=Decimal("1.68")))
    assert emu.stats()["total_submits"] == 0


def _run_until(cmd, env, done, timeout=60):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_9_while_the_element_is_in_flight_then_again_pays_it_once(project):
    path = project(STORY, REFS)
    journal = path.parent / ".storyboard" / "journal"

    def in_flight() -> bool:
        entries = [json.loads(p.read_text()) for p in journal.glob("*.json")] if journal.exists() else []
        return len(entries) == 2 and all(e["state"] == "submitted" for e in entries)

    with Emulator(task_seconds=2.0) as emu:
        env = {**os.environ, "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0", "--concurrency", "6"]
        _run_until(cmd, env, in_flight)
        assert len(element_tasks(emu)) == 2 and not video_tasks(emu)
        status = subprocess.run([sys.executable, "-m", "storyboard", "status", str(path), "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        rows = {row["shot"]: row["state"] for row in json.loads(status.stdout)["shots"]}
        assert rows["element:mara"] == rows["element:tom"] == "in flight" and rows["a"] == "new"
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert len(element_tasks(emu)) == 2 and len(video_tasks(emu)) == 5
        assert all(n == 1 for n in emu.submits.values()) and list(journal.glob("*.json")) == []


def test_kill_9_between_the_elements_and_their_shots_then_again_pays_no_element_twice(project):
    # One task at a time, the shot without an element first: the elements are made and in the lock, that shot
    # is in flight and the shots that send the elements have not claimed or sent anything when the kill comes.
    path = project(STORY.replace("shots:\n", 'shots:\n  - {id: f, prompt: "Gulls over the sea.", duration: 3}\n'),
                   REFS)
    lock, journal = path.parent / "storyboard.lock", path.parent / ".storyboard" / "journal"

    def between() -> bool:
        entries = [json.loads(p.read_text()) for p in journal.glob("*.json")] if journal.exists() else []
        made = lock.exists() and len(json.loads(lock.read_text()).get("elements", {})) == 2
        return made and [(e["shot"], e["state"]) for e in entries] == [("f", "submitted")]

    with Emulator(task_seconds=1.5) as emu:
        env = {**os.environ, "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0", "--concurrency", "1"]
        _run_until(cmd, env, between)
        assert len(element_tasks(emu)) == 2 and [t.body["prompt"] for t in video_tasks(emu)] == ["Gulls over the sea."]
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "6 rendered (1 resumed)" in rerun.stdout
        assert len(element_tasks(emu)) == 2 and len(video_tasks(emu)) == 6
        assert all(n == 1 for n in emu.submits.values())


def test_an_element_in_doubt_waits_for_resubmit(project, emu, cli, monkeypatch):
    path = project(STORY, REFS)
    emu.add_fault(Fault("submit", "drop", times=1, match="Old Tom"))
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    first = cli("render", str(path), "--rate", "0", "--keep-going", "--no-stitch")
    assert first.code == 1 and "--resubmit element:tom" in first.err
    assert len(element_tasks(emu)) == 2  # the dropped answer's task exists
    second = cli("render", str(path), "--rate", "0", "--keep-going", "--no-stitch")
    assert second.code == 1 and len(element_tasks(emu)) == 2  # nothing submitted again by itself
    third = cli("render", str(path), "--rate", "0", "--resubmit", "element:tom")
    assert third.code == 0, third.err
    assert len(element_tasks(emu)) == 3


def test_the_emulator_checks_element_requests_as_the_api_does_and_answers_numbers(emu):
    api = httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {KEY}"})
    good = {"name": "Mara", "description": "a fisher", "reference_type": "image_refer",
            "frontal_image": f"{emu.url}/_media/x/f.png", "refer_images": [f"{emu.url}/_media/x/l.png"]}
    for change, message in [({"name": "x" * 21}, "name must be at most 20 characters"),
                            ({"frontal_image": None}, "frontal_image is required"),
                            ({"refer_images": ["u"] * 4}, "refer_images must hold 1 to 3 images"),
                            ({"description": "d" * 101}, "description must be at most 100 characters")]:
        answer = api.post(f"/api/v3/{ELEMENTS}", json={**good, **change})
        assert answer.status_code == 400 and message in answer.json()["message"]
    task = api.post(f"/api/v3/{ELEMENTS}", json=good).json()["data"]["id"]
    time.sleep(0.4)
    raw = api.get(f"/api/v3/predictions/{task}/result").text
    assert f'"element_id": {2**53 + 1}' in raw  # a JSON number, not a string
    bad = api.post("/api/v3/kwaivgi/kling-video-o3-pro/text-to-video",
                   json={"prompt": "Sea.", "element_list": [{"element_id": 9007199254740993}]})
    assert bad.status_code == 400 and "element_list items" in bad.json()["message"]


def test_every_take_of_a_shot_sends_the_one_element(project, emu):
    path = project(STORY, REFS)
    result = render(path, emu, engine=None, takes={"a": 2})
    assert not result.report.failed and len(element_tasks(emu)) == 1 + 1  # mara and tom, once each
    mara = lock_of(path)["elements"]["mara"]["element_id"]
    sent = [t.body["element_list"] for t in video_tasks(emu) if t.body["prompt"].startswith("Mara rows")]
    assert sent == [[{"element_id": mara}], [{"element_id": mara}]]


def test_a_hand_made_element_id_and_a_declared_element_go_together(project, emu):
    text = STORY.replace("    description: weathered keeper\n    element: {frontal: refs/tom-front.png, views: "
                         "[refs/tom-side.png]}\n", '    description: weathered keeper\n    element_id: "307212335131305"\n')
    path = project(text, REFS)
    result = render(path, emu, engine=None)
    assert not result.report.failed and len(element_tasks(emu)) == 1
    task = next(t for t in video_tasks(emu) if t.body["prompt"].startswith("Old Tom hauls"))
    assert task.body["element_list"] == [{"element_id": "307212335131305"},
                                         {"element_id": lock_of(path)["elements"]["mara"]["element_id"]}]


def test_without_keep_going_a_failed_element_starts_no_shot(project, emu):
    emu.add_fault(Fault("submit", "fail", times=1, match="Mara"))
    path = project(STORY, REFS)
    result = render(path, emu, engine=None, options=Options(concurrency=6, rate=0))
    assert [o.state for o in result.report.outcomes] == ["skipped"] * 5 and not video_tasks(emu)
    assert result.report.outcomes[1].message == "not started: an element failed"
    assert "whose output it takes, could not be made" in result.report.outcomes[0].message
    assert "tom" in lock_of(path)["elements"]  # made, and recorded: never paid again


def test_an_element_made_from_a_video_uploads_it_and_is_sent_like_any(project, emu):
    from conftest import MP4_4S

    text = STORY.replace("    element: {frontal: refs/mara-front.png, views: [refs/mara-left.png]}\n",
                         "    element: {video: refs/mara.mp4}\n")
    path = project(text, {**REFS, "refs/mara.mp4": MP4_4S})
    result = render(path, emu, engine=None)
    assert not result.report.failed
    mara = next(t for t in element_tasks(emu) if t.body["name"] == "Mara")
    assert mara.body["reference_type"] == "video_refer" and len(mara.body["element_video_list"]) == 1
    assert "frontal_image" not in mara.body
    ident = mara.body["element_video_list"][0].split("/_media/")[1].split("/")[0]
    assert emu.state.media[ident][1] == MP4_4S  # the video's own bytes were uploaded


def test_a_teammate_without_the_new_lock_follows_the_element_task_through_the_remote(project, emu, tmp_path):
    shared = tmp_path / "team-remote"
    shared.mkdir()  # a folder remote must exist (`push --create` makes one)
    mine = project(STORY, REFS, name="mine")
    theirs = project(STORY, REFS, name="theirs")  # the same film, before my lock reached them
    render(mine, emu, engine=None, remote_flag=str(shared))
    ids = {k: e["element_id"] for k, e in lock_of(mine)["elements"].items()}
    result = render(theirs, emu, engine=None, remote_flag=str(shared))
    assert [o.state for o in result.report.outcomes] == ["cached"] * 5  # the clips, from the remote
    assert emu.stats()["total_submits"] == 7 and result.report.spent == 0  # nothing needed an element
    theirs.write_text(theirs.read_text().replace("Mara waves from", "Mara waves at dusk from"))
    changed = render(theirs, emu, engine=None, remote_flag=str(shared))
    assert [(e.job.character, e.state, e.resumed, e.paid) for e in changed.report.elements] == [("mara", "done", True, 0)]
    task = next(t for t in video_tasks(emu) if t.body["prompt"].startswith("Mara waves at dusk"))
    assert task.body["element_list"] == [{"element_id": ids["mara"]}] and len(element_tasks(emu)) == 2
    assert lock_of(theirs)["elements"]["mara"]["element_id"] == ids["mara"]


def test_repay_makes_an_element_again_knowingly(project, emu):
    path = project(STORY, REFS)
    render(path, emu, engine=None)
    old = lock_of(path)["elements"]["mara"]["element_id"]
    story = path
    story.write_text(story.read_text().replace("Mara waves from", "Mara waves at dusk from"))
    again = render(path, emu, engine=None, repay=("element:mara",))
    assert [(e.job.character, e.state) for e in again.report.elements] == [("mara", "done")]
    assert len(element_tasks(emu)) == 3 and lock_of(path)["elements"]["mara"]["element_id"] != old
    task = next(t for t in video_tasks(emu) if t.body["prompt"].startswith("Mara waves at dusk"))
    assert task.body["element_list"] == [{"element_id": lock_of(path)["elements"]["mara"]["element_id"]}]
