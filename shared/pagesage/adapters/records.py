"""What a store writes is what it can read back: every record is serialized, then validated
back into its own model before it is written.

A value that serializes but does not validate (a float that became `null`, a number past a
bound) would otherwise make the record unreadable for good: every later read of it would fail.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from pagesage.errors import validation_failed


def checked_json(model: BaseModel) -> str:
    """`model` as JSON, after checking that the JSON validates as `type(model)` again.

    Raises:
        ValidationFailed: the JSON would not read back; `field` names the first bad value.
    """
    data = model.model_dump_json()
    try:
        type(model).model_validate_json(data)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    return data


def checked_dict(model: BaseModel) -> dict[str, Any]:
    """`model` as a JSON-compatible dict (`model_dump(mode="json")`), after checking that it
    validates as `type(model)` again. Raises `ValidationFailed` as `checked_json` does."""
    data = model.model_dump(mode="json")
    try:
        type(model).model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    return data
