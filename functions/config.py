"""Settings(BaseSettings) and its cached getter: the only reader of the app's environment."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model"
LOCAL_DECISION_LOG: Final = MODEL_DIR.parent / "var" / "decisions.sqlite"  # `make run`'s log (git-ignored)
MIB: Final = 1024 * 1024
HMAC_KEY_MIN_LENGTH: Final = (
    32  # characters (bytes) of the audit HMAC key, from any source: shorter is guessable
)
# The fewest decisions (or rows) worth a PSI verdict: an unchanged population's PSI over B bins is about
# (B - 1) / rows from sampling alone (chi-square approximation; Yurdakul 2018, sec. 3), 0.045 at 200 rows over
# 10 bins, under half the 0.10 "stable" line; on 3 rows almost every input would read "shifted".
# Above it, each verdict is still judged against the critical PSI for its own sample size (monitoring/noise.py).
DRIFT_MIN_DECISIONS: Final = 200


class Settings(BaseSettings):
    """Runtime configuration; each field is read from the environment variable of the same name."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    model_dir: Path = MODEL_DIR
    # A body above this many bytes gets 413; 1 MiB holds a full batch of 1,000 applicants (~0.4 MiB).
    max_body_bytes: int = Field(default=MIB, gt=0)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()  # comma-separated list of allowed origins
    # Static prefix when served behind a proxy that strips it (uvicorn). Under API Gateway the stage
    # prefix (/Prod) is read from each event instead, so the same image works with any stage.
    root_path: str = ""
    # A custom-domain base path mapping that API Gateway leaves in the path; passed to Mangum.
    api_base_path: str = "/"
    log_level: str = "INFO"
    # "json" (Lambda, CloudWatch Logs Insights) or "line": one short line per request (`make run`).
    log_format: Literal["json", "line"] = "json"
    powertools_service_name: str = "credit-default"
    powertools_metrics_namespace: str = "CreditDefault"
    powertools_metrics_disabled: bool = False
    # Decision audit trail: on when AUDIT_TABLE is set. The HMAC key that hashes the inputs comes from
    # Secrets Manager (AUDIT_KEY_SECRET_ARN, read once per container) or, for local runs, from
    # AUDIT_HASH_KEY. With a table but neither key, scoring answers 503: no decision goes unaudited.
    audit_table: str | None = None
    audit_key_secret_arn: str | None = None
    audit_hash_key: SecretStr | None = None
    # Per AWS call: connect and read timeouts, and attempts including the first. With these, an
    # outage answers 503 within about 2 s (two attempts of 0.4 s plus a jittered backoff below 1 s).
    audit_timeout_seconds: float = Field(default=0.4, gt=0)
    audit_max_attempts: int = Field(default=2, ge=1, le=5)
    # Under Lambda, audit writes must end this long before the invocation's time runs out, so the app can
    # still answer 503 itself (a timeout would reach the client as API Gateway's 502).
    audit_deadline_margin_seconds: float = Field(default=1.5, ge=0)
    # The key POST /v1/predict* require off API Gateway (uvicorn, `serve` in a container): clients send it in
    # `x-api-key`; unset, the app checks none. On AWS the gateway's usage-plan key is checked before the app.
    api_key: SecretStr | None = None
    # Embedded decision log for runs without DynamoDB (`make run`): the same records in a SQLite file. Used
    # only when AUDIT_TABLE is unset; the HMAC key is AUDIT_HASH_KEY or one generated beside the file.
    decision_log: Path | None = None
    # The credit strategy (docs/strategy.md): STRATEGY_FILE, else `strategy.yaml` beside the model. With a
    # challenger, the arm of a client is an HMAC of its reference under STRATEGY_ARM_KEY, else the audit key.
    strategy_file: Path | None = None
    strategy_arm_key: SecretStr | None = None
    # The drift job (functions/monitoring/job.py): decisions of the last this many hours, and the fewest
    # decisions worth a PSI (below it the job reports the count and publishes no PSI).
    drift_window_hours: int = Field(default=24, ge=1, le=24 * 31)
    drift_min_decisions: int = Field(default=DRIFT_MIN_DECISIONS, ge=1)
    # The closed loop (functions/monitoring/loop/join.py): decisions of the last this many days are joined to their
    # outcomes by the daily job (card defaults mature 1 to 12 months after a decision).
    outcome_window_days: int = Field(default=400, ge=1, le=3660)
    # Set by the Lambda runtime. A container there serves one request at a time, so a batch is scored
    # inline: handing it to a worker thread costs ~70 ms for 1,000 applicants and buys nothing.
    aws_lambda_function_name: str | None = None
    # The secret that lets the deploy hook and the smoke test mark their requests synthetic (functions/api/
    # synthetic.py): given directly, or on AWS as a Secrets Manager secret. Without one no mark is honoured.
    synthetic_traffic_token: SecretStr | None = None
    synthetic_traffic_secret_arn: str | None = None
    # Set by the Lambda runtime: the region every AWS client of functions/aws.py uses (unset: boto3's own chain).
    aws_region: str | None = None
    # The pre-traffic hook (functions/api/pretraffic.py): the ARN of the version CodeDeploy is about to shift to.
    scoring_function_version: str | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        """Accept a comma-separated string, as CloudFormation passes it."""
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator(
        "audit_table",
        "audit_key_secret_arn",
        "audit_hash_key",
        "decision_log",
        "api_key",
        "strategy_file",
        "strategy_arm_key",
        "synthetic_traffic_token",
        "synthetic_traffic_secret_arn",
        mode="before",
    )
    @classmethod
    def empty_is_unset(cls, value: object) -> object:
        """Treat an empty variable as unset (CloudFormation cannot omit one conditionally)."""
        return None if value == "" else value

    @field_validator("audit_hash_key")
    @classmethod
    def long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a short HMAC key: it would make the hashed inputs guessable."""
        if value is not None and len(value.get_secret_value()) < HMAC_KEY_MIN_LENGTH:
            raise ValueError(f"AUDIT_HASH_KEY must be at least {HMAC_KEY_MIN_LENGTH} characters")
        return value

    @field_validator("strategy_arm_key")
    @classmethod
    def long_arm_key(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a short arm key: a guessable key would let a caller choose its strategy arm."""
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("STRATEGY_ARM_KEY must be at least 32 characters")
        return value

    @field_validator("api_key", "synthetic_traffic_token")
    @classmethod
    def hard_to_guess(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a short API key or synthetic-traffic token: it could be guessed."""
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "API_KEY and SYNTHETIC_TRAFFIC_TOKEN must be at least 16 characters; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @property
    def strategy_path(self) -> Path:
        """Return the strategy file served: STRATEGY_FILE, else `strategy.yaml` beside the model."""
        return self.strategy_file or self.model_dir / "strategy.yaml"

    @property
    def api_key_required(self) -> bool:
        """Whether the scoring routes need `x-api-key`: the app checks API_KEY, or API Gateway checks its own."""
        return self.api_key is not None or self.aws_lambda_function_name is not None

    @property
    def score_in_thread(self) -> bool:
        """Whether a batch is scored in a worker thread (uvicorn: keep serving other requests meanwhile)."""
        return self.aws_lambda_function_name is None

    @property
    def audit_enabled(self) -> bool:
        """Whether each decision must be recorded (DynamoDB audit table, or the local decision log)."""
        return self.audit_table is not None or self.decision_log is not None

    @property
    def audit_key_missing(self) -> bool:
        """Whether DynamoDB auditing is on without an HMAC key (the local log generates its own)."""
        return self.audit_table is not None and not (self.audit_key_secret_arn or self.audit_hash_key)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once; tests call `get_settings.cache_clear()` after changing the environment."""
    return Settings()
