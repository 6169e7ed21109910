"""Kling elements declared in the storyboard: the format's checks at their
positions, and element jobs in the plan (priced, keyed, listed first)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from PIL import Image

from storyboard.plan.project import compile_project

REF2V_STD = "kwaivgi/kling-video-o3-std/reference-to-video"


def png(width: int = 320, height: int = 400, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


REFS = {"refs/mara-front.png": png(colour="red"), "refs/mara-left.png": png(colour="orange"),
        "refs/tom-front.png": png(colour="navy"), "refs/tom-side.png": png(colour="blue")}

STORY = """version: 1
characters:
  mara:
    name: Mara
    description: young fisher in a yellow oilskin
    element:
      frontal: refs/mara-front.png
      views: [refs/mara-left.png]
  tom:
    name: Old Tom
    description: weathered keeper
    element: {frontal: refs/tom-front.png, views: [refs/tom-side.png]}
shots:
  - {id: a, prompt: "{{ mara }} rows a boat.", characters: [mara]}
  - {id: b, prompt: "{{ tom }} lights the lamp.", characters: [tom]}
  - {id: c, prompt: "{{ tom }} hauls {{ mara }} ashore.", characters: [tom, mara]}
"""


def errors(cli, path) -> str:
    result = cli("validate", str(path))
    assert result.code == 1, result.out + result.err
    return result.err


def test_element_jobs_are_listed_first_priced_and_keyed_into_their_shots(project):
    plan = compile_project(str(project(STORY, REFS))).plan
    assert [e.label for e in plan.elements] == ["element:mara", "element:tom"]
    mara = plan.elements[0]
    assert mara.cost == Decimal("0.01") and mara.model == "kwaivgi/kling-elements-advanced"
    assert mara.request["name"] == "Mara" and mara.request["description"] == "young fisher in a yellow oilskin"
    assert mara.request["reference_type"] == "image_refer" and mara.request["frontal_image"].startswith("sha256:")
    assert mara.frontal == "refs/mara-front.png" and mara.views == ["refs/mara-left.png"] and mara.shots == ["a", "c"]
    assert plan.job("c").request["element_list"] == [{"element": "tom", "key": plan.elements[1].key},
                                                     {"element": "mara", "key": mara.key}]
    assert plan.total_cost == Decimal("0.02") + 3 * Decimal("0.56")
    assert "elements" in json.loads(plan.to_json())


def test_a_changed_frontal_image_changes_that_element_and_exactly_its_shots(project):
    path = project(STORY, REFS)
    before = compile_project(str(path)).plan
    (path.parent / "refs/mara-front.png").write_bytes(png(colour="green"))
    after = compile_project(str(path)).plan
    assert [e.key != f.key for e, f in zip(before.elements, after.elements)] == [True, False]
    assert {j.shot for j in before.jobs if j.key != after.job(j.shot).key} == {"a", "c"}


def test_the_element_key_is_the_api_origin_s_own(project):
    path = project(STORY, REFS)
    one = compile_project(str(path)).plan.elements[0].key
    other = compile_project(str(path), base_url="http://127.0.0.1:9").plan.elements[0].key
    assert one != other


def test_a_plan_without_elements_reads_as_before(project):
    plan = compile_project(str(project("version: 1\nshots:\n  - {id: a, prompt: Sea.}\n"))).plan
    assert plan.elements == [] and "elements" not in json.loads(plan.to_json())


def test_an_element_no_shot_sends_is_not_planned(project):
    plan = compile_project(str(project(STORY.replace("characters: [tom, mara]", "characters: [tom]")
                                       .replace("characters: [mara]", "characters: []"), REFS))).plan
    assert [e.character for e in plan.elements] == ["tom"]


def test_element_id_and_element_together_is_an_error_at_its_position(project, cli):
    text = STORY.replace("    name: Mara\n", "    name: Mara\n    element_id: \"123\"\n")
    assert "storyboard.yaml:5:5: characters.mara.element_id: a character has a hand-made `element_id` or a " \
           "declared `element:`, not both" in errors(cli, project(text, REFS))


@pytest.mark.parametrize("change, message", [
    (("name: Mara\n", "name: Mara the fisher of Penzance\n"),
     "4:11: characters.mara.name: the element's name `Mara the fisher of Penzance` is 27 characters; Kling takes "
     "at most 20; give the element a shorter `name:`"),
    (("      views: [refs/mara-left.png]\n", "      views: [refs/mara-left.png]\n      name: Mara the fisher of Penz\n"),
     "characters.mara.element.name: the element's name `Mara the fisher of Penz` is 23 characters"),
    (("      views: [refs/mara-left.png]\n", f"      views: [refs/mara-left.png]\n      description: {'x' * 101}\n"),
     "characters.mara.element.description: the element's description is 101 characters; Kling takes at most 100"),
    (("      views: [refs/mara-left.png]\n", "      views: []\n"),
     "characters.mara.element.views: 0 other views: an element made from images takes 1 to 3"),
    (("      views: [refs/mara-left.png]\n", "      views: [refs/mara-left.png, refs/tom-side.png, "
                                            "refs/tom-front.png, refs/mara-left2.png]\n"),
     "4 other views: an element made from images takes 1 to 3"),
    (("frontal: refs/mara-front.png", "frontal: refs/small.png"),
     "characters.mara.element.frontal: `refs/small.png` is 200×200 px; Kling takes element images of at least 300"),
    (("frontal: refs/mara-front.png", "frontal: refs/wide.png"),
     "`refs/wide.png` is 1000×320 px; Kling takes element images between 1:2.5 and 2.5:1"),
    (("frontal: refs/mara-front.png", "frontal: refs/clip.mp4"),
     "characters.mara.element.frontal: `refs/clip.mp4` is a video (mp4); an image is expected here"),
    (("frontal: refs/mara-front.png", "frontal: https://example.com/m.png"),
     "an element's images must be files in the project"),
    (("      frontal: refs/mara-front.png\n      views: [refs/mara-left.png]\n", "      name: Mara\n"),
     "characters.mara.element: an element needs `frontal:` (an image, with `views:`) or `video:`"),
    (("      frontal: refs/mara-front.png\n", "      frontal: refs/mara-front.png\n      video: refs/clip.mp4\n"),
     "an element is made from images (`frontal:`, `views:`) or from a `video:`, not both"),
])
def test_element_limits_are_checked_at_their_positions(project, cli, change, message):
    from conftest import MP4_4S

    files = {**REFS, "refs/small.png": png(200, 200), "refs/wide.png": png(1000, 320), "refs/clip.mp4": MP4_4S,
             "refs/mara-left2.png": png(330, 330)}
    assert message in errors(cli, project(STORY.replace(*change), files))


def test_a_description_is_required_and_defaults_to_the_character_s(project, cli):
    text = STORY.replace("    description: young fisher in a yellow oilskin\n", "")
    assert "characters.mara.element: an element needs a description" in errors(cli, project(text, REFS))


def test_images_and_elements_together_within_the_model_s_limit(project, cli):
    files = {**REFS, **{f"refs/x{i}.png": png(300 + i, 300) for i in range(6)}}
    images = ", ".join(f"refs/x{i}.png" for i in range(6))
    text = STORY.replace('characters: [tom, mara]}', f'characters: [tom, mara], images: [{images}]}}')
    assert "6 reference images and 2 elements is more than `kwaivgi/kling-video-o3-pro/reference-to-video` " \
           "takes together (at most 7)" in errors(cli, project(text, files))


def test_a_model_without_element_list_warns_and_plans_no_element(project, cli):
    text = STORY.replace("shots:\n", f"defaults: {{model: {REF2V_STD}}}\nshots:\n")
    path = project(text, REFS)
    result = cli("validate", str(path))
    assert result.code == 0 and "takes no `element_list`: not sending the element id of mara [W001]" in result.err
    assert compile_project(str(path)).plan.elements == []


def test_a_prompt_that_never_says_the_element_name_is_warned(project, cli):
    text = STORY.replace('prompt: "{{ mara }} rows a boat."', "prompt: A boat in the swell.")
    result = cli("validate", str(project(text, REFS)))
    assert result.code == 0
    assert ("storyboard.yaml:14:21: warning: shots[0].prompt: character `mara` is sent as the element `Mara`, but "
            "the prompt never says `Mara`: write the element name in your prompt [W012]") in result.err
    assert "shots[1]" not in result.err and "shots[2]" not in result.err


def test_a_video_element_is_sent_as_a_video_reference(project):
    from conftest import MP4_4S

    text = STORY.replace("      frontal: refs/mara-front.png\n      views: [refs/mara-left.png]\n",
                         "      video: refs/mara.mp4\n")
    plan = compile_project(str(project(text, {**REFS, "refs/mara.mp4": MP4_4S}))).plan
    request = plan.elements[0].request
    assert request["reference_type"] == "video_refer" and request["element_video_list"][0].startswith("sha256:")
    assert "frontal_image" not in request and plan.elements[0].video == "refs/mara.mp4"


def test_a_user_price_list_without_the_element_price_leaves_it_unpriced(project, cli):
    prices = b"name: mine\nas_of: 2026-01-01\nmodels:\n  kwaivgi/kling-video-o3-pro/reference-to-video:\n" \
             b"    per_second: 0.1\n"
    path = project(STORY + "prices: prices.yaml\n", {**REFS, "prices.yaml": prices})
    result = cli("validate", str(path))
    assert "characters.mara.element: the price list `mine` has no price for `kwaivgi/kling-elements-advanced`" \
           in result.err
    assert "element:mara" in compile_project(str(path)).plan.unpriced


def test_a_price_list_entry_with_neither_price_is_refused(project, cli):
    prices = b"name: mine\nas_of: 2026-01-01\nmodels:\n  kwaivgi/kling-elements-advanced: {}\n"
    result = cli("validate", str(project(STORY + "prices: prices.yaml\n", {**REFS, "prices.yaml": prices})))
    assert result.code == 1 and "give `per_second` (video) or `per_run` (elements)" in result.err
