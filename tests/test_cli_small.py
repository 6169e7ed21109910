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
