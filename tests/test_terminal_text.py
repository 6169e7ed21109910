"""Text from outside never drives the terminal: task ids, provider messages,
file names and lock fields are printed with their control characters
escaped, and a task id no URL can carry is refused before any request."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import httpx
import pytest

from storyboard.errors import printable
from storyboard.providers import MaybeTask, ProviderError, check_task_id
from storyboard.providers.wavespeed import WaveSpeed

BASE = "https://api.wavespeed.ai"
MODEL = "kwaivgi/kling-video-o3-pro/reference-to-video"


def client(handler) -> WaveSpeed:
    return WaveSpeed("sk-secret", BASE, transport=httpx.MockTransport(handler))


def test_printable_escapes_every_control_character_but_line_breaks():
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("x\ry\x07\x9b\u202e") == "x\\x0dy\\x07\\x9b\\u202e"
    assert printable("two\nlines\tok") == "two\nlines\tok"
    assert printable("one\nline", lines=False) == "one\\x0aline"
    assert printable("plain ünïcode ✓") == "plain ünïcode ✓"


def test_a_file_name_with_an_escape_sequence_is_printed_escaped(cli, tmp_path):
    out = cli("status", str(tmp_path / "film\x1b[2J\x1b[31m.yaml"))
    assert out.code == 1
    assert "\x1b" not in out.err and "film\\x1b[2J\\x1b[31m.yaml" in out.err


@pytest.mark.parametrize("task_id", ["../../admin", "a/b", "..", ".", "t?x=1", "t#f", "t\x1b[2J", "", "t id",
                                     "x" * 201, 12, None, ["t"]])
def test_a_task_id_no_url_can_carry_is_refused_before_any_request(task_id):
    requests = []

    def handler(request):
        requests.append(request)
        return httpx.Response(200, json={"data": {"status": "completed", "outputs": []}})

    with pytest.raises(ProviderError, match="cannot be carried in a URL"):
        asyncio.run(client(handler).result(task_id))
    assert requests == []


def test_ordinary_task_ids_are_carried():
    for task_id in ("8f14e45fceea167a5a36dedd4bea2543", "task-1", "T_2.b~c"):
        assert check_task_id(task_id) == task_id


@pytest.mark.parametrize("task_id", ["../x", "a\nb", {"id": 1}, True])
def test_a_submit_answered_with_an_unusable_task_id_is_in_doubt(task_id):
    def handler(request):
        return httpx.Response(200, json={"data": {"id": task_id}})

    with pytest.raises(MaybeTask) as caught:
        asyncio.run(client(handler).submit(MODEL, {"prompt": "x"}))
    message = str(caught.value)
    assert "cannot be carried in a URL" in message and "\n" not in message and "{'" not in message


def test_a_numeric_task_id_is_the_same_id_as_text():
    def handler(request):
        return httpx.Response(200, json={"data": {"id": 307212335131305}})

    assert asyncio.run(client(handler).submit(MODEL, {"prompt": "x"})) == "307212335131305"


def test_provider_messages_are_text_without_control_characters_or_python_values():
    answers = iter([
        httpx.Response(400, json={"message": {"detail": ["bad"], "code": 7}}),
        httpx.Response(400, json={"message": "no\x1b[2J\x1b]0;owned\x07 way"}),
    ])

    def handler(request):
        return next(answers)

    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            asyncio.run(client(handler).submit(MODEL, {"prompt": "x"}))
        message = str(caught.value)
        assert "\x1b" not in message and "\x07" not in message and "{'" not in message
    assert "no\\x1b[2J" in message


def test_a_result_with_odd_outputs_and_error_values_is_read_without_a_crash():
    def handler(request):
        return httpx.Response(200, json={"data": {"status": "failed", "outputs": [5, None, {"url": 3}, ["x"],
                                                                                 "https://cdn/x.mp4"],
                                                  "error": {"reason": "\x1b[31mred"}}})

    state = asyncio.run(client(handler).result("t1"))
    assert state.outputs == ["https://cdn/x.mp4"]
    assert "\x1b" not in state.error and "{'" not in state.error and "reason" in state.error


def test_the_live_display_shows_markup_and_escapes_in_details_as_text():
    from storyboard.cli.progress import Progress
    from storyboard.plan.types import Plan

    plan = Plan.model_construct(jobs=[], takes=[], title="t", provider="wavespeed")
    job = type("J", (), {"label": "s[/]\x1b[2J", "cost": Decimal(1)})()
    plan = Plan.model_construct(**{**plan.__dict__, "jobs": [job], "takes": []})
    screen = io.StringIO()
    with Progress(plan, Decimal(1), file=screen, force_terminal=True) as progress:
        progress("s[/]\x1b[2J", "failed", "the API said [/bold] \x1b[2J\x1b[1A gone")
    shown = screen.getvalue()
    assert "\x1b[2J" not in shown and "\x1b[1A gone" not in shown
    assert "[/bold]" in shown and "gone" in shown
    assert "\x1b[" in shown  # rich's own colours still reach a terminal


def test_the_plain_progress_lines_escape_details_too():
    from storyboard.cli.progress import Progress
    from storyboard.plan.types import Plan

    job = type("J", (), {"label": "s", "cost": Decimal(1)})()
    plan = Plan.model_construct(jobs=[job], takes=[], title="t", provider="wavespeed")
    log = io.StringIO()
    with Progress(plan, Decimal(1), file=log, force_terminal=False) as progress:
        progress("s", "failed", "said \x1b]0;title\x07 and\nmore")
    assert log.getvalue() == "s: failed (said \\x1b]0;title\\x07 and\\x0amore)\n"
