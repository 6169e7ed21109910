"""The safe YAML layer: positions, duplicates, tags, aliases, limits."""

from __future__ import annotations

import pytest

from storyboard.errors import StoryboardError
from storyboard.format.load import MAX_FILE_BYTES, read_document
from storyboard.format.source import Reporter
from storyboard.format.yamlsrc import parse_yaml


def parse(text: str):
    reporter = Reporter("s.yaml")
    data, source = parse_yaml(text, reporter)
    return data, source, [d.format() for d in reporter.diagnostics]


def test_positions_of_values_and_keys_are_one_based():
    data, source, errors = parse("version: 1\nshots:\n  - id: a\n    prompt: hello\n")
    assert errors == []
    assert data == {"version": 1, "shots": [{"id": "a", "prompt": "hello"}]}
    assert source.values[("shots", 0, "prompt")] == (4, 13)
    assert source.keys[("shots", 0, "prompt")] == (4, 5)
    assert source.values[("shots", 0)] == (3, 5)


def test_duplicate_key_names_both_lines():
    _, _, errors = parse("a: 1\nb: 2\na: 3\n")
    assert errors == ["s.yaml:3:1: a: duplicate key `a` (first given on line 1); keep one: YAML would silently use the last"]


def test_unquoted_aspect_ratio_is_not_base_60():
    data, _, _ = parse("aspect_ratio: 16:9\nother: 9:16\nquoted: '1:1'\n")
    assert data == {"aspect_ratio": "16:9", "other": "9:16", "quoted": "1:1"}


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!python/name:os.system", "!custom", "!!binary"])
def test_non_plain_tags_are_refused(tag):
    data, _, errors = parse(f"a: {tag} aGVsbG8=\n")
    assert data is None
    assert len(errors) == 1 and "is not allowed here" in errors[0]


def test_alias_bomb_is_refused_quickly():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    data, _, errors = parse("\n".join(lines) + "\n")
    assert data is None
    assert "alias bomb" in errors[0]


def test_recursive_alias_is_refused():
    data, _, errors = parse("a: &a [1, *a]\n")
    assert data is None and "cycle" in errors[0]


def test_small_aliases_and_merge_keys_work():
    data, _, errors = parse("base: &b {duration: 5, sound: true}\nshot:\n  <<: *b\n  sound: false\n  id: x\n")
    assert errors == []
    assert data["shot"] == {"duration": 5, "sound": False, "id": "x"}


def test_syntax_error_has_position():
    _, _, errors = parse("a: [1, 2\nb: 3\n")
    assert errors[0].startswith("s.yaml:2:") and "YAML syntax error" in errors[0]


def test_deep_nesting_is_refused():
    _, _, errors = parse("a: " + "[" * 200 + "]" * 200 + "\n")
    assert errors and "nested too deeply" in errors[0]


def test_huge_file_is_refused_without_reading(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    doc = read_document(path, "big.yaml")
    assert doc.data is None
    assert doc.reporter.diagnostics[0].format().startswith("big.yaml:1:1: the file is 16.0 MiB")


def test_binary_and_non_utf8_files(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"version: 1\ntitle: caf\xe9\n")
    doc = read_document(tmp_path / "a.yaml", "a.yaml")
    assert doc.reporter.diagnostics[0].format() == "a.yaml:2:11: the file is not UTF-8 text (byte 0xe9)"
    (tmp_path / "b.yaml").write_bytes(b"\x00\x01\x02")
    assert "binary" in read_document(tmp_path / "b.yaml", "b.yaml").reporter.diagnostics[0].message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(StoryboardError, match="no such file"):
        read_document(tmp_path / "nope.yaml", "nope.yaml")
    with pytest.raises(StoryboardError, match="is a folder"):
        read_document(tmp_path, "dir")
