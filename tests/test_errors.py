"""The error schema's translation of validation errors."""

import pytest

from functions.contract import FEATURE_BY_NAME
from functions.errors import field_path, hint, to_field_errors


@pytest.mark.parametrize(
    ("loc", "path", "index"),
    [
        (("body", "pay_0"), "pay_0", None),
        (("body", "applicants", 3, "pay_0"), "applicants[3].pay_0", 3),
        (("body", "applicants"), "applicants", None),
        (("body",), "body", None),
        ((), "body", None),
    ],
)
def test_field_path_names_field_and_index(loc: tuple[int | str, ...], path: str, index: int | None) -> None:
    assert field_path(loc) == (path, index)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("limit_bal", "a number (NT$) above 0 to 10,000,000"),
        ("bill_amt1", "a number (NT$) from -10,000,000 to 10,000,000"),
        ("pay_0", "an integer code from -2 to 9"),
        ("sex", "an integer code from 1 to 2, or omit it"),
        ("age", "a whole number from 18 to 100"),
    ],
)
def test_hint_says_what_field_accepts(name: str, text: str) -> None:
    assert hint(FEATURE_BY_NAME[name]) == text


def test_field_errors_drop_the_input() -> None:
    errors = [
        {"type": "int_type", "loc": ("body", "age"), "msg": "Input should be a valid integer", "input": "x9"}
    ]
    [described] = to_field_errors(errors, max_batch=1000)
    assert "x9" not in described.model_dump_json()
    assert (described.field, described.type, described.hint) == (
        "age",
        "int_type",
        "a whole number from 18 to 100",
    )


def test_too_long_batch_hint_names_the_limit() -> None:
    errors = [{"type": "too_long", "loc": ("body", "applicants"), "msg": "List should have at most 7 items"}]
    assert to_field_errors(errors, max_batch=7)[0].hint == "send at most 7 applicants per request"


def test_field_path_shortens_a_long_unknown_key() -> None:
    path, _ = field_path(("body", "applicants", 0, "k" * 10_000))
    assert path == f"applicants[0].{'k' * 64}..."
