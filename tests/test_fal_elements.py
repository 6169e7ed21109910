"""Declared elements on fal, end to end against the emulator's fal protocol
over HTTP: no element job (fal has no element model), the element's images
sent inline with each shot that uses it (uploaded, as ``elements``), its name
in the prompt written ``@ElementN``; one submit per shot; what fal cannot take
refused at its place; the comparison of hosts with elements."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from PIL import Image

from conftest import MP4_4S, PNG_2
from storyboard.errors import InvalidStoryboard
from storyboard.plan.compare import compare_hosts
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.journal import Journal
from storyboard.render.run import render_project
from storyboard.store.storage import LocalStorage

KEY = "fal-elements-key"


def png(colour: str, width: int = 320, height: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


FILES = {"refs/mara-front.png": png("red"), "refs/mara-left.png": png("orange"), "refs/mara-back.png": png("brown"),
         "refs/tom-front.png": png("navy"), "refs/tom-side.png": png("blue"), "refs/tower.png": PNG_2,
         "refs/waves.mp4": MP4_4S}
FILM = """version: 1
title: Elements on fal
provider: fal
defaults:
  model: kwaivgi/kling-video-o3-pro/reference-to-video
characters:
  mara:
    name: Mara
    description: young fisher in a yellow oilskin
    element: {frontal: refs/mara-front.png, views: [refs/mara-left.png, refs/mara-back.png]}
  tom:
    name: Old Tom
    description: weathered keeper
    images: [refs/tower.png]
shots:
  - id: boat
    prompt: "Mara rows a boat; Old Tom watches"
    characters: [mara, tom]
    duration: 3
  - id: storm
    prompt: "Mara braces against the waves"
    characters: [mara]
    video: refs/waves.mp4
    duration: 4
  - id: lamp
    prompt: The lamp room
    characters: [mara]
    duration: 4
    multi_prompt:
      - {prompt: "Wide on the lamp room", duration: 2}
      - {prompt: "Mara lights the flame", duration: 2}
  - id: sea
    prompt: The empty sea
    duration: 3
"""


def fal_env(emu: Emulator) -> dict:
    return {"FAL_BASE_URL": emu.url, "FAL_KEY": KEY}


def render(path, emu, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    return render_project(str(path), env=fal_env(emu), **kw)


def by_shot(emu) -> dict:
    """Each submit of the request log by the first words of its prompt."""
    out = {}
    for entry in emu.stats()["log"]:
        body = entry["body"]
        text = body.get("prompt") or body["multi_prompt"][-1]["prompt"]
        out.setdefault(text, []).append(entry)
    return out


def test_a_film_with_an_element_renders_on_fal_with_it_inline_and_one_submit_per_shot(project):
    path = project(FILM, FILES)
    with Emulator(task_seconds=0.3, api_key=KEY) as emu:
        plan = compile_project(str(path), env=fal_env(emu)).plan
        result = render(path, emu)
        log = by_shot(emu)
        stats = emu.stats()
        uploads = dict(emu.state.tickets)
    assert plan.elements == [] and plan.unpriced == [j.shot for j in plan.jobs if j.cost is None]  # no element job
    assert {o.state for o in result.report.outcomes} == {"done"} and result.film is not None
    assert stats["total_submits"] == 4 and all(len(entries) == 1 for entries in log.values())
    boat = log["@Element1 rows a boat; Old Tom watches"][0]
    storm = log["@Element1 braces against the waves"][0]
    lamp = log["@Element1 lights the flame"][0]
    sea = log["The empty sea"][0]
    assert boat["endpoint"] == "fal-ai/kling-video/o3/pro/reference-to-video"
    assert storm["endpoint"] == "fal-ai/kling-video/o3/pro/video-to-video/reference"
    assert storm["body"]["video_url"].endswith("/waves.mp4")
    for entry in (boat, storm, lamp):
        [element] = entry["body"]["elements"]
        assert element["frontal_image_url"].startswith(emu.url) and element["frontal_image_url"].endswith(
            "/mara-front.png")
        assert [u.rsplit("/", 1)[-1] for u in element["reference_image_urls"]] == ["mara-left.png", "mara-back.png"]
        assert "element_list" not in entry["body"]
    # Old Tom has images, not an element: sent as a reference image, his name left as written
    assert [u.rsplit("/", 1)[-1] for u in boat["body"]["image_urls"]] == ["tower.png"]
    assert lamp["body"]["multi_prompt"][0]["prompt"] == "Wide on the lamp room" and "prompt" not in lamp["body"]
    assert "elements" not in sea["body"]
    assert {"mara-front.png", "mara-left.png", "mara-back.png"} <= set(uploads.values())
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert not lock.get("elements") and set(lock["shots"]) == {"boat", "storm", "lamp", "sea"}


def test_a_changed_element_image_rerenders_exactly_the_shots_that_send_it(project):
    path = project(FILM, FILES)
    with Emulator(task_seconds=0.2, api_key=KEY) as emu:
        render(path, emu)
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 4 and {o.state for o in again.report.outcomes} == {"cached"}
        before = {j.shot: j.key for j in compile_project(str(path), env=fal_env(emu)).plan.jobs}
        (path.parent / "refs/mara-left.png").write_bytes(png("yellow"))
        after = {j.shot: j.key for j in compile_project(str(path), env=fal_env(emu)).plan.jobs}
        render(path, emu)
        assert emu.stats()["total_submits"] == 7
    assert {s for s in before if before[s] != after[s]} == {"boat", "storm", "lamp"}


def test_kill_9_mid_render_then_render_again_pays_no_shot_with_an_element_twice(project):
    path = project(FILM, FILES)
    with Emulator(task_seconds=6.0, api_key=KEY) as emu:
        keys = [job.key for job in compile_project(str(path), env=fal_env(emu)).plan.jobs]
        env = {**os.environ, **fal_env(emu)}
        victim = subprocess.Popen([sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0",
                                   "--concurrency", "4", "--no-stitch"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        journal = Journal(LocalStorage(path.parent / ".storyboard"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all((e := journal.get(key)) is not None and e.task_id for key in keys):
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert emu.stats()["total_submits"] == 4
        result = render(path, emu)
        assert emu.stats()["total_submits"] == 4 and all(n == 1 for n in emu.submits.values())
    assert {o.state for o in result.report.outcomes} == {"done"}


def _problems(path, **kw) -> list[str]:
    with pytest.raises(InvalidStoryboard) as err:
        compile_project(str(path), env={"FAL_KEY": KEY}, **kw)
    return [f"{d.line}:{d.column} {d.message}" for d in err.value.diagnostics if d.severity == "error"]


def test_an_element_made_from_a_video_is_refused_on_fal_at_the_video(project):
    text = FILM.replace("element: {frontal: refs/mara-front.png, views: [refs/mara-left.png, refs/mara-back.png]}",
                        "element: {video: refs/waves.mp4}")
    problems = _problems(project(text, FILES))
    assert len(problems) == 1 and problems[0].startswith("10:") and "fal takes elements made from images only" \
        in problems[0]
    compile_project(str(project(text, FILES, name="ws")), provider="wavespeed",
                    env={"WAVESPEED_API_KEY": "k"})  # the same storyboard is fine on WaveSpeed


def test_more_elements_in_a_shot_than_fal_takes_is_refused_at_the_shot(project):
    chars = "".join(f"  c{i}:\n    name: C{i}\n    description: someone\n    element: {{frontal: refs/mara-front.png,"
                    f" views: [refs/mara-left.png]}}\n" for i in range(4))
    text = ("version: 1\nprovider: fal\ncharacters:\n" + chars +
            "shots:\n  - id: crowd\n    prompt: C0 C1 C2 C3 meet\n    characters: [c0, c1, c2, c3]\n    duration: 3\n")
    problems = _problems(project(text, FILES))
    assert any(p.startswith("23:") and "4 elements" in p and "at most 3" in p for p in problems), problems


def test_compare_shows_the_film_renderable_on_both_hosts_with_the_element_priced_on_each(project):
    path = project(FILM, FILES)
    c = compare_hosts(str(path), env={})
    hosts = {h.provider: h for h in c.hosts}
    assert not hosts["fal"].cannot and not hosts["wavespeed"].cannot
    assert c.shots[0] == "element:mara"
    assert hosts["wavespeed"].cost("element:mara") == Decimal("0.01")
    assert hosts["fal"].cost("element:mara") == Decimal(0)
    for h in c.hosts:  # fal's O3 Pro price is not known: its shots are unpriced, never guessed
        assert h.total == sum(h.cost(s) for s in c.shots if h.cost(s) is not None)
    assert hosts["wavespeed"].complete and hosts["wavespeed"].total > Decimal("0.01")


def test_one_shot_on_fal_in_a_film_on_wavespeed_sends_the_element_inline_and_the_element_job_serves_the_rest(
        project):
    text = FILM.replace("provider: fal", "provider: wavespeed").replace(
        "  - id: storm\n", "  - id: storm\n    provider: fal\n")
    plan = compile_project(str(project(text, FILES)), env={"FAL_KEY": KEY, "WAVESPEED_API_KEY": "k"}).plan
    [element] = plan.elements
    assert element.shots == ["boat", "lamp"]  # storm, on fal, needs no element id
    storm = plan.job("storm").request["element_list"]
    assert storm == [{"inline": "mara", "name": "Mara", "frontal_image": element.request["frontal_image"],
                      "refer_images": element.request["refer_images"]}]
    assert plan.job("boat").request["element_list"] == [{"element": "mara", "key": element.key}]


def test_a_shot_on_wavespeed_in_a_film_on_fal_cannot_have_its_element_made(project):
    text = FILM.replace("  - id: storm\n", "  - id: storm\n    provider: wavespeed\n")
    problems = _problems(project(text, FILES))
    assert len(problems) == 1 and problems[0].startswith("21:15 this shot goes to WaveSpeed") and \
        "the film renders on fal" in problems[0]


def test_uploads_find_and_replace_an_inline_elements_images_but_never_read_prompts_as_files():
    from storyboard.render.uploads import media_digests, with_urls

    request = {"prompt": "sha256:not-a-file", "images": ["sha256:b"], "image": "sha256:a",
               "multi_prompt": [{"prompt": "sha256:text", "duration": 3}],
               "element_list": [{"inline": "mara", "name": "Mara", "frontal_image": "sha256:c",
                                 "refer_images": ["sha256:d", "sha256:b"]}]}
    assert media_digests(request) == ["sha256:not-a-file", "sha256:b", "sha256:a", "sha256:c", "sha256:d",
                                      "sha256:b"]
    urls = {d: f"https://u/{d[7:]}" for d in ("sha256:a", "sha256:b", "sha256:c", "sha256:d")}
    sent = with_urls(request, urls)
    assert sent["element_list"][0] == {"inline": "mara", "name": "Mara", "frontal_image": "https://u/c",
                                       "refer_images": ["https://u/d", "https://u/b"]}
    assert sent["multi_prompt"] == request["multi_prompt"] and sent["images"] == ["https://u/b"]


def test_textconv_and_diff_name_the_inline_element_and_its_changed_image(project):
    from storyboard.review.diff import request_changes
    from storyboard.review.textconv import textconv

    path = project(FILM, FILES)
    before = compile_project(str(path), env={"FAL_KEY": KEY}).plan
    (path.parent / "refs/mara-left.png").write_bytes(png("yellow"))
    after = compile_project(str(path), env={"FAL_KEY": KEY}).plan
    [change] = request_changes(before.job("boat"), after.job("boat"))
    assert change.field == "element_list" and change.after == "element mara" and change.note == "bytes"
    text = textconv(path)
    assert "element_list: element mara inline as Mara (refs/mara-front.png @" in text
    assert "refs/mara-left.png @" in text and "element:mara" not in text


def test_the_element_name_is_rewritten_in_any_case_as_the_prompt_check_reads_it():
    from storyboard.catalog import load_catalog
    from storyboard.providers.fal_wire import fal_body

    body = fal_body(load_catalog("fal"), "fal-ai/kling-video/o3/pro/reference-to-video",
                    {"prompt": "MARA waves; mara smiles; Maranatha",
                     "element_list": [{"inline": "mara", "name": "Mara", "frontal_image": "https://f/1.png",
                                       "refer_images": ["https://r/1.png"]}]})
    assert body["prompt"] == "@Element1 waves; @Element1 smiles; Maranatha"
    assert body["elements"] == [{"frontal_image_url": "https://f/1.png", "reference_image_urls": ["https://r/1.png"]}]
