"""What `validate` accepts, the rest accepts: one set of limits, checked once,
at the position, for the format, the plan, the command line and the lock."""

from __future__ import annotations

from storyboard.plan.takes import HARD_LIMIT, MAX_TAKES
from storyboard.render.lock import LockEntry, RetiredEntry

SHOT = "version: 1\nshots:\n  - id: {id}\n    prompt: A quiet harbour.\n    take: {take}\n"


def test_a_take_past_the_limit_is_an_error_at_its_position(project, cli):
    path = project(SHOT.format(id="a", take=1_000_000_000))
    out = cli("validate", str(path))
    assert out.code == 1 and ":5:11: shots[0].take: must be at most 100, got 1000000000" in out.err


def test_the_advice_for_a_take_past_twenty_is_a_command_that_is_accepted(project, cli):
    path = project(SHOT.format(id="a", take=HARD_LIMIT))
    out = cli("validate", str(path))
    assert out.code == 0 and f"`--takes a={HARD_LIMIT} --yes`" in out.err and "`render --yes`" in out.err
    assert cli("plan", str(path), "--takes", f"a={HARD_LIMIT}").code == 0
    assert cli("plan", str(path), "--takes", f"a={HARD_LIMIT + 1}").code == 2
    assert MAX_TAKES < HARD_LIMIT


def test_a_shot_id_the_lock_could_not_read_back_is_refused_by_validate(project, cli):
    long_id = "s" * 201
    out = cli("validate", str(project(SHOT.format(id=long_id, take=1))))
    assert out.code == 1 and "a shot id is at most 200 characters; this one has 201" in out.err
    fits = "s" * 200
    assert cli("validate", str(project(SHOT.format(id=fits, take=1), name="fits"))).code == 0
    entry = dict(key="a" * 64, model="m", origin="https://api.wavespeed.ai", task_id="t1", clip="sha256:" + "b" * 64,
                 duration=5.0, cost=None)
    assert RetiredEntry(**entry, shot=fits, take=HARD_LIMIT).shot == fits


def test_the_lock_takes_every_task_id_the_provider_client_accepts_and_no_other():
    from storyboard.providers import ProviderError, check_task_id

    entry = dict(key="a" * 64, model="m", origin="o", clip="sha256:" + "b" * 64, duration=5.0, cost=None)
    for task_id in ("8f14e45fceea167a", "task-1", "T_2.b~c", "..", ".", "a/b", "", "t\x1b"):
        try:
            check_task_id(task_id)
            client_ok = True
        except ProviderError:
            client_ok = False
        try:
            LockEntry(**entry, task_id=task_id)
            lock_ok = True
        except ValueError:
            lock_ok = False
        assert client_ok == lock_ok, task_id
