"""``storyboard init`` (a new story project) and ``storyboard textconv`` (a
storyboard as text for ``git diff``)."""

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


def textconv(path: Path) -> str:
    """The storyboard as stable text: one block per shot with its model, length,
    cost and rendered prompts. Media are not read (git hands over a lone
    copy of the file), so keys are left out; a storyboard that does not
    validate shows its errors instead."""
    from ..catalog import load_catalog
    from ..plan.compile import Target, compile_plan
    from ..errors import InvalidStoryboard
    from ..format.load import read_document
    from ..plan.types import DEFAULT_BASE_URL, provider_origin
    from ..plan.prices import builtin_prices, dollars
    from ..plan.project import load_storyboard

    doc = read_document(path, path.name)
    sb, salvage = load_storyboard(doc)
    if sb is None:
        return str(InvalidStoryboard(doc.reporter.diagnostics)) + "\n"
    target = Target("wavespeed", provider_origin("wavespeed", DEFAULT_BASE_URL), builtin_prices(), "built-in")
    plan = compile_plan(sb, storyboard_file=path.name, media={}, catalog=load_catalog(), target=target,
                        reporter=doc.reporter, skip_shots=salvage.shots, broken_characters=salvage.characters)
    lines = [f"title: {plan.title}", f"total: {dollars(plan.total_cost)} for {len(plan.jobs)} shots, "
             f"{plan.cut.duration:g} s", ""]
    cut = {c.shot: c for c in plan.cut.shots}
    for job in plan.jobs:
        transition = cut[job.shot].transition if job.shot in cut else None
        lines.append(f"shot {job.shot}: {job.model} {job.duration:g} s {dollars(job.cost)}"
                     + (f", {transition.type} {transition.duration:g} s in" if transition and transition.duration else ""))
        for name, value in sorted(job.request.items()):
            if name != "prompt":
                shown = [job.media.get(v, v) if isinstance(v, str) else v for v in value] if isinstance(value, list) \
                    else job.media.get(value, value) if isinstance(value, str) else value
                lines.append(f"  {name}: {shown}")
        lines.append(f"  prompt: {job.request.get('prompt', '')}")
    return "\n".join(lines) + "\n"
