"""The JSON Schemas in ``schemas/``, generated from the models.

``storyboard schema --write`` regenerates them; a test fails when the
committed copies are stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from ..render.lock import Lock
from ..format.model import Storyboard
from ..plan.types import Plan
from ..plan.prices import PriceList

DRAFT = "https://json-schema.org/draft/2020-12/schema"

SCHEMAS: dict[str, type[BaseModel]] = {
    "storyboard.schema.json": Storyboard,
    "plan.schema.json": Plan,
    "prices.schema.json": PriceList,
    "lock.schema.json": Lock,
}


def schema_text(model: type[BaseModel]) -> str:
    schema = {"$schema": DRAFT, **model.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        text = schema_text(model)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
        written.append(path)
    return written
