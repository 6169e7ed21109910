"""Round 3's features together, end to end: declared elements, captions, cards and
deliverables, fal, and the command line's items, on one film, against the emulator."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from PIL import Image

from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator, Fault
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-round3"
ELEMENTS = "kwaivgi/kling-elements-advanced"


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 400), colour).save(out, "PNG")
    return out.getvalue()


REFS = {"refs/mara-front.png": png("red"), "refs/mara-left.png": png("orange")}
STORY = """version: 1
characters:
  mara:
    name: Mara
    description: young fisher in a yellow oilskin
    element: {frontal: refs/mara-front.png, views: [refs/mara-left.png]}
shots:
  - id: a
    prompt: "Mara rows a boat on the sea."
    characters: [mara]
    duration: 3
    dialogue:
      - {speaker: mara, line: "The lamp is out."}
  - id: b
    prompt: "The sea at dawn."
    duration: 3
    caption: "Morning."
    transition: {type: crossfade, duration: 0.5}
cut:
  output: renders/film.mp4
  title: {text: The Keeper, seconds: 1}
  credits: {lines: [Mara - herself], seconds: 1}
deliverables:
  - {name: master, aspect_ratio: "16:9", output: renders/film.mp4}
  - {name: vertical, aspect_ratio: "9:16", output: renders/vertical.mp4, method: render}
  - {name: square, aspect_ratio: "1:1", output: renders/square.mp4}
"""


@pytest.fixture
def emu():
    with Emulator(task_seconds=0.2) as emulator:
        yield emulator


def render(path, emu, **kw):
    kw.setdefault("options", Options(concurrency=6, rate=0))
    env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def videos(emu) -> list:
    return [t for t in emu.state.tasks.values() if t.model != ELEMENTS]


def elements(emu) -> list:
    return [t for t in emu.state.tasks.values() if t.model == ELEMENTS]


def sent(emu) -> dict:
    """(prompt, aspect ratio) → the element_list each video submit sent."""
    return {(t.body["prompt"], t.body.get("aspect_ratio")): t.body.get("element_list", []) for t in videos(emu)}


def test_a_rendered_deliverable_sends_the_element_made_once_for_the_master(project, emu):
    path = project(STORY, REFS)
    plan = compile_project(str(path), base_url=emu.url).plan
    assert [e.label for e in plan.elements] == ["element:mara"]
    assert plan.total_cost == Decimal("0.01") + 4 * Decimal("0.336")  # the element once, two shots in two films
    result = render(path, emu)
    assert not result.report.failed and not result.report.count("skipped")
    assert len(elements(emu)) == 1 and len(videos(emu)) == 4
    made = str(elements(emu)[0].output["element_id"])
    assert sent(emu)[("Mara rows a boat on the sea.", "9:16")] == [{"element_id": made}]
    assert sent(emu)[("Mara rows a boat on the sea.", "16:9")] == [{"element_id": made}]
    assert dict(result.films).keys() == {"master", "vertical", "square"}
    assert Decimal(str(result.report.spent)) == plan.total_cost


def test_only_a_shot_renders_it_in_each_film_and_nothing_else(project, emu):
    path = project(STORY, REFS)
    render(path, emu, only=["b"], engine=None)
    assert sorted(sent(emu)) == [("The sea at dawn.", "16:9"), ("The sea at dawn.", "9:16")]
    assert elements(emu) == []  # shot b sends no element: none is made
    render(path, emu, only=["a"], deliverable="vertical", engine=None)
    assert len(elements(emu)) == 1  # a@vertical's element, made first
    assert sorted(sent(emu)) == [("Mara rows a boat on the sea.", "9:16"),
                                 ("The sea at dawn.", "16:9"), ("The sea at dawn.", "9:16")]
    render(path, emu, only=["a@vertical", "a"], engine=None)  # a@vertical cached, a is new; the element is in the lock
    assert len(elements(emu)) == 1 and len(videos(emu)) == 4


def test_a_failed_deliverable_shot_is_reported_at_its_shot_not_with_a_traceback(project, emu, cli, monkeypatch):
    path = project(STORY, REFS)
    emu.add_fault(Fault("submit", "fail", 1, "The sea at dawn."))
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    result = cli("render", str(path), "--rate", "0", "--yes", "--only", "b", "--deliverable", "vertical")
    assert result.code == 1 and "Traceback" not in result.err and "internal error" not in result.err
    assert "storyboard.yaml:14:" in result.err and "vertical (b@vertical)" in result.err


def test_status_counts_the_element_in_what_the_film_has_cost(project, emu, cli, monkeypatch):
    path = project(STORY, REFS)
    render(path, emu, engine=None)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    shown = cli("status", str(path))
    assert "Spent on this film so far: $1.354 for 4 paid clips and 1 element in the lock." in shown.out
    data = json.loads(cli("status", str(path), "--json").out)
    assert data["spent"] == "1.354" and data["spent_elements"] == 1


def clone_of(path, dest):
    """What a teammate's clone holds: the storyboard, its files and the lock; no cache, no renders."""
    dest.mkdir()
    for rel in ["storyboard.yaml", "storyboard.lock", *REFS]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes((path.parent / rel).read_bytes())
    return dest / "storyboard.yaml"


def test_a_clone_stitches_and_pulls_every_film_from_the_lock_with_no_api_address(project, emu, cli, tmp_path):
    path = project(STORY, REFS)
    result = render(path, emu)
    remote = tmp_path / "remote"
    remote.mkdir()
    assert cli("push", str(path), "--remote", str(remote)).code == 0
    clone = clone_of(path, tmp_path / "clone")
    shown = cli("stitch", str(clone), "--remote", str(remote))
    assert shown.code == 0, shown.err
    for name, film in result.films:  # the same films, byte for byte, from the clips the lock names
        assert (clone.parent / film.relative_to(path.parent)).read_bytes() == film.read_bytes(), name
    other = clone_of(path, tmp_path / "other")
    pulled = cli("pull", str(other), "--remote", str(remote))
    assert pulled.code == 0 and "4 clips pulled" in pulled.out
    assert cli("stitch", str(other)).code == 0


def test_plan_compare_counts_a_rendered_deliverables_jobs_as_the_plan_does(project, cli):
    path = project(STORY, REFS)
    data = json.loads(cli("plan", str(path), "--compare", "--json").out)
    rows = {row["shot"]: row for row in data["shots"]}
    assert list(rows) == ["element:mara", "a", "b", "a@vertical", "b@vertical"]
    wavespeed = next(h for h in data["hosts"] if h["provider"] == "wavespeed")
    plan = compile_project(str(path)).plan
    assert Decimal(wavespeed["total"]) == plan.total_cost == sum(Decimal(r["costs"]["wavespeed"]) for r in rows.values())
    assert rows["a@vertical"]["costs"]["wavespeed"] == "0.336"


FAL_STORY = STORY.replace("version: 1\n", "version: 1\nprovider: fal\nmax_cost: 5\n"
                          "defaults: {model: kwaivgi/kling-video-o3-std/reference-to-video}\n")


def test_a_clone_of_a_film_made_on_fal_stitches_and_pulls_from_the_lock(project, emu, cli, tmp_path):
    path = project(FAL_STORY, REFS)
    env = {"FAL_BASE_URL": emu.url, "FAL_KEY": KEY}
    result = render_project(str(path), env=env, options=Options(concurrency=6, rate=0))
    assert not result.report.failed and len(result.films) == 3
    bodies = [e["body"] for e in emu.state.log if e.get("protocol") == "fal"]
    assert sorted(b["aspect_ratio"] for b in bodies if b["prompt"].startswith("@Element1 rows")) == ["16:9", "9:16"]
    assert all(b["elements"][0]["frontal_image_url"].endswith("mara-front.png") for b in bodies if "Element1" in
               b["prompt"])
    remote = tmp_path / "remote"
    remote.mkdir()
    assert cli("push", str(path), "--remote", str(remote)).code == 0
    clone = clone_of(path, tmp_path / "clone")  # FAL_BASE_URL is not set here: the lock names the emulator
    shown = cli("stitch", str(clone), "--remote", str(remote))
    assert shown.code == 0, shown.err
    assert "FAL_BASE_URL" in shown.err and "WAVESPEED_BASE_URL" not in shown.err
    for name, film in result.films:
        assert (clone.parent / film.relative_to(path.parent)).read_bytes() == film.read_bytes(), name
    other = clone_of(path, tmp_path / "other")
    pulled = cli("pull", str(other), "--remote", str(remote))
    assert pulled.code == 0 and "not in the remote" not in pulled.out


def test_an_unpriced_rendered_deliverable_is_never_shown_as_free(project, cli):
    path = project(STORY.replace("version: 1\n", "version: 1\nprovider: fal\n"), REFS)  # O3 Pro refs: unpriced on fal
    shown = cli("plan", str(path))
    assert "vertical (9:16, render) → renders/vertical.mp4: 2 jobs rendered again at 9:16, unpriced" in shown.out
    checked = cli("validate", str(path))
    assert checked.code == 0 and "$0.000 (+ 4 unpriced)" in checked.out
    data = json.loads(cli("validate", str(path), "--json").out)
    assert data["files"][0]["unpriced"] == ["a", "b", "a@vertical", "b@vertical"]


def test_only_names_the_shots_left_to_render_not_the_cards_and_cuts_a_complete_deliverable(project, emu):
    path = project(STORY, REFS)
    first = render(path, emu, only=["b"])
    assert first.not_cut == ["a", "a@vertical"] and first.films == []  # title and end cards are drawn at the cut
    second = render(path, emu, only=["a"], deliverable="vertical")
    assert second.not_cut == [] and [name for name, _ in second.films] == ["vertical"]
    assert not (path.parent / "renders" / "film.mp4").exists()  # the master still lacks its shot a


def test_repay_all_pays_again_for_a_rendered_deliverables_lost_clips_too(project, tmp_path):
    import shutil
    import time

    path = project(STORY, REFS)
    with Emulator(task_seconds=0.1, retention=0.3) as emu:
        render(path, emu, engine=None)
        shutil.rmtree(path.parent / ".storyboard")  # the clips are lost here, and the provider has let them go
        time.sleep(0.5)
        result = render(path, emu, repay=("all",), engine=None)
        assert not result.report.failed and not result.report.count("skipped")
        assert sorted(o.job.shot for o in result.report.outcomes if o.state == "done") == [
            "a", "a@vertical", "b", "b@vertical"]
        assert len(elements(emu)) == 1  # the element's id is in the lock: not made again


def test_diff_to_fal_never_shows_an_unpriced_re_render_as_free(project, cli):
    path = project(STORY, REFS)
    (path.parent / "fal.yaml").write_text(STORY.replace("version: 1\n", "version: 1\nprovider: fal\n"))
    shown = cli("diff", str(path), str(path.parent / "fal.yaml"))
    assert "~ shot a@vertical: to re-render, unpriced: an unknown amount to pay" in shown.out
    assert "$0.000 to pay" not in shown.out
    assert "to pay now $0.000 (+ 4 unpriced); film total $1.354 → $0.000 (+ 4 unpriced)." in shown.out
    data = json.loads(cli("diff", str(path), str(path.parent / "fal.yaml"), "--format", "json").out)
    row = next(s for s in data["shots"] if s["shot"] == "a@vertical")
    assert row["cost"] is None and row["to_pay"] is None and data["summary"]["unpriced"] == 4
    table = cli("diff", str(path), str(path.parent / "fal.yaml"), "--format", "markdown").out
    assert "| `a@vertical` | re-render |" in table and "| unpriced | unknown |" in table


def test_textconv_shows_what_git_diff_must_not_hide_cards_captions_and_the_other_films(project, cli):
    path = project(STORY, REFS)
    before = cli("textconv", str(path)).out
    changed = STORY.replace("Morning.", "Mornin.").replace("The Keeper", "The Keepers").replace('"1:1"', '"4:5"')
    path.write_text(changed)
    after = cli("textconv", str(path)).out
    gone = set(before.splitlines()) - set(after.splitlines())
    assert gone == {"  title card: The Keeper, 1 s, #f2efe6 on #000000",
                    "film square: 1:1 by reframe → renders/square.mp4, $0.000", "  caption (0-3 s): Morning."}
    assert "  dialogue (0-3 s): Mara: The lamp is out." in after
    assert "film vertical: 9:16 by render → renders/vertical.mp4, $0.672" in after


def test_after_a_preview_render_nothing_is_left_to_make_the_element_is_drawn_not_owed(project, cli):
    path = project(STORY, REFS)
    assert cli("render", str(path), "--provider", "preview", "--no-stitch").code == 0
    shown = cli("plan", str(path), "--provider", "preview")
    assert "No changes." in shown.out and "To pay now" not in shown.out
    rows = {r["shot"]: r for r in json.loads(cli("status", str(path), "--provider", "preview", "--json").out)["shots"]}
    assert rows["element:mara"]["state"] == "drawn" and rows["a@vertical"]["state"] == "here"
    assert "0 shots to render" in cli("status", str(path), "--provider", "preview").out


def test_a_saved_plan_counts_the_element_and_the_other_films_jobs(project, cli, tmp_path):
    path = project(STORY, REFS)
    shown = cli("plan", str(path), "--out", str(tmp_path / "saved.json"))
    assert shown.code == 0 and ": 5 jobs, $1.354 for the film; $1.354 left to pay for 5 jobs not yet paid" in shown.out


def test_diff_since_a_revision_counts_what_the_element_and_the_other_films_cost(project, emu, cli, monkeypatch):
    from conftest import git

    path = project(STORY, REFS)
    root = path.parent
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    (root / ".gitignore").write_text(".storyboard/\nrenders/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the film, not rendered")
    render(path, emu, engine=None)
    monkeypatch.chdir(root)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    shown = cli("diff", "--base", "HEAD", str(path))
    assert shown.code == 0, shown.err
    assert "+ take a@vertical#1: paid $0.336, in the film" in shown.out
    assert "+ element:mara: paid $0.010, in the film" in shown.out
    assert "4 takes and 1 element added to the lock, $1.354 (spent, not owed)" in shown.out


def test_the_confirmation_quotes_the_element_once_and_every_films_jobs(project, emu):
    from storyboard.cli.confirm import Declined

    path = project(STORY, REFS)
    asked = []

    def confirm(quote):
        asked.append(quote)
        raise Declined("no")

    with pytest.raises(Declined):
        render(path, emu, confirm=confirm)
    (quote,) = asked
    assert [j.label for j in quote.jobs] == ["element:mara", "a", "b", "a@vertical", "b@vertical"]
    assert quote.cost == Decimal("1.354") and quote.text == "$1.354 for 5 jobs"
    assert emu.stats()["total_submits"] == 0  # nothing was sent


def test_takes_knows_a_rendered_deliverables_clips_so_it_does_not_search_every_take_key(project, cli):
    from storyboard.review.status import Locator, cache_for
    from storyboard.review.takes import Known

    path = project(STORY, REFS)
    assert cli("render", str(path), "--provider", "preview", "--no-stitch").code == 0
    compiled = compile_project(str(path), provider="preview")
    cache = cache_for(compiled, None)
    assert not Known(compiled, cache, Locator(compiled, cache)).strangers  # a@vertical's clip is accounted for
    shown = cli("takes", str(path), "--provider", "preview")
    assert shown.code == 0 and [line.split()[0] for line in shown.out.splitlines()[1:3]] == ["a", "b"]
