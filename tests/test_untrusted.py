"""Nothing someone else wrote can crash or hang the tool: claims, clip records
(here and in the remote), journal entries, the media memo and saved plans are
read as untrusted input. Concrete regressions first, then Hypothesis
properties: arbitrary JSON, and one field of a real file replaced by an
arbitrary value, fed to each reader (through the real command where it is
cheap). No input may give exit 3, a traceback, an unbounded wait, or a
different film."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import PNG_1, run_cli
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.claiming import MAX_CLAIM_WAIT, ClaimInDoubt, ClaimSteps
from storyboard.render.journal import SUBMITTED, SUBMITTING, Journal
from storyboard.render.timing import FakeClock
from storyboard.store.cache import ClipCache, record_name
from storyboard.errors import usable_task_id
from storyboard.store.claims import HOST, Claims, claim_name
from storyboard.store.remote import FolderRemote, open_remote
from storyboard.store.storage import LocalStorage

KEY = "ab" * 32
NOW = 1_000_000.0
ONE_SHOT = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"
TWO_SHOTS = ONE_SHOT + "  - id: b\n    prompt: Gulls over the harbour.\n    duration: 3\n"
WITH_IMAGE = ("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n    images: [refs/one.png]\n"
              "  - id: b\n    prompt: Gulls.\n    images: [refs/one.png]\n")

# Any JSON value: what a file or an object written by someone else may hold.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
BOUNDED = settings(max_examples=60, deadline=timedelta(seconds=10),
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SLOW = settings(BOUNDED, max_examples=25, deadline=timedelta(seconds=30))


def garbage() -> st.SearchStrategy[bytes]:
    """Bytes of any JSON value, or bytes that are not JSON at all."""
    return JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64)


def mutated(valid: dict) -> st.SearchStrategy[dict]:
    """``valid`` with one field replaced by any JSON value, dropped, or one field added."""
    names = sorted(valid)
    replaced = st.tuples(st.sampled_from(names), JSON).map(lambda kv: {**valid, kv[0]: kv[1]})
    dropped = st.sampled_from(names).map(lambda k: {n: v for n, v in valid.items() if n != k})
    added = st.tuples(st.text(max_size=8), JSON).map(lambda kv: {**valid, kv[0]: kv[1]})
    return replaced | dropped | added


def assert_handled(code: int, text: str) -> None:
    assert code in (0, 1), text
    assert "Traceback" not in text and "internal error" not in text, text


# -- claims --

VALID_CLAIM = {"owner": "their-render", "heartbeat": NOW, "task_id": None, "host": "another-machine", "pid": 4242}


def _claim(folder: Path, raw: bytes, *, wall: float = NOW, task_ids: tuple = ()) -> tuple[object, FakeClock]:
    """What ``ClaimSteps.claim`` makes of a claim holding ``raw``: None, a task id, or "in doubt"."""
    remote = FolderRemote(folder / "remote")
    path = folder / "remote" / claim_name(KEY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    claims = Claims(remote, wall_clock=lambda: wall)
    clock = FakeClock()
    steps = ClaimSteps(claims, ClipCache.at(folder / "cache"), lambda *a: None, clock)
    try:
        result = asyncio.run(asyncio.wait_for(steps.claim(KEY, "a"), 20))  # real seconds: a hang fails
    except ClaimInDoubt as exc:
        result = ("in doubt", str(exc))
    finally:
        claims.close()
    return result, clock


def test_a_claim_from_the_future_is_suspect_and_not_waited_on(tmp_path):
    raw = json.dumps({**VALID_CLAIM, "heartbeat": NOW + 3600}).encode()  # a clock an hour ahead, or planted
    result, clock = _claim(tmp_path, raw)
    assert result[0] == "in doubt" and "in the future" in result[1]
    assert clock.now() == 0  # not waited on at all


def test_a_fresh_claim_without_a_task_id_is_waited_on_for_a_bounded_time(tmp_path):
    result, clock = _claim(tmp_path, json.dumps(VALID_CLAIM).encode())  # its heartbeat never ages (a frozen wall clock)
    assert result[0] == "in doubt" and "without a task id" in result[1]
    assert MAX_CLAIM_WAIT <= clock.now() <= MAX_CLAIM_WAIT + 1


def test_a_fresh_claim_with_a_task_id_is_followed(tmp_path):
    result, clock = _claim(tmp_path, json.dumps({**VALID_CLAIM, "task_id": "0f3a9c"}).encode())
    assert result == "0f3a9c" and clock.now() == 0


@pytest.mark.parametrize("field, value", [
    ("heartbeat", '"1000000"'), ("heartbeat", "1e400"), ("heartbeat", "1" + "0" * 400),
    ("task_id", "123"), ("task_id", '"../../balance"'), ("task_id", '"a/b?c"'), ("task_id", '["t"]'),
    ("pid", '"4242"'), ("pid", "1.5"), ("pid", "-1"),
])
def test_a_damaged_claim_is_stale_and_never_polled(tmp_path, field, value):
    host = HOST if field == "pid" else "another-machine"  # on this machine, its pid is looked at first
    claim = {**VALID_CLAIM, "host": host, field: "@"}
    raw = json.dumps(claim).replace('"@"', value).encode()  # raw JSON text: 1e400 reads as infinity
    claims = Claims(FolderRemote(tmp_path / "remote"), wall_clock=lambda: NOW)
    (tmp_path / "remote" / claim_name(KEY)).parent.mkdir(parents=True)
    (tmp_path / "remote" / claim_name(KEY)).write_bytes(raw)
    read = claims.read(KEY)
    assert claims.stale(read) and read.task_id is None
    claims.close()
    result, _ = _claim(tmp_path / "run", raw)
    assert result[0] == "in doubt"


@BOUNDED
@given(raw=garbage() | mutated(VALID_CLAIM).map(lambda d: json.dumps(d).encode()),
       wall=st.sampled_from([NOW, NOW - 3600, NOW + 3600]))
def test_any_claim_ends_in_a_task_id_to_follow_or_in_doubt_within_the_bound(raw, wall):
    with tempfile.TemporaryDirectory() as tmp:
        result, clock = _claim(Path(tmp), raw, wall=wall)
    assert clock.now() <= MAX_CLAIM_WAIT + 1
    if isinstance(result, str):
        assert usable_task_id(result) == result
    else:
        assert result[0] == "in doubt"


@pytest.fixture
def env(monkeypatch):
    with Emulator(task_seconds=0.3) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", "sk-untrusted")
        yield emu


def test_a_planted_claim_from_the_future_leaves_its_shot_in_doubt_and_the_rest_of_the_film_renders(project, env):
    """In a child process with a timeout: before, this render waited for ever."""
    path = project(TWO_SHOTS)
    plan = compile_project(str(path), base_url=env.url).plan  # the origin is part of the key
    key = plan.job("b").key
    planted = path.parent / ".storyboard" / "cache" / claim_name(key)
    planted.parent.mkdir(parents=True)
    planted.write_text(json.dumps({**VALID_CLAIM, "heartbeat": 4_000_000_000.0}))  # the year 2096
    child = subprocess.run([sys.executable, "-m", "storyboard", "render", str(path), "--no-stitch"],
                           capture_output=True, text=True, timeout=120)
    code, text = child.returncode, child.stdout + child.stderr
    assert code == 1 and "Traceback" not in text
    assert "--resubmit b" in text and env.stats()["total_submits"] == 1  # a was rendered; b never submitted
    lock = (path.parent / "storyboard.lock").read_text()
    assert plan.job("a").key in lock and key not in lock


# -- the journal --

VALID_ENTRY = {"key": KEY, "shot": "a", "model": "m", "origin": "https://api.wavespeed.ai", "state": SUBMITTED,
               "task_id": "0f3a9c"}


def _entry(folder: Path, raw: bytes):
    storage = LocalStorage(folder)
    storage.put(f"journal/{KEY}.json", raw)
    return Journal(storage).get(KEY)


@pytest.mark.parametrize("entry", [
    {**VALID_ENTRY, "key": "cd" * 32},  # another job's entry, copied over: its task is not this job's
    {**VALID_ENTRY, "task_id": 42},
    {**VALID_ENTRY, "task_id": "../../balance"},
    {**VALID_ENTRY, "state": "done"},
])
def test_a_damaged_journal_entry_still_means_a_task_may_exist(tmp_path, entry):
    got = _entry(tmp_path, json.dumps(entry).encode())
    assert got.key == KEY and got.state == SUBMITTING and got.task_id == ""


def test_a_journal_entry_nested_past_the_parsers_depth_is_unreadable_not_a_crash(tmp_path):
    got = _entry(tmp_path, b"[" * 100_000)
    assert got.key == KEY and got.state == SUBMITTING


@BOUNDED
@given(raw=garbage() | mutated(VALID_ENTRY).map(lambda d: json.dumps(d).encode()))
def test_any_journal_entry_is_this_jobs_task_or_a_task_that_may_exist(raw):
    with tempfile.TemporaryDirectory() as tmp:
        got = _entry(Path(tmp), raw)
    assert got.key == KEY and got.state in (SUBMITTING, SUBMITTED)
    if got.state == SUBMITTED:
        assert usable_task_id(got.task_id) == got.task_id and got == _entry_of(raw)


def _entry_of(raw: bytes):
    from storyboard.render.journal import Entry

    return Entry(**json.loads(raw))


# -- clip records, here and in the remote --

CLIP = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8


def _cache_with_clip(folder: Path) -> tuple[ClipCache, dict]:
    cache = ClipCache.at(folder)
    source = folder.parent / "clip.mp4"
    source.write_bytes(CLIP)
    cache.put(KEY, source, duration=5.0, model="m", provider="wavespeed", task_id="0f3a9c")
    return cache, json.loads((folder / record_name(KEY)).read_bytes())


@pytest.mark.parametrize("field, value", [
    ("duration", "NaN"), ("duration", "1e400"), ("duration", "-5"), ("duration", "1e308"),
    ("task_id", '"../../balance"'),
])
def test_a_record_with_an_absurd_value_is_a_miss(tmp_path, field, value):
    cache, record = _cache_with_clip(tmp_path / "cache")
    text = json.dumps(record).replace(json.dumps(record[field]), value, 1)
    (tmp_path / "cache" / record_name(KEY)).write_text(text)
    warnings = []
    cache.warn = warnings.append
    assert cache.get(KEY) is None and "unreadable" in warnings[0]


@BOUNDED
@given(record=JSON, which=st.integers(0, 1))
def test_any_record_value_is_a_miss_or_the_clip_itself(record, which):
    with tempfile.TemporaryDirectory() as tmp:
        cache, valid = _cache_with_clip(Path(tmp) / "cache")
        _mutate_record_and_check(cache, Path(tmp), record if which else {**valid, "sha256": record})


@BOUNDED
@given(data=st.data())
def test_one_field_of_a_real_record_replaced_is_a_miss_or_the_same_clip(data):
    with tempfile.TemporaryDirectory() as tmp:
        cache, valid = _cache_with_clip(Path(tmp) / "cache")
        _mutate_record_and_check(cache, Path(tmp), data.draw(mutated(valid)))


def _mutate_record_and_check(cache: ClipCache, tmp: Path, record: object) -> None:
    (tmp / "cache" / record_name(KEY)).write_text(json.dumps(record))
    got = cache.get(KEY)
    assert got is None or got.path.read_bytes() == CLIP  # never another clip, never a crash
    code, text = run_cli("cache", "verify", str(tmp), "--cache", str(tmp / "cache"))
    assert_handled(code, text)
    assert (code == 1) == (got is None) and (got is not None or record_name(KEY) in text)


def _bad_records() -> dict[str, bytes]:
    good = {"key": "", "sha256": "0" * 64, "size": 10, "duration": 5.0, "model": "m", "provider": "wavespeed",
            "task_id": "t"}
    bad = {"list": [1, 2], "null": None, "number": 7, "sha-number": {**good, "sha256": 123},
           "nan": {**good, "duration": float("nan")}, "negative": {**good, "size": -1}}
    out = {}
    for i, (_, value) in enumerate(sorted(bad.items())):
        key = f"{i:02d}" + "e" * 62
        body = {**value, "key": key} if isinstance(value, dict) else value
        out[record_name(key)] = json.dumps(body).encode()
    return out


def test_cache_verify_names_every_unreadable_record_in_a_folder_remote(project, tmp_path):
    path = project(ONE_SHOT)
    remote = FolderRemote(tmp_path / "team")
    for name, data in _bad_records().items():
        remote.create(name, data)
    (path.parent / ".storyboard" / "cache").mkdir(parents=True)
    code, text = run_cli("cache", "verify", str(path), "--remote", str(tmp_path / "team"))
    assert_handled(code, text)
    assert code == 1 and all(name in text for name in _bad_records())


def test_cache_verify_names_every_unreadable_record_in_s3(project, bucket):
    path = project(ONE_SHOT)
    remote = open_remote(f"s3://{bucket}/team")
    for name, data in _bad_records().items():
        remote.create(name, data)
    (path.parent / ".storyboard" / "cache").mkdir(parents=True)
    code, text = run_cli("cache", "verify", str(path), "--remote", f"s3://{bucket}/team")
    assert_handled(code, text)
    assert code == 1 and all(name in text for name in _bad_records())


# -- the media memo --

@pytest.fixture(scope="module")
def memo_project(tmp_path_factory):
    """A project with a reference image, its plan computed with no memo, and the memo it leaves."""
    root = tmp_path_factory.mktemp("memo")
    (root / "refs").mkdir()
    (root / "refs" / "one.png").write_bytes(PNG_1)
    (root / "storyboard.yaml").write_text(WITH_IMAGE)
    plan = compile_project(str(root / "storyboard.yaml")).plan.to_json()
    memo = json.loads((root / ".storyboard" / "media.json").read_text())
    return root, plan, memo


def _plan_with_memo(root: Path, memo: object) -> str:
    (root / ".storyboard" / "media.json").write_text(json.dumps(memo))
    return compile_project(str(root / "storyboard.yaml")).plan.to_json()


@pytest.mark.parametrize("change", [
    lambda entry: [1, 2],
    lambda entry: {**entry, "info": {**entry["info"], "sha256": 123}},
    lambda entry: {**entry, "info": {**entry["info"], "sha256": "not-hex"}},
    lambda entry: {**entry, "info": {**entry["info"], "kind": ["image"]}},
])
def test_a_damaged_memo_entry_is_hashed_again_not_trusted(memo_project, change):
    root, plan, memo = memo_project
    files = {name: change(entry) for name, entry in memo["files"].items()}
    assert _plan_with_memo(root, {**memo, "files": files}) == plan


@BOUNDED
@given(data=st.data())
def test_any_memo_gives_the_same_job_keys(memo_project, data):
    root, plan, memo = memo_project
    (name, entry), = memo["files"].items()
    choice = data.draw(st.sampled_from(["whole", "entry", "info"]))
    if choice == "whole":
        damaged = data.draw(JSON | mutated(memo))
    elif choice == "entry":
        damaged = {**memo, "files": {name: data.draw(JSON | mutated(entry))}}
    else:
        damaged = {**memo, "files": {name: {**entry, "info": data.draw(mutated(entry["info"]))}}}
    assert _plan_with_memo(root, damaged) == plan


# -- saved plans --

@pytest.fixture(scope="module")
def saved_project(tmp_path_factory):
    """A film rendered as a preview, and its plan saved with ``plan --out``."""
    root = tmp_path_factory.mktemp("saved")
    (root / "storyboard.yaml").write_text(TWO_SHOTS)
    story = str(root / "storyboard.yaml")
    assert run_cli("render", story, "--provider", "preview", "--no-stitch")[0] == 0
    assert run_cli("plan", story, "--provider", "preview", "--out", str(root / "plan.json"))[0] == 0
    return root, json.loads((root / "plan.json").read_text())


def _paths(value, at=()):
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, at + (i,))


def _replace(value, at, new):
    if not at:
        return new
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[at[0]] = _replace(value[at[0]], at[1:], new)
    return copy


@pytest.mark.parametrize("at, value", [(("cut", "duration"), float("nan")), (("cut", "loudness"), float("inf")),
                                       (("provider",), "../../x")])
def test_a_saved_plan_with_garbage_is_refused_naming_the_file(saved_project, tmp_path, at, value):
    root, plan = saved_project
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_replace(plan, at, value)))
    code, text = run_cli("render", str(root / "storyboard.yaml"), "--plan", str(bad), "--no-stitch")
    assert code == 1 and str(bad) in text and "internal error" not in text


@SLOW
@given(data=st.data())
def test_one_field_of_a_saved_plan_replaced_is_refused_or_the_same_plan(saved_project, data):
    root, plan = saved_project
    at = data.draw(st.sampled_from([p for p in _paths(plan) if p]))
    changed = _replace(plan, at, data.draw(JSON))
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "plan.json"
        saved.write_text(json.dumps(changed))
        code, text = run_cli("render", str(root / "storyboard.yaml"), "--plan", str(saved), "--no-stitch")
    assert_handled(code, text)
    if code == 0:  # accepted: it is the plan the storyboard compiles to, so the film is the same
        from storyboard.plan.types import Plan

        assert Plan.model_validate(changed).to_json() == Plan.model_validate(plan).to_json()


def test_a_saved_plan_that_is_any_json_is_refused_naming_it(saved_project, tmp_path):
    root, _ = saved_project
    for value in ([], None, 3, "plan", {"format": 1}):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(value))
        code, text = run_cli("render", str(root / "storyboard.yaml"), "--plan", str(bad), "--no-stitch")
        assert code == 1 and str(bad) in text, text
