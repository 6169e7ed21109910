"""Dialogue and captions in the format and the plan, and cues on the film's timeline.

A caption changes no job; dialogue changes a job only through a prompt that
names ``{{ dialogue }}``. Cue times are the timeline's, to the frame: a shot
after a crossfade starts its captions where its span starts, and the later
shot's captions end the earlier one's."""

from __future__ import annotations

from fractions import Fraction

import pytest

from storyboard.cut.captions import Span, place, srt, vtt
from storyboard.plan.project import compile_project

SHOTS = """version: 1
characters:
  keeper: {{name: Old Tom}}
vars: {{}}
shots:
  - id: a
    prompt: "{prompt}"
    duration: 4
{extra}
  - id: b
    prompt: The sea
    duration: 6
    transition: {{type: crossfade, duration: 1}}
"""


def plan_of(project, text: str, name: str = "proj"):
    return compile_project(str(project(text, name=name)), provider="preview").plan


def keys(plan) -> dict[str, str]:
    return {job.shot: job.key for job in plan.jobs}


def test_a_caption_changes_no_job_and_dialogue_only_through_the_prompt(project):
    plain = plan_of(project, SHOTS.format(prompt="A lighthouse", extra=""), "plain")
    captioned = plan_of(project, SHOTS.format(prompt="A lighthouse", extra="    caption: North\n"
                                              "    dialogue: [{keeper: The lamp is out.}]"), "captioned")
    assert keys(captioned) == keys(plain)
    assert captioned.cut.captions is not None and plain.cut.captions is None
    said = plan_of(project, SHOTS.format(prompt="A lighthouse. {{ dialogue }}",
                                         extra="    dialogue: [{keeper: The lamp is out.}]"), "said")
    assert said.jobs[0].request["prompt"] == 'A lighthouse. Old Tom says: "The lamp is out."'
    assert keys(said)["a"] != keys(plain)["a"] and keys(said)["b"] == keys(plain)["b"]
    other_line = plan_of(project, SHOTS.format(prompt="A lighthouse. {{ dialogue }}",
                                               extra="    dialogue: [{keeper: The lamp is lit.}]"), "other")
    assert keys(other_line)["a"] != keys(said)["a"]
    named = plan_of(project, SHOTS.format(prompt="A sign reads {{ caption }}", extra="    caption: North"), "named")
    assert named.jobs[0].request["prompt"] == "A sign reads North"


def test_templates_loop_over_lines_and_segments_have_their_own(project):
    text = """version: 1
characters:
  keeper: {name: Old Tom}
shots:
  - id: a
    prompt: A lighthouse at night
    shot_type: customize
    duration: 6
    multi_prompt:
      - prompt: "{% for d in dialogue %}{{ d.speaker }} whispers {{ d.line }}{% endfor %}"
        duration: 2
        dialogue: [{speaker: keeper, line: Hush.}]
      - prompt: "Waves. {{ dialogue }}"
        duration: 4
"""
    plan = plan_of(project, text)
    segments = plan.jobs[0].request["multi_prompt"]
    assert segments[0]["prompt"] == "Old Tom whispers Hush." and segments[1]["prompt"] == "Waves. "
    (item,) = plan.cut.captions.shots["a"]
    assert (item.start, item.end, item.text, item.speaker) == (0.0, 2.0, "Hush.", "Old Tom")


def test_a_var_of_the_same_name_keeps_its_prompt(project):
    """Storyboards written before dialogue existed keep their prompts (and so their keys)."""
    text = SHOTS.format(prompt="{{ dialogue }}", extra="    dialogue: [{keeper: Hello.}]").replace(
        "vars: {}", "vars: {dialogue: Silence}")
    assert plan_of(project, text).jobs[0].request["prompt"] == "Silence"


def test_lines_share_their_span_evenly_and_timed_lines_count_from_their_segment(project):
    text = """version: 1
shots:
  - id: a
    prompt: x
    duration: 6
    caption: Dawn
    dialogue:
      - {speaker: Ann, line: One.}
      - {speaker: Bob, line: Two.}
      - {speaker: Ann, line: Three.}
  - id: b
    prompt: y
    shot_type: customize
    duration: 5
    multi_prompt:
      - {prompt: p, duration: 2}
      - prompt: q
        duration: 3
        dialogue: [{speaker: Cy, line: Late., start: 0.5, end: 2}]
cut:
  captions: {mode: soft, speakers: true}
"""
    shots = plan_of(project, text).cut.captions.shots
    assert [(i.text, i.start, i.end) for i in shots["a"]] == [
        ("Dawn", 0.0, 6.0), ("Ann: One.", 0.0, 2.0), ("Bob: Two.", 2.0, 4.0), ("Ann: Three.", 4.0, 6.0)]
    assert [(i.text, i.start, i.end) for i in shots["b"]] == [("Cy: Late.", 2.5, 4.0)]


@pytest.mark.parametrize("line, message", [
    ("{speaker: A, line: x, start: 1, end: 5}", "end 5 s is past the end of its shot (4 s)"),
    ("{speaker: A, line: x, start: 3, end: 2}", "the line ends (2 s) before it starts (3 s)"),
])
def test_a_line_outside_its_shot_is_an_error_at_its_place(project, cli, line, message):
    path = project(SHOTS.format(prompt="x", extra=f"    dialogue:\n      - {line}"))
    result = cli("validate", str(path))
    assert result.code == 1 and message in result.out + result.err
    assert "storyboard.yaml:10:" in result.out + result.err and "Traceback" not in result.err


def test_captions_off_leaves_them_out_of_the_cut(project):
    text = SHOTS.format(prompt="x", extra="    caption: North") + "cut:\n  captions: off\n"
    assert plan_of(project, text).cut.captions is None


def test_cues_follow_the_timeline_to_the_frame(project):
    """b follows a 1 s crossfade: its span starts at 3 s (4 - 1), so its captions do."""
    text = SHOTS.format(prompt="x", extra="    caption: Land").replace(
        "    prompt: The sea\n", "    prompt: The sea\n    caption: Sea\n    dialogue: [{speaker: X, line: Hi., start: 0.3, end: 1}]\n")
    plan = plan_of(project, text)
    spans = [Span("a", 0.0, 4.0), Span("b", 3.0, 6.0)]
    found = place(plan.cut.captions, spans, Fraction(24), plan.cut.duration)
    assert plan.cut.duration == 9.0
    assert [(c.first, c.last, c.text) for c in found] == [
        (0, 72, "Land"),  # ended by b's first caption, at b's start
        (72, 79, "Sea"), (79, 96, "Sea\nHi."), (96, 216, "Sea")]  # 3.3 s is frame 79.2 -> 79


def test_cues_round_to_the_frames_of_ntsc_rates(project):
    plan = plan_of(project, SHOTS.format(prompt="x", extra="    caption: Land"))
    fps = Fraction(30000, 1001)
    (cue,) = place(plan.cut.captions, [Span("a", 0.0, 4.0), Span("b", 3.0, 6.0)], fps, 9.0)
    assert (cue.first, cue.last) == (0, round(4 * fps))
    assert srt([cue]).splitlines()[1] == "00:00:00,000 --> 00:00:04,004"  # frame 120 at 29.97 fps


def test_srt_and_vtt_text():
    from storyboard.cut.captions import Cue

    cues = [Cue(12, 36, "A <b> & c\nsecond", "a", Fraction(24)), Cue(36, 48, "next", "b", Fraction(24))]
    assert srt(cues) == ("1\n00:00:00,500 --> 00:00:01,500\nA <b> & c\nsecond\n\n"
                         "2\n00:00:01,500 --> 00:00:02,000\nnext\n\n")
    assert vtt(cues) == ("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nA &lt;b&gt; &amp; c\nsecond\n\n"
                         "00:00:01.500 --> 00:00:02.000\nnext\n\n")


def test_the_review_site_shows_each_shots_captions(project):
    import json
    import re

    from storyboard.review.site.build import Options, build_site

    text = SHOTS.format(prompt="x", extra="    caption: Land <ho>\n    dialogue: [{keeper: Mind the lamp.}]")
    index = build_site(str(project(text)), Options(provider="preview"))
    html = index.read_text()
    assert "Land &lt;ho&gt;" in html and "Mind the lamp." in html
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))
    assert data["shots"][0]["captions"] == [{"start": 0.0, "end": 4.0, "text": "Land <ho>"},
                                            {"start": 0.0, "end": 4.0, "text": "Mind the lamp."}]
    assert data["shots"][1]["captions"] == []


def test_cues_never_overlap_and_stay_in_the_film():
    """Whatever the shots, transitions and captions, the cues are in order, inside the film, not
    empty, and never overlap (a soft track shows one sample at a time)."""
    from hypothesis import given, settings, strategies as st

    from storyboard.plan.captions import CaptionItem, CaptionsPlan
    from storyboard.format.captions import CaptionStyle

    shot = st.tuples(st.integers(1, 8), st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                     st.lists(st.tuples(st.floats(0, 8), st.floats(0, 8), st.sampled_from(["a", "b c", "d\n\ne"])), max_size=4))

    @settings(max_examples=200, deadline=2000)
    @given(st.lists(shot, min_size=1, max_size=6), st.sampled_from([Fraction(24), Fraction(30000, 1001)]))
    def check(shots, fps):
        spans, plan, at = [], {}, 0.0
        for n, (duration, overlap, items) in enumerate(shots):
            overlap = min(overlap, duration / 2, spans[-1].duration / 2) if spans else 0.0
            at = spans[-1].start + spans[-1].duration - overlap if spans else 0.0
            spans.append(Span(f"s{n}", at, float(duration)))
            plan[f"s{n}"] = [CaptionItem(text=t, start=min(a, b), end=max(a, b)) for a, b, t in items]
            plan[f"s{n}"].append(CaptionItem(text="  \n ", start=0, end=duration))  # blank: shows nothing
        length = spans[-1].start + spans[-1].duration
        found = place(CaptionsPlan(style=CaptionStyle(), shots=plan), spans, fps, length)
        for cue in found:
            assert 0 <= cue.first < cue.last <= round(length * fps)
            assert cue.text and all(line.strip() for line in cue.text.splitlines())
        for before, after in zip(found, found[1:]):
            assert before.last <= after.first
        srt(found), vtt(found)

    check()


def test_the_editor_schema_takes_both_ways_of_writing_a_line():
    import json

    import jsonschema

    from conftest import ROOT

    schema = json.loads((ROOT / "schemas" / "storyboard.schema.json").read_text())
    story = {"version": 1, "shots": [{"id": "a", "prompt": "x", "caption": "North", "dialogue": [
        {"keeper": "The lamp is out."}, {"speaker": "Narrator", "line": "Night fell.", "start": 1, "end": 2}]}],
        "cut": {"captions": {"mode": "burn", "size": 0.06}}}
    jsonschema.validate(story, schema)
    story["shots"][0]["dialogue"].append({"speaker": "A", "line": "x", "when": 1})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(story, schema)
