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

# remote: ../film-remote      # the team's clips: a shared folder, or s3://bucket/prefix (gs://, az://)
#                             # `storyboard push --create` makes a folder remote; then `push` and `pull`

# characters:                 # uncomment to cast someone; shots name them in `characters: [hero]`
#   hero:
#     name: Ada                # {{ hero }} in a prompt renders "Ada"
#     description: a young sailor in a red coat
#     images: [refs/ada-front.png]
#     element:                 # optional: a Kling element made from these images, once ($0.01)
#       frontal: refs/ada-front.png
#       views: [refs/ada-side.png]   # 1 to 3 other views, each at least 300 px

shots:
  - id: opening
    prompt: The sun rises over {{ place }}; gulls circle the masts.
    # caption: A harbour town, 1898          # written on screen (changes no job)
  # - id: next
  #   prompt: "{{ hero }} looks up. {{ dialogue }}"
  #   characters: [hero]
  #   dialogue:                               # spoken lines, captioned; timed evenly unless given start/end
  #     - hero: The lamp is out.
  #   transition: {type: crossfade, duration: 0.5}   # into this shot

cut:
  output: renders/film.mp4
  # captions: soft              # soft (a subtitle track, .srt and .vtt), burn, or off
  # title: {text: My Film, subtitle: a short film, seconds: 3}
  # credits: {lines: [Ada - the sailor], seconds: 4, style: rolling}

# deliverables:                 # other films from the same storyboard
#   - {name: vertical, aspect_ratio: "9:16", output: renders/vertical.mp4}   # reframed from the master, $0
"""

GITIGNORE = """\
# storyboard's local state: media digests, the clip cache, the journal
.storyboard/
# rendered films
renders/
"""

GITATTRIBUTES = """\
# `git diff` shows storyboards as their plan (prompts, durations, costs).
# `storyboard init` set this up here; in another clone, once:
#   git config diff.storyboard.textconv "/path/to/.venv/bin/storyboard textconv"
storyboard.yaml diff=storyboard
"""
TEXTCONV = "diff.storyboard.textconv"


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


def running_command() -> str:
    """This storyboard, as a shell command that runs it again: the installed script when it was started by
    one (``.venv/bin/storyboard``), else this Python with ``-m storyboard``. Absolute: git runs it from anywhere,
    whether or not a virtual environment is active."""
    import shlex
    import sys

    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name.startswith("storyboard") and script.suffix != ".py" and script.is_file():
        return shlex.quote(str(script.resolve()))
    return f"{shlex.quote(sys.executable)} -m storyboard"


def configure_git(folder: Path, command: str) -> list[str]:
    """Make ``folder`` a git repository if it is in none (``git init``), and set the diff driver that
    shows storyboards as their plan, unless one is set already. What was done, a line each; git not
    installed is said, not an error: the project works without it."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return ["git is not installed: no repository made (storyboards diff as their plan once it is)"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([git, *args], cwd=folder, capture_output=True, text=True)

    done = []
    if run("rev-parse", "--is-inside-work-tree").returncode != 0:
        made = run("init", "-q")
        if made.returncode != 0:
            return [f"git init failed ({made.stderr.strip()[:200]}); no diff driver set"]
        done.append(f"initialised a git repository in {folder}")
    current = run("config", "--local", "--get", TEXTCONV).stdout.strip()
    if current:
        done.append(f"git diff shows storyboards as their plan (kept {TEXTCONV} = {current})")
    elif run("config", "--local", TEXTCONV, f"{command} textconv").returncode == 0:
        done.append(f"git diff shows storyboards as their plan ({TEXTCONV} = {command} textconv)")
    return done
