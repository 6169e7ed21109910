"""``storyboard init``: a new story project."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoryboardError
from .schemas import schema_text

STARTER = """\
# yaml-language-server: $schema=storyboard.schema.json
#
# A storyboard: characters, shots and the cut. Check it with
#   storyboard validate .      see what it costs with   storyboard plan .
#   storyboard render . --provider preview   (an offline animatic, free)
#   storyboard render .                       (the real thing; needs WAVESPEED_API_KEY)
version: 1
title: My Film

defaults:                     # every shot inherits these unless it sets its own
  model: kwaivgi/kling-video-o3-pro/reference-to-video
  aspect_ratio: "16:9"
  duration: 5

vars:                         # template variables: {{ place }} in a prompt
  place: a harbour town at dawn

characters: {}
# characters:
#   hero:
#     name: Ada                # {{ hero }} in a prompt renders "Ada"
#     description: a young sailor in a red coat
#     images: [refs/ada-front.png]
#     element_id: "123456789"  # optional: a Kling element id

shots:
  - id: opening
    prompt: The sun rises over {{ place }}; gulls circle the masts.
  # - id: next
  #   prompt: ...
  #   transition: {type: crossfade, duration: 0.5}   # into this shot

cut:
  output: renders/film.mp4
"""

GITIGNORE = """\
# storyboard's local state: media digests, the clip cache, the journal
.storyboard/
# rendered films
renders/
"""

GITATTRIBUTES = """\
# `git diff` shows storyboards as their plan (prompts, durations, costs).
# Enable once per clone:  git config diff.storyboard.textconv "storyboard textconv"
# (storyboard in a virtual environment: "/path/to/.venv/bin/storyboard textconv")
storyboard.yaml diff=storyboard
"""


def init_project(folder: Path) -> list[Path]:
    """Create a starter project in ``folder``; refuses to overwrite a storyboard."""
    folder.mkdir(parents=True, exist_ok=True)
    story = folder / "storyboard.yaml"
    if story.exists():
        raise StoryboardError(f"{story} already exists; nothing was changed")
    from ..format.model import Storyboard

    created = []
    for name, text in (("storyboard.yaml", STARTER), ("storyboard.schema.json", schema_text(Storyboard)),
                       (".gitignore", GITIGNORE), (".gitattributes", GITATTRIBUTES), ("refs/.gitkeep", "")):
        path = folder / name
        if path.exists() and name != "storyboard.yaml":
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        created.append(path)
    return created
