"""Settings read from the environment."""

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from functions.config import MODEL_DIR, Settings, get_settings


def test_defaults_serve_the_shipped_model(configure: Callable[..., None]) -> None:
    configure(MODEL_DIR=None, AUDIT_TABLE=None, MAX_BODY_BYTES=None)
    settings = get_settings()
    assert settings.model_dir == MODEL_DIR
    assert (MODEL_DIR / "model.json").is_file()
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.audit_enabled is False
    assert settings.powertools_metrics_namespace == "CreditDefault"


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("http://a.test", ("http://a.test",)),
        (" http://a.test , http://b.test,", ("http://a.test", "http://b.test")),
    ],
)
def test_cors_origins_split_on_commas(
    configure: Callable[..., None], value: str, origins: tuple[str, ...]
) -> None:
    configure(CORS_ORIGINS=value)
    assert get_settings().cors_origins == origins


@pytest.mark.parametrize("name", ["AUDIT_TABLE", "AUDIT_KEY_SECRET_ARN", "AUDIT_HASH_KEY"])
def test_empty_audit_variables_count_as_unset(configure: Callable[..., None], name: str) -> None:
    configure(**{name: ""})
    assert getattr(get_settings(), name.lower()) is None


def test_short_hmac_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(audit_hash_key="short")


def test_settings_are_cached_until_cleared(configure: Callable[..., None]) -> None:
    configure(MAX_BODY_BYTES="2048")
    assert get_settings() is get_settings()
    assert get_settings().max_body_bytes == 2048


@pytest.mark.parametrize(("function_name", "in_thread"), [(None, True), ("credit-default-Fn", False)])
def test_batches_are_scored_inline_only_under_lambda(
    configure: Callable[..., None], function_name: str | None, in_thread: bool
) -> None:
    configure(AWS_LAMBDA_FUNCTION_NAME=function_name)
    assert get_settings().score_in_thread is in_thread
