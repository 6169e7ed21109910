"""Compile is pure: a storyboard and its media digests in, a whole Plan out."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from conftest import PNG_1, PNG_2, MP4_4S
from storyboard.catalog import load_catalog
from storyboard.plan.compile import Target, compile_plan
from storyboard.format.media import MediaInfo
from storyboard.format.model import Storyboard
from storyboard.plan.types import CutPlan, CutShot, Job, Plan, PriceListRef, Source, TransitionPlan, job_key
from storyboard.plan.prices import builtin_prices
from storyboard.plan.project import compile_project
from storyboard.format.source import Reporter, SourceMap

REAL = "https://api.wavespeed.ai"
R2V = "kwaivgi/kling-video-o3-pro/reference-to-video"


def compile_data(data: dict, media: dict[str, MediaInfo] | None = None, provider="wavespeed", origin=REAL):
    sb = Storyboard.model_validate(data)
    reporter = Reporter("storyboard.yaml", SourceMap())
    plan = compile_plan(
        sb,
        storyboard_file="storyboard.yaml",
        media=media or {},
        catalog=load_catalog(),
        target=Target(provider, origin, builtin_prices(), "built-in"),
        reporter=reporter,
    )
    return plan, reporter


def test_whole_plan_of_a_small_storyboard():
    keeper_png = MediaInfo("a" * 64, 10, "image", "png")
    data = {
        "version": 1,
        "title": "T",
        "vars": {"era": "1920s"},
        "characters": {"keeper": {"name": "Old Tom", "images": ["k.png"], "element_id": 307212335131305}},
        "shots": [
            {"id": "one", "prompt": "{{ keeper }} in the {{ era }}", "characters": ["keeper"], "sound": True},
            {"id": "two", "prompt": "Sea", "duration": 3, "transition": {"type": "crossfade"}},
        ],
    }
    plan, reporter = compile_data(data, {"k.png": keeper_png})
    assert reporter.diagnostics == []
    request_one = {
        "prompt": "Old Tom in the 1920s",
        "images": ["sha256:" + "a" * 64],
        "element_list": [{"element_id": "307212335131305"}],
        "sound": True,
        "aspect_ratio": "16:9",
        "duration": 5,
        "shot_type": "intelligent",
    }
    request_two = {"prompt": "Sea", "sound": False, "aspect_ratio": "16:9", "duration": 3, "shot_type": "intelligent"}
    key_one = job_key("wavespeed", REAL, R2V, request_one)
    key_two = job_key("wavespeed", REAL, R2V, request_two)
    expected = Plan(
        storyboard="storyboard.yaml",
        title="T",
        provider="wavespeed",
        origin=REAL,
        price_list=PriceListRef(name="wavespeed-current", as_of="2026-02-06", source="built-in"),
        total_cost=Decimal("1.008"),
        jobs=[
            Job(shot="one", key=key_one, model=R2V, request=request_one, media={"sha256:" + "a" * 64: "k.png"},
                duration=5, cost=Decimal("0.672"), source=Source(file="storyboard.yaml", line=1, column=1)),
            Job(shot="two", key=key_two, model=R2V, request=request_two, media={},
                duration=3, cost=Decimal("0.336"), source=Source(file="storyboard.yaml", line=1, column=1)),
        ],
        cut=CutPlan(
            output="renders/final.mp4",
            shots=[
                CutShot(shot="one", key=key_one, duration=5, transition=TransitionPlan(type="cut", duration=0),
                        audio="generated"),
                CutShot(shot="two", key=key_two, duration=3,
                        transition=TransitionPlan(type="crossfade", duration=0.5), audio="none"),
            ],
            duration=7.5,
        ),
    )
    assert plan == expected


def test_pinned_keys():
    # If one of these changes, every cached clip is orphaned: bump KEY_FORMAT on purpose.
    # The first is sha256 of the canonical JSON {"format":1,"model":…,"origin":…,"provider":…,"request":…}.
    assert job_key("wavespeed", REAL, R2V, {"prompt": "A lighthouse at dusk.", "duration": 5}) == (
        "316914da459721683aa4f321f9fe924cf0cf8b4d763fe055404da8ecd3b1435d"
    )
    plan, _ = compile_data({"version": 1, "shots": [{"id": "s", "prompt": "A lighthouse at dusk."}]})
    assert plan.jobs[0].key == "304782526c56ea1b2536abc4d347905bc529fe179bc53964ceef47de2bbd736f"
    preview, _ = compile_data({"version": 1, "shots": [{"id": "s", "prompt": "A lighthouse at dusk."}]},
                              provider="preview", origin="preview:local")
    assert preview.jobs[0].key == "68d51ddd9cebc9e6b293b81296338914f61231241ea0abe20423f5cf5f5f5807"


def test_explicit_default_gives_the_same_request():
    implicit, _ = compile_data({"version": 1, "shots": [{"id": "s", "prompt": "x"}]})
    explicit, _ = compile_data({"version": 1, "defaults": {"aspect_ratio": "16:9"},
                                "shots": [{"id": "s", "prompt": "x", "duration": 5, "sound": False}]})
    assert implicit.jobs[0].key == explicit.jobs[0].key


def test_provider_and_origin_change_the_key():
    sb = {"version": 1, "shots": [{"id": "s", "prompt": "x"}]}
    keys = {
        compile_data(sb)[0].jobs[0].key,
        compile_data(sb, origin="http://127.0.0.1:8123")[0].jobs[0].key,
        compile_data(sb, provider="preview", origin="preview:local")[0].jobs[0].key,
    }
    assert len(keys) == 3


def test_preview_costs_nothing():
    plan, _ = compile_data({"version": 1, "shots": [{"id": "s", "prompt": "x", "duration": 15}]},
                           provider="preview", origin="preview:local")
    assert plan.total_cost == 0 and plan.jobs[0].cost == 0


BASE = """\
version: 1
title: {title}
vars: {{era: 1920s}}
characters:
  keeper: {{name: Tom, images: [{image}]}}
shots:
  - id: a
    prompt: "{{{{ keeper }}}} at dusk in the {{{{ era }}}}"
    characters: [keeper]
    duration: {duration}
  - id: b
    prompt: The sea.
cut:
  output: renders/{output}.mp4
"""


def keys_of(path, **kw) -> dict[str, str]:
    return {job.shot: job.key for job in compile_project(str(path), **kw).plan.jobs}


def write(project, *, title="T", image="refs/k.png", duration=5, output="film", files=None, name="proj"):
    text = BASE.format(title=title, image=image, duration=duration, output=output)
    return project(text, files if files is not None else {image: PNG_1}, name=name)


def test_key_ignores_what_does_not_reach_the_request(project):
    base = keys_of(write(project))
    assert keys_of(write(project, title="Another title", output="other", name="p2")) == base
    # a comment and a different key order
    path = write(project, name="p3")
    text = path.read_text()
    reordered = text.replace("    characters: [keeper]\n    duration: 5\n", "    duration: 5  # five\n    characters: [keeper]\n")
    path.write_text("# a comment\n" + reordered)
    assert keys_of(path) == base
    # the reference file renamed and moved, same bytes
    assert keys_of(write(project, image="media/portraits/tom.png", name="p4")) == base


def test_key_follows_what_reaches_the_request(project):
    base = keys_of(write(project))
    changed_bytes = keys_of(write(project, files={"refs/k.png": PNG_2}, name="p2"))
    assert changed_bytes["a"] != base["a"] and changed_bytes["b"] == base["b"]
    longer = keys_of(write(project, duration=6, name="p3"))
    assert longer["a"] != base["a"] and longer["b"] == base["b"]
    path = write(project, name="p4")
    path.write_text(path.read_text().replace("era: 1920s", "era: 1930s"))
    assert keys_of(path)["a"] != base["a"]


def test_same_plan_json_at_any_path(project, tmp_path):
    first = write(project)
    second = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(first.parent, second)
    a = compile_project(str(first)).plan.to_json()
    b = compile_project(str(second / "storyboard.yaml")).plan.to_json()
    assert a == b
    assert str(tmp_path) not in a


def test_base_url_is_part_of_the_key(project):
    path = write(project)
    assert keys_of(path) != keys_of(path, base_url="http://127.0.0.1:9999")
    assert keys_of(path) == keys_of(path, base_url="https://API.wavespeed.ai:443/")


def test_video_edit_takes_its_length_from_the_clip(project):
    path = project(
        "version: 1\nshots:\n  - id: e\n    model: kwaivgi/kling-video-o3-pro/video-edit\n"
        "    prompt: make it night\n    video: refs/clip.mp4\n",
        {"refs/clip.mp4": MP4_4S},
    )
    compiled = compile_project(str(path))
    job = compiled.plan.jobs[0]
    assert job.duration == 4.0 and job.cost is None
    assert compiled.plan.unpriced == ["e"]
    assert job.request["keep_original_sound"] is True and "duration" not in job.request
    assert any("no price" in w.message for w in compiled.warnings)


def test_defaults_apply_only_where_the_model_takes_them(project):
    path = project(
        "version: 1\ndefaults: {aspect_ratio: '9:16', duration: 7}\nshots:\n"
        "  - id: i\n    model: kwaivgi/kling-video-o3-pro/image-to-video\n    image: f.png\n",
        {"f.png": PNG_1},
    )
    job = compile_project(str(path)).plan.jobs[0]
    assert "aspect_ratio" not in job.request and job.request["duration"] == 7
    assert "prompt" not in job.request  # optional for image-to-video


def test_character_images_join_first_and_are_deduplicated(project):
    path = project(
        "version: 1\ncharacters:\n  k: {images: [a.png, b.png], element_id: '1'}\n"
        "shots:\n  - id: s\n    prompt: '{{ k }}'\n    characters: [k]\n    images: [b.png, c.png]\n"
        "    element_list: ['2', '1']\n",
        {"a.png": PNG_1, "b.png": PNG_2, "c.png": PNG_1},
    )
    job = compile_project(str(path)).plan.jobs[0]
    assert len(job.request["images"]) == 2  # a.png and c.png have the same bytes
    assert job.request["element_list"] == [{"element_id": "1"}, {"element_id": "2"}]
    assert job.request["prompt"] == "k"  # the name defaults to the key


def test_symlink_out_of_the_project_is_refused(project, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG_1)
    path = project("version: 1\nshots:\n  - id: s\n    prompt: x\n    images: [refs/link.png]\n")
    (path.parent / "refs").mkdir()
    (path.parent / "refs" / "link.png").symlink_to(outside)
    from storyboard.errors import InvalidStoryboard

    with pytest.raises(InvalidStoryboard) as info:
        compile_project(str(path))
    assert "points through a symlink outside the project folder" in str(info.value)
    assert str(info.value).startswith(f"{path}:5:14: shots[0].images[0]:")


def test_unlisted_character_in_prompt_warns(project):
    path = project(
        "version: 1\ncharacters:\n  k: {name: Tom, images: [a.png]}\nshots:\n  - id: s\n    prompt: '{{ k }} waves'\n",
        {"a.png": PNG_1},
    )
    compiled = compile_project(str(path))
    assert [w.format() for w in compiled.warnings] == [
        f"{path}:6:13: warning: shots[0].prompt: the prompt names `k`, who is not in this shot's `characters`: "
        "their reference images are not sent [W003]"  # k has no element id
    ]
    assert "images" not in compiled.plan.jobs[0].request


def test_x_keys_at_top_level_are_the_users_own(project):
    path = project("version: 1\nx-base: &b {prompt: shared, duration: 4}\nshots:\n  - <<: *b\n    id: s\n")
    job = compile_project(str(path)).plan.jobs[0]
    assert job.request["prompt"] == "shared" and job.request["duration"] == 4
