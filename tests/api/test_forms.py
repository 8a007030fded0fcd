"""api/forms.py's tolerance rules, table-driven (issue 19): unknown keys are ignored, known
keys keep strict types, keys in a form's `not_yet` are refused by name unless inert."""

from __future__ import annotations

import pytest

from api.forms import Form, NotYet, not_yet, validate
from core.errors import InvalidForm


class _Inner(Form):
    size: int = 0
    not_yet = not_yet(colour=NotYet("No colours."))


class _Outer(Form):
    name: str | None = None
    items: list[_Inner] = []  # noqa: RUF012 (pydantic copies defaults)
    not_yet = not_yet(
        poll=NotYet("No polls."),
        stickers=NotYet("No stickers.", inert=(None, [])),
        flags=NotYet("No flags.", inert=(None, 0)),
    )


@pytest.mark.parametrize(
    ("body", "name", "sizes"),
    [
        ({}, None, []),
        ({"name": "x", "whatever": {"deep": [1]}, "enforce_nonce": False}, "x", []),
        ({"poll": None, "stickers": [], "flags": 0}, None, []),
        ({"items": [{"size": 2, "unknown": True}, {"colour": None}]}, None, [2, 0]),
    ],
)
def test_accepted_bodies(body: dict[str, object], name: str | None, sizes: list[int]) -> None:
    form = validate(_Outer, body)
    assert (form.name, [item.size for item in form.items]) == (name, sizes)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"poll": {}}, {("poll",): ["UNSUPPORTED"]}),
        ({"stickers": ["1"], "poll": 1}, {("poll",): ["UNSUPPORTED"], ("stickers",): ["UNSUPPORTED"]}),
        # By type: `false` is not the inert `0`, nor `0.0`.
        ({"flags": False}, {("flags",): ["UNSUPPORTED"]}),
        ({"flags": 0.0}, {("flags",): ["UNSUPPORTED"]}),
        ({"flags": 4}, {("flags",): ["UNSUPPORTED"]}),
        # Named where it nests, beside other problems of other items.
        ({"items": [{"colour": "red"}, {"size": "2"}]}, {("items", 0, "colour"): ["UNSUPPORTED"], ("items", 1, "size"): ["NUMBER_TYPE_COERCE"]}),
        # Known keys keep strict types beside ignored ones.
        ({"name": 5, "extra": "ignored"}, {("name",): ["BASE_TYPE_STRING"]}),
    ],
)  # fmt: skip
def test_refused_bodies(
    body: dict[str, object], errors: dict[tuple[object, ...], list[str]]
) -> None:
    with pytest.raises(InvalidForm) as refused:
        validate(_Outer, body)
    assert {path: [e.code for e in found] for path, found in refused.value.errors.items()} == errors


def test_the_refusal_says_what_is_missing() -> None:
    with pytest.raises(InvalidForm) as refused:
        validate(_Outer, {"poll": {"question": "?"}})
    [problem] = refused.value.errors[("poll",)]
    assert (problem.code, problem.message) == ("UNSUPPORTED", "No polls.")
