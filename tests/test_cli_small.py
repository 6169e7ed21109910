"""Small things a new user met (issue 25, items 18, 19, 21): the emulator's key, clips and log; progress lines
naming inputs as the storyboard does; preview cards whose lines stay clear of the thumbnails."""

from __future__ import annotations

import io

from storyboard.cli.progress import Progress
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-cli-small-key"
CHAIN = ("version: 1\nshots:\n  - id: net\n    prompt: A net hauled in.\n"
         "  - id: dawn\n    model: kwaivgi/kling-video-o3-pro/image-to-video\n"
         "    prompt: The harbour at dawn.\n    image: {shot: net, frame: last}\n")


# -- 19: progress lines name inputs as the storyboard wrote them --

def test_progress_names_another_shots_frame_as_written_not_a_hashed_path(project):
    path = project(CHAIN)
    out = io.StringIO()
    with Emulator(task_seconds=0.2) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        result = render_project(str(path), env=env, options=Options(concurrency=2, rate=0), engine=None,
                                progress=lambda plan, estimate: Progress(plan, estimate, file=out,
                                                                         force_terminal=False))
    assert not result.report.failed
    text = out.getvalue()
    assert "dawn: uploading (net:last frame)" in text
    assert ".storyboard" not in text


# -- 21: the preview card's beats stay clear of the thumbnails --

def _solid_png(colour) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 200), colour).save(out, "PNG")
    return out.getvalue()


def test_a_cards_third_beat_stays_clear_of_the_thumbnails(project):
    import numpy as np

    from storyboard.plan.project import compile_project
    from storyboard.providers.preview import ACCENT, BACKGROUND, card

    long = "Ada and the keeper meet on the stairs of the lighthouse as the storm rolls in from the sea, lamps swinging."
    path = project("version: 1\nshots:\n  - id: meet\n    prompt: " + long + "\n    duration: 9\n"
                   "    shot_type: customize\n    images: [refs/a.png, refs/b.png]\n    multi_prompt:\n"
                   "      - {prompt: Ada climbs the stairs two at a time, duration: 3}\n"
                   "      - {prompt: The keeper turns with the lamp raised high, duration: 3}\n"
                   "      - {prompt: They look out together at the storm, duration: 3}\n",
                   files={"refs/a.png": _solid_png((0, 0, 255)), "refs/b.png": _solid_png((0, 0, 255))})
    job = compile_project(str(path), provider="preview").plan.jobs[0]
    for size in ((640, 360), (360, 640), (480, 480)):
        for beat in (0, 2):
            pixels = np.asarray(card(job, path.parent, size, beat)).astype(int)
            blue = (pixels == (0, 0, 255)).all(axis=2)
            rows = np.flatnonzero(blue.any(axis=1))
            band = pixels[rows[0] - 3: rows[-1] + 1][~blue[rows[0] - 3: rows[-1] + 1]]
            background = tuple(int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5))
            assert (band == background).all(), (size, beat)  # nothing drawn over or beside them
            lit = tuple(int(ACCENT[i:i + 2], 16) for i in (1, 3, 5))
            text = pixels[size[0] // 6: rows[0] - 3]
            assert (np.abs(text - lit).sum(axis=2) < 30).any(), (size, beat)  # the lit beat is drawn
