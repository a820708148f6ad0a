"""The feature contract: the 23 inputs, declared once, and the API's request and response models."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from functions.scoring.strategy.answer import ClientReference, StrategyAnswer

MONTHS: Final = ("September", "August", "July", "June", "May", "April")  # 2005, newest first
PAY_STATUS_CODES: Final = {
    -2: "no consumption",
    -1: "paid in full",
    0: "revolving credit (minimum paid)",
    **{n: f"{n} month{'s' if n > 1 else ''} late" for n in range(1, 9)},
    9: "9 or more months late",
}
SEX_CODES: Final = {1: "male", 2: "female"}
EDUCATION_CODES: Final = {
    0: "undocumented (0)",
    1: "graduate school",
    2: "university",
    3: "high school",
    4: "others",
    5: "undocumented (5)",
    6: "undocumented (6)",
}
MARRIAGE_CODES: Final = {0: "undocumented (0)", 1: "married", 2: "single", 3: "others"}
MAX_AMOUNT: Final = 10_000_000  # NT$; the data's largest amount is 1,684,259
# Keys a request object may carry before it is refused as a whole: pydantic reports every unknown key
# separately (~0.6 KB each), so a 1 MiB body of 131,000 short keys took 2.6 s and 124 MiB to answer.
MAX_KEYS: Final = 32

_STRICT: Final = {"strict": True}


def _whole_number(value: Any) -> Any:
    """Read 2.0 as 2: JSON Schema counts a number without fraction as an integer; 2.5, true, "2" stay invalid."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = BeforeValidator(_whole_number)
# Amounts are NT$, whole numbers in the data; decimals are accepted, infinities and NaN are not.
CreditLimit = Annotated[
    float, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, json_schema_extra={"unit": "NT$"})
]
BillAmount = Annotated[
    float,
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False, json_schema_extra={"unit": "NT$"}),
]
PaymentAmount = Annotated[
    float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False, json_schema_extra={"unit": "NT$"})
]
PayStatus = Annotated[
    int,
    Field(
        ge=-2,
        le=9,
        strict=True,
        json_schema_extra={"unit": "code", "codes": {str(k): v for k, v in PAY_STATUS_CODES.items()}},
    ),
    WholeNumber,
]


def _pay(month: str) -> Any:
    return Field(
        description=f"Repayment status in {month} 2005: -2 no consumption, -1 paid in full, "
        "0 revolving credit, 1-8 months late, 9 nine or more months late."
    )


def _bill(month: str) -> Any:
    return Field(description=f"Bill statement amount in {month} 2005, NT$ (negative: in credit).")


def _paid(month: str) -> Any:
    return Field(description=f"Amount paid in {month} 2005, NT$.")


class RequestModel(BaseModel):
    """A request body object: strict types, unknown keys refused, and at most MAX_KEYS keys at all."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def few_enough_keys(cls, data: Any) -> Any:
        """Refuse an object with far more keys than any request model has, as one error."""
        if isinstance(data, dict) and len(data) > MAX_KEYS:
            raise PydanticCustomError(
                "too_many_fields",
                "{count} fields; at most {limit} are read, and unknown fields are refused",
                {"count": len(data), "limit": MAX_KEYS},
            )
        return data


class Applicant(RequestModel):
    """One credit-card client: the 23 inputs of the UCI dataset, in lower snake case."""

    limit_bal: Annotated[
        CreditLimit,
        Field(description="Amount of given credit (individual plus family/supplementary), NT$."),
    ]
    sex: Annotated[
        int | None,
        Field(
            ge=1,
            le=2,
            description="1 male, 2 female. Accepted for fairness reporting only; the model does not use it.",
            json_schema_extra={"unit": "code", "codes": {str(k): v for k, v in SEX_CODES.items()}},
        ),
        WholeNumber,
    ] = None
    education: Annotated[
        int,
        Field(
            ge=0,
            le=6,
            description="1 graduate school, 2 university, 3 high school, 4 others; 0, 5, 6 occur undocumented.",
            json_schema_extra={"unit": "code", "codes": {str(k): v for k, v in EDUCATION_CODES.items()}},
        ),
        WholeNumber,
    ]
    marriage: Annotated[
        int | None,
        Field(
            ge=0,
            le=3,
            description="1 married, 2 single, 3 others; 0 occurs undocumented. "
            "Accepted for fairness reporting only; the model does not use it.",
            json_schema_extra={"unit": "code", "codes": {str(k): v for k, v in MARRIAGE_CODES.items()}},
        ),
        WholeNumber,
    ] = None
    age: Annotated[
        int,
        Field(ge=18, le=100, description="Age in years.", json_schema_extra={"unit": "years"}),
        WholeNumber,
    ]
    pay_0: Annotated[PayStatus, _pay(MONTHS[0])]
    pay_2: Annotated[PayStatus, _pay(MONTHS[1])]
    pay_3: Annotated[PayStatus, _pay(MONTHS[2])]
    pay_4: Annotated[PayStatus, _pay(MONTHS[3])]
    pay_5: Annotated[PayStatus, _pay(MONTHS[4])]
    pay_6: Annotated[PayStatus, _pay(MONTHS[5])]
    bill_amt1: Annotated[BillAmount, _bill(MONTHS[0])]
    bill_amt2: Annotated[BillAmount, _bill(MONTHS[1])]
    bill_amt3: Annotated[BillAmount, _bill(MONTHS[2])]
    bill_amt4: Annotated[BillAmount, _bill(MONTHS[3])]
    bill_amt5: Annotated[BillAmount, _bill(MONTHS[4])]
    bill_amt6: Annotated[BillAmount, _bill(MONTHS[5])]
    pay_amt1: Annotated[PaymentAmount, _paid(MONTHS[0])]
    pay_amt2: Annotated[PaymentAmount, _paid(MONTHS[1])]
    pay_amt3: Annotated[PaymentAmount, _paid(MONTHS[2])]
    pay_amt4: Annotated[PaymentAmount, _paid(MONTHS[3])]
    pay_amt5: Annotated[PaymentAmount, _paid(MONTHS[4])]
    pay_amt6: Annotated[PaymentAmount, _paid(MONTHS[5])]


# Example clients, valid under the contract: the frontend's presets, the smoke test's request, test fixtures.
EXAMPLES: Final[dict[str, dict[str, int]]] = {
    "typical": {
        "limit_bal": 200000, "sex": 2, "education": 2, "marriage": 1, "age": 35,
        "pay_0": 0, "pay_2": 0, "pay_3": 0, "pay_4": 0, "pay_5": 0, "pay_6": 0,
        "bill_amt1": 50000, "bill_amt2": 48000, "bill_amt3": 46000, "bill_amt4": 44000, "bill_amt5": 42000,
        "bill_amt6": 40000,
        "pay_amt1": 2000, "pay_amt2": 2000, "pay_amt3": 2000, "pay_amt4": 2000, "pay_amt5": 2000,
        "pay_amt6": 2000,
    },
    "high_risk": {
        "limit_bal": 20000, "sex": 2, "education": 3, "marriage": 1, "age": 23,
        "pay_0": 3, "pay_2": 2, "pay_3": 2, "pay_4": 2, "pay_5": 0, "pay_6": 0,
        "bill_amt1": 19500, "bill_amt2": 19000, "bill_amt3": 18500, "bill_amt4": 18000, "bill_amt5": 17000,
        "bill_amt6": 16000,
        "pay_amt1": 0, "pay_amt2": 0, "pay_amt3": 500, "pay_amt4": 0, "pay_amt5": 1000, "pay_amt6": 0,
    },
}  # fmt: skip


@dataclass(frozen=True)
class FeatureSpec:
    """One input as the dataset, the API and the frontend see it."""

    name: str
    column: str  # the dataset's column name
    kind: str  # "amount" | "code" | "count"
    unit: str
    description: str
    minimum: float
    maximum: float
    exclusive_minimum: bool
    codes: dict[int, str] | None
    required: bool


def _spec(name: str) -> FeatureSpec:
    field = Applicant.model_fields[name]
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        for key in ("gt", "ge", "le"):
            if getattr(item, key, None) is not None:
                bounds[key] = getattr(item, key)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    raw_codes = extra.get("codes")
    codes = {int(k): str(v) for k, v in raw_codes.items()} if isinstance(raw_codes, dict) else None
    unit = str(extra.get("unit", ""))
    return FeatureSpec(
        name=name,
        column=name.upper(),
        kind="amount" if unit == "NT$" else "code" if codes else "count",
        unit=unit,
        description=field.description or "",
        minimum=float(bounds.get("gt", bounds.get("ge", 0))),
        maximum=float(bounds["le"]),
        exclusive_minimum="gt" in bounds,
        codes=codes,
        required=field.is_required(),
    )


FEATURE_NAMES: Final[tuple[str, ...]] = tuple(Applicant.model_fields)
FEATURES: Final[tuple[FeatureSpec, ...]] = tuple(_spec(name) for name in FEATURE_NAMES)
FEATURE_BY_NAME: Final = {spec.name: spec for spec in FEATURES}
PROTECTED: Final = ("sex", "marriage")  # prohibited bases for a credit decision; never model inputs
PAY_STATUS: Final = tuple(f"pay_{k}" for k in (0, 2, 3, 4, 5, 6))
BILLS: Final = tuple(f"bill_amt{k}" for k in range(1, 7))
PAYMENTS: Final = tuple(f"pay_amt{k}" for k in range(1, 7))
TARGET: Final = "default"


def raw_values(record: Mapping[str, Any]) -> list[float]:
    """Return one client's 23 raw inputs in contract order; an omitted optional code counts as 0 (as training)."""
    return [float(record.get(name) or 0.0) for name in FEATURE_NAMES]


MAX_BATCH: Final = 1000  # applicants per /v1/predict/batch request


class ClientApplication(Applicant):
    """One client's 23 inputs and, optionally, the caller's client reference (it picks the strategy arm)."""

    client_reference: ClientReference | None = None


class BatchRequest(RequestModel):
    """Up to MAX_BATCH applicants, scored in one call."""

    applicants: list[ClientApplication] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} applicants; answers keep the order.",
    )


class ReasonCode(BaseModel):
    """A factor that raises this applicant's PD, in words a credit officer can quote."""

    code: str = Field(description="Factor group, e.g. `latest_status`, `utilisation`, `payments`.")
    text: str = Field(description="Plain-language reason, e.g. '2 months late on the latest payment'.")
    impact: float = Field(
        description="PD minus the PD with this factor group set to the low-risk reference profile of the "
        "manifest (all groups measured in one batched prediction)."
    )
    statement: str = Field(description="The code's one adverse-action statement (table version: /v1/model).")


class Prediction(StrategyAnswer):
    """The model's answer for one applicant, and the credit strategy's decision (`StrategyAnswer`) from it."""

    probability_of_default: float = Field(ge=0, le=1, description="Calibrated PD over the next month.")
    predicted_default: bool = Field(description="Whether the PD reaches the decision threshold.")
    threshold: float = Field(ge=0, le=1, description="PD at or above which a default is predicted.")
    score: int = Field(description="Score: 600 at 50:1 good:bad odds, 20 points double the odds (300-900).")
    risk_grade: str = Field(description="Risk grade A (lowest PD band) to E; bands are in /v1/model.")
    reasons: list[ReasonCode] = Field(description="Up to 4 factors that raise the PD, largest impact first.")
    model_version: str = Field(description="Version of the model that decided.")
    request_id: str = Field(
        description="Id of the API request, the audit record's key (a batch item's: `<request_id>#<index>`)."
    )


class BatchPredictions(BaseModel):
    """One prediction per applicant, in input order."""

    predictions: list[Prediction]
    model_version: str
    request_id: str


class Health(BaseModel):
    """Liveness, with the model loaded and its artifacts verified."""

    status: str = Field(description="`ok` when the model is loaded and verified.")
    model_version: str
    audit: str = Field(description="`enabled` when each decision is written to the audit table.")
