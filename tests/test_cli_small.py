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

def _solid_png(colour, size: int = 200) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
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


# -- 18: the emulator prints the key it accepts, burns what it was asked into its clips, logs requests --

def test_emulate_prints_its_key_and_logs_every_request_as_json_lines(tmp_path):
    import json
    import subprocess
    import sys

    import httpx

    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "storyboard", "emulate", "--port", "0", "--api-key", "sk-mine",
                             "--log", str(log), "--task-seconds", "0.1"], stdout=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline() + proc.stdout.readline()
        assert "WAVESPEED_API_KEY=sk-mine" in banner
        url = banner.split("WAVESPEED_BASE_URL=")[1].split()[0]
        headers = {"Authorization": "Bearer sk-mine"}
        submit = httpx.post(f"{url}/api/v3/kwaivgi/kling-video-o3-pro/text-to-video", headers=headers, timeout=10,
                            json={"prompt": "A quiet harbour.", "duration": 5, "aspect_ratio": "16:9"})
        assert submit.status_code == 200, submit.text
        assert httpx.get(f"{url}/api/v3/balance", timeout=10).status_code == 401  # no key
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["status"]) for e in lines] == [("POST", 200), ("GET", 401)]
    assert lines[0]["path"] == "/api/v3/kwaivgi/kling-video-o3-pro/text-to-video"
    assert lines[0]["body"]["prompt"] == "A quiet harbour."
    assert "body" not in lines[1] and "sk-mine" not in log.read_text()


def test_the_emulators_clips_show_the_prompt_and_the_take():
    import hashlib
    import subprocess
    import tempfile

    import numpy as np

    from storyboard.cut.probe import ffmpeg_exe
    from storyboard.providers.emulator.clips import ClipMaker, caption_lines

    def hue(text):
        return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 8

    first = "A quiet harbour."
    second = next(f"Gulls at dawn {n}." for n in range(100) if hue(f"Gulls at dawn {n}.") == hue(first))
    maker = ClipMaker()

    def picture(prompt):
        data = maker.clip_for({"prompt": prompt, "duration": 5}, lambda: None, model="m/text-to-video")
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(data)
            f.flush()
            raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", "1", "-i", f.name, "-frames:v", "1", "-f",
                                  "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.uint8).astype(float).reshape(180, 320)

    a, b = picture(first), picture(second)
    assert np.abs(a[:60] - b[:60]).mean() > 2  # the prompts are drawn at the top
    assert np.abs(a[100:] - b[100:]).mean() < 1  # the same picture below them (the same hue), but for coding noise
    assert caption_lines({"prompt": first}, "kwaivgi/kling-video-o3-pro/text-to-video", 2)[:2] == (
        "take 3 · kling-video-o3-pro/text-to-video", first)


# -- 14: init configures git; its template casts without a duplicate key and mentions the remote --

def _git(folder, *args):
    import subprocess

    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout


def test_init_makes_a_repository_whose_git_diff_shows_the_plan(tmp_path, cli):
    import sys

    target = tmp_path / "film"
    result = cli("init", str(target))
    assert result.code == 0, result.err
    assert (target / ".git").is_dir() and "initialised a git repository" in result.out
    assert _git(target, "config", "diff.storyboard.textconv") == f"{sys.executable} -m storyboard textconv\n"
    _git(target, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", "-A")
    _git(target, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "start")
    story = target / "storyboard.yaml"
    story.write_text(story.read_text().replace("  duration: 5\n", "  duration: 7\n", 1))
    out = _git(target, "diff")
    assert "+shot opening: kwaivgi/kling-video-o3-pro/reference-to-video 7 s $0.784" in out


def test_init_inside_a_repository_sets_its_driver_and_makes_no_nested_one(tmp_path, cli):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "diff.storyboard.textconv", "mine textconv")
    result = cli("init", str(tmp_path / "films" / "one"))
    assert result.code == 0 and not (tmp_path / "films" / "one" / ".git").exists()
    assert _git(tmp_path, "config", "diff.storyboard.textconv") == "mine textconv\n"  # a choice made is kept
    assert "kept diff.storyboard.textconv" in result.out
    bare = tmp_path / "plain"
    assert cli("init", str(bare), "--no-git").code == 0 and not (bare / ".git").exists()


def test_the_init_template_casts_a_character_when_its_example_is_uncommented(tmp_path, cli):
    import re

    target = tmp_path / "film"
    cli("init", str(target), "--no-git")
    story = target / "storyboard.yaml"
    text = story.read_text()
    assert re.search(r"^# remote: ", text, re.M)  # the team's remote is mentioned where a user looks
    example = re.search(r"^# characters:.*\n(#   .*\n)+", text, re.M).group(0)
    story.write_text(text.replace(example, re.sub(r"^# ?", "", example, flags=re.M)))
    for name, colour in (("ada-front.png", (200, 50, 50)), ("ada-side.png", (50, 200, 50))):
        (target / "refs" / name).write_bytes(_solid_png(colour, 400))  # elements take 300 px and more
    result = cli("validate", str(target))
    assert result.code == 0, result.err
    assert "hero" in story.read_text() and story.read_text().count("\ncharacters:") == 1


def test_the_whole_init_template_uncommented_is_a_film_with_this_rounds_features(tmp_path, cli):
    """Every commented example (remote, an element, captions, dialogue, title, credits, a deliverable)
    validates and plans once uncommented, as a user trying each would do."""
    import re

    target = tmp_path / "film"
    cli("init", str(target), "--no-git")
    story = target / "storyboard.yaml"
    head, body = story.read_text().split("# remote:", 1)
    body = re.sub(r"^(\s*)# (?!`)", r"\1", "# remote:" + body, flags=re.M)  # comments after code stay
    story.write_text(head + body)
    for name, colour in (("ada-front.png", (200, 50, 50)), ("ada-side.png", (50, 200, 50))):
        (target / "refs" / name).write_bytes(_solid_png(colour, 400))
    result = cli("plan", str(target), "--provider", "preview")
    assert result.code == 0, result.err
    for feature in ("element:hero", "title card", "end card", "vertical (9:16, reframe)"):
        assert feature in result.out, (feature, result.out)


# -- 16: shell completion --

def _complete_bash(script: str, *words: str) -> list[str]:
    """What bash offers after ``storyboard WORDS`` (the last word is the one being completed)."""
    import subprocess

    quoted = " ".join("'" + w + "'" for w in ("storyboard", *words))
    program = (f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; _storyboard; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completes_commands_subcommands_options_and_choices(cli, tmp_path):
    result = cli("completion", "bash")
    assert result.code == 0, result.err
    script = result.out
    assert _complete_bash(script, "ren") == ["render"]
    assert _complete_bash(script, "cache", "g") == ["gc"]
    assert _complete_bash(script, "render", "--no-") == ["--no-stitch"]
    assert _complete_bash(script, "push", "--cr") == ["--create"]
    assert _complete_bash(script, "render", "--engine", "m") == ["moviepy"]
    assert _complete_bash(script, "cache", "gc", "--f") == ["--force"]
    assert "complete -o filenames -o bashdefault -F _storyboard storyboard" in script


def test_zsh_completion_is_generated_from_the_same_parser(cli):
    import shutil
    import subprocess

    script = cli("completion", "zsh").out
    assert script.startswith("#compdef storyboard") and "'gc:free the clips" in script
    assert "(':--engine') " not in script and "('render:--engine') compadd -- 'ffmpeg' 'moviepy'" in script
    if shutil.which("zsh"):  # the script parses, and completes as bash does (zsh's builtins stubbed)
        stubs = ('compadd() { shift; print -l -- "$@"; }; _describe() { print -l -- "${(@P)4}"; }; '
                 '_files() { print files; }; compdef() { :; }\n')
        for words, offered in (("cache g", "gc:free the clips"), ("render --engine m", "moviepy"),
                               ("push --cr", "--create")):
            program = stubs + script + f"\nwords=(storyboard {words}); CURRENT={len(words.split()) + 1}; _storyboard"
            out = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            assert any(line.startswith(offered) for line in out.stdout.splitlines()), (words, out.stdout)
