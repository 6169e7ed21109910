"""Media digests: sha256 of the bytes, memoised by (path, size, mtime)."""

from __future__ import annotations

import hashlib
import os

from conftest import DATA, EXAMPLES, PNG_1, PNG_2
from storyboard.format.media import MediaIndex, inspect_file
from storyboard.plan.project import compile_project


def test_digest_is_sha256_of_the_bytes(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(PNG_1)
    info = inspect_file(f)
    assert info.sha256 == hashlib.sha256(PNG_1).hexdigest()
    assert (info.kind, info.format, info.size) == ("image", "png", len(PNG_1))


def test_kinds_and_lengths_of_real_media():
    waves = inspect_file(EXAMPLES / "lighthouse" / "refs" / "waves.mp4")
    assert (waves.kind, waves.format) == ("video", "mp4") and abs(waves.duration - 4.0) < 0.05
    theme = inspect_file(EXAMPLES / "lighthouse" / "refs" / "theme.m4a")
    assert theme.kind == "audio" and abs(theme.duration - 30.0) < 0.05
    assert inspect_file(DATA / "invalid" / "refs" / "notes.txt").kind == "unknown"


def test_memo_skips_unchanged_files_and_rereads_changed_ones(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(PNG_1)
    index = MediaIndex(tmp_path)
    first = index.info(f, "a.png")
    index.save()
    assert index.hashed == 1 and index.state_path.is_file()

    warm = MediaIndex(tmp_path)
    assert warm.info(f, "a.png") == first and warm.hashed == 0

    f.write_bytes(PNG_2)
    os.utime(f, ns=(1, 1))
    changed = MediaIndex(tmp_path)
    assert changed.info(f, "a.png").sha256 == hashlib.sha256(PNG_2).hexdigest() and changed.hashed == 1


def test_corrupt_memo_is_ignored(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(PNG_1)
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / ".storyboard" / "media.json").write_text("{not json")
    index = MediaIndex(tmp_path)
    assert index.info(f, "a.png").sha256 == hashlib.sha256(PNG_1).hexdigest()


def test_replan_reads_no_media(lighthouse, monkeypatch):
    compile_project(str(lighthouse))
    assert (lighthouse / ".storyboard" / "media.json").is_file()
    calls = []
    import storyboard.format.media as media

    real = media.inspect_file
    monkeypatch.setattr(media, "inspect_file", lambda p: calls.append(p) or real(p))
    compile_project(str(lighthouse))
    assert calls == []


def test_unwritable_memo_still_plans(lighthouse):
    (lighthouse / ".storyboard").write_text("a file where the state folder would go")
    plan = compile_project(str(lighthouse)).plan
    assert len(plan.jobs) == 6
