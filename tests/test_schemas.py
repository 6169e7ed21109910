"""The committed JSON Schemas are what `storyboard schema --write` makes, and
the examples and plans validate against them."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import EXAMPLES, ROOT
from storyboard.plan.project import compile_project
from storyboard.review.schemas import SCHEMAS, schema_text

jsonschema = pytest.importorskip("jsonschema")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_is_fresh(name):
    committed = ROOT / "schemas" / name
    assert committed.is_file(), f"schemas/{name} is missing: run `storyboard schema --write`"
    assert committed.read_text("utf-8") == schema_text(SCHEMAS[name]), (
        f"schemas/{name} is stale: run `storyboard schema --write`"
    )


def test_every_field_is_described():
    schema = json.loads(schema_text(SCHEMAS["storyboard.schema.json"]))
    for name, definition in [("Storyboard", schema), *schema.get("$defs", {}).items()]:
        for field, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"


@pytest.mark.parametrize("example", sorted(p.parent.name for p in EXAMPLES.glob("*/storyboard.yaml")))
def test_examples_match_the_schema_and_name_it(example):
    path = EXAMPLES / example / "storyboard.yaml"
    assert path.read_text().startswith("# yaml-language-server: $schema=../../schemas/storyboard.schema.json")
    schema = json.loads((ROOT / "schemas" / "storyboard.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_plan_matches_its_schema(lighthouse):
    plan = json.loads(compile_project(str(lighthouse)).plan.to_json())
    jsonschema.validate(plan, json.loads((ROOT / "schemas" / "plan.schema.json").read_text()))
