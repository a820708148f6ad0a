"""The frozen records a model manifest is made of: the shared base, measured metrics, candidates, fairness,
grade outcomes and the reference distributions frozen at training (read only through `functions.scoring.manifest`).
"""

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.scoring.contract import FEATURE_NAMES

REFERENCE_RECALL: Final = 0.68  # the reference app's operating point: precision is compared at this recall
PRECISION_AT_RECALL: Final = f"precision_at_recall_{REFERENCE_RECALL}"
VALIDATION_PRECISION_AT_RECALL: Final = f"validation_{PRECISION_AT_RECALL}"

Probability = Annotated[float, Field(ge=0, le=1)]
Rate = Probability | None  # undefined (no one in the group) is null, never NaN
Light = Literal["green", "amber", "red"]
Direction = Literal["under", "over", ""]  # "under": PD below the 95 % interval (risk understated)


class Record(BaseModel):
    """A frozen part of the manifest: unknown keys are refused, aliases are the JSON names."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False, strict=True
    )


class ClassificationMetrics(Record):
    """Ranking, calibration and thresholded metrics for the default class on one split."""

    roc_auc: float
    pr_auc: float
    brier: float
    log_loss: float
    ece: float
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    precision_at_recall: float = Field(alias=PRECISION_AT_RECALL)
    tn: int
    fp: int
    fn: int
    tp: int


class PublishedMetrics(Record):
    """The reference app's published figures (default class, its own threshold)."""

    accuracy: float
    precision: float
    recall: float
    f1: float


class Metrics(Record):
    """Every figure the training protocol measured, each under one name."""

    test: ClassificationMetrics
    baseline_test: ClassificationMetrics
    reference_app_published: PublishedMetrics
    cv_auc_mean: float
    cv_auc_std: float
    validation_auc: float
    serving_parity_max_abs: float
    validation_precision_at_recall: float = Field(alias=VALIDATION_PRECISION_AT_RECALL)
    without_age_education_validation_auc: float
    without_age_education_cv_auc: float


class Candidate(Record):
    """One candidate of the model selection and its validation figures."""

    name: str
    description: str
    compliant: bool
    rounds: int | None
    validation_auc: float
    validation_precision_at_recall: float = Field(alias=VALIDATION_PRECISION_AT_RECALL)
    cv_auc_mean: float
    cv_auc_std: float


class FairnessRow(Record):
    """Outcomes on the test split for one group of a protected attribute (never a model input)."""

    attribute: str
    group: str
    n: int
    selection_rate: Rate
    tpr: Rate
    fpr: Rate
    mean_pd: Rate
    observed_default_rate: Rate


class GradeOutcome(Record):
    """Observed default rate on the test split within one grade's PD band."""

    grade: str
    pd_from: float
    pd_to: float
    n: int
    observed_default_rate: Rate


class ElderlyRule(Record):
    """How the served PD keeps an elderly applicant's age from counting against them (a decision field).

    12 CFR 1002.6(b)(2)(ii), with "elderly" from 1002.2(o) and "negative factor or value" from 1002.2(v);
    the method is `functions/scoring/elderly.py`'s.
    """

    elderly_age: Literal[62]
    non_elderly_ages: tuple[Literal[18], Literal[61]]  # the ages searched, inclusive: 18..61
    method: Literal["most_favourable_non_elderly_age"]
    source: str


ReasonReference = Literal["non_defaulter_medians", "cutoff_population"]


class ReasonMethod(Record):
    """The reference reasons are measured against, the other one compared at training, and additivity.

    Descriptive (not a decision field): the served reference is `Manifest.reference_profile`, which is hashed.
    Agreement and the additivity gap are measured on the declined test clients (served PD >= threshold).
    """

    shipped: ReasonReference  # the reference the served reasons are measured against
    compared: ReasonReference  # the other reference, measured at training only
    cutoff_band: tuple[float, float]  # PD range of the cut-off population (training clients)
    cutoff_clients: int
    cutoff_profile: dict[str, float]  # the compared reference: medians of the cut-off population
    declined_clients: int
    top1_agreement: Probability  # share whose first reason is the same under both references
    top_set_agreement: Probability  # share whose listed reasons (up to four) are the same set
    additivity: Literal["one_at_a_time", "group_shapley"]
    additivity_gap_median: float  # |PD - PD(reference) - sum of impacts|, in PD points
    additivity_gap_p90: float


class ReferenceBins(Record):
    """One input's (or the score's) reference bins frozen at training, with the training share in each.

    Continuous: `edges` are the ascending interior cut points (deduplicated deciles); bin i holds
    edges[i-1] < x <= edges[i], the first and last bins are open. Coded: `categories` are the contract's
    codes, one bin each, plus a last bin for any other value (a missing code). `shares` sum to 1.
    """

    name: str
    kind: Literal["continuous", "categorical"]
    edges: tuple[float, ...] = ()
    categories: tuple[int, ...] = ()
    shares: tuple[Probability, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "ReferenceBins":
        bins = len(self.edges) + 1 if self.kind == "continuous" else len(self.categories) + 1
        if len(self.shares) != bins or list(self.edges) != sorted(set(self.edges)):
            raise ValueError(f"`{self.name}`: {len(self.shares)} shares for {bins} bins, or edges not rising")
        if abs(sum(self.shares) - 1) > 1e-6:
            raise ValueError(f"`{self.name}`: shares sum to {sum(self.shares):.6f}, not 1")
        return self


class ReferenceDistributions(Record):
    """The training population's bins per model input and for the score (points), for PSI (issue 12).

    The test split's per-grade default rates are `Manifest.grades_observed`.
    """

    rows: int = Field(gt=0)
    floor: float = Field(gt=0, lt=0.01)  # share used for an empty bin in PSI
    inputs: tuple[ReferenceBins, ...]
    score: ReferenceBins

    @model_validator(mode="after")
    def _one_per_input(self) -> "ReferenceDistributions":
        if tuple(bins.name for bins in self.inputs) != FEATURE_NAMES or self.score.name != "score":
            raise ValueError("reference bins must cover the contract's inputs in order, then `score`")
        return self


class GainsBand(Record):
    """One score band of the gains (odds) table on the test split, riskiest first (Siddiqi 2006, ch. 9)."""

    band: str  # points, half-open: `< 500`, `500-520` (500 <= points < 520), `>= 700`
    clients: int = Field(ge=1)
    defaults: int = Field(ge=0)
    default_rate: Probability
    odds: float | None  # good:bad; null when the band has no default
    captured: Probability  # cumulative share of all test defaults in this band and the riskier ones


class GradeLight(Record):
    """One grade's back-test on the test split: mean PD against the Jeffreys intervals of its default rate."""

    grade: str
    clients: int = Field(ge=1)
    defaults: int = Field(ge=0)
    mean_pd: Probability
    observed_default_rate: Probability
    interval_95: tuple[Probability, Probability]
    interval_999: tuple[Probability, Probability]
    light: Light
    direction: Direction


class AucCeiling(Record):
    """The credible held-out AUC range stated for this dataset, and the best credible published figure."""

    low: float
    high: float
    best_published: float
    note: str


class BackTest(Record):
    """A back-test of n PDs against realised 0/1 defaults (Basel Committee WP14, 2005).

    One type for the monitoring command, the UI and (with PSI and the ceiling) the manifest's evidence.
    AUC and Brier carry percentile bootstrap intervals (`bootstrap_rounds` resamples, `seed`, `level`);
    Gini is 2 * AUC - 1; KS is the largest gap between the two classes' PD distributions.
    """

    rows: int = Field(gt=0)
    defaults: int = Field(gt=0)
    auc: Probability
    auc_interval: tuple[Probability, Probability]
    gini: float = Field(ge=-1, le=1)
    ks: Probability
    brier: Probability
    brier_interval: tuple[Probability, Probability]
    mean_pd: Probability
    default_rate: Probability
    bootstrap_rounds: int = Field(gt=0)
    seed: int
    level: Probability
    gains: tuple[GainsBand, ...] = Field(min_length=1)
    grades: tuple[GradeLight, ...] = Field(min_length=1)

    @property
    def calibration_in_the_large(self) -> float:
        """Return the mean PD minus the observed default rate (positive: PDs overstate risk)."""
        return self.mean_pd - self.default_rate

    @model_validator(mode="after")
    def _gini_is_auc(self) -> "BackTest":
        if abs(self.gini - (2 * self.auc - 1)) > 1e-12:
            raise ValueError(f"`gini` {self.gini} is not 2 * AUC - 1 ({2 * self.auc - 1})")
        return self


class ValidationEvidence(BackTest):
    """The shipped model's back-test on the held-out test split, with its PSI and the dataset's AUC ceiling.

    `psi` is the population stability of the test split against the training reference, per input and on the score.
    """

    psi: dict[str, float]
    ceiling: AucCeiling

    @model_validator(mode="after")
    def _psi_per_input(self) -> "ValidationEvidence":
        if tuple(self.psi) != (*FEATURE_NAMES, "score"):
            raise ValueError("`psi` must cover the contract's inputs in order, then `score`")
        return self
