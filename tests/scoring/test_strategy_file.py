"""Strategy files: the shipped one loads, and each kind of bad file gets a message naming the line, field and remedy."""

import re
from pathlib import Path

import pytest

from functions.config import MODEL_DIR
from functions.scoring.manifest import Manifest, read_manifest
from functions.scoring.strategy.engine import DEFAULT_FILE, parse_strategy, read_strategy
from functions.scoring.strategy.file import StrategyError

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return read_manifest(MODEL_DIR)


def edited(old: str, new: str) -> str:
    """Return the shipped strategy with one exact passage replaced (the passage must be there)."""
    assert SHIPPED.count(old) == 1, old
    return SHIPPED.replace(old, new)


def line_number(text: str, passage: str) -> int:
    return text[: text.index(passage)].count("\n") + 1


def test_the_shipped_strategy_resolves_its_decline_band_at_the_manifest_threshold(manifest: Manifest) -> None:
    strategy = read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=manifest)
    decline = [band for band in strategy.spec.pd_bands if band.decision == "decline"]
    assert [(band.pd_from, band.pd_to) for band in decline] == [(manifest.threshold, 1.0)]
    assert re.fullmatch(r"[0-9a-f]{12}", strategy.version)


def test_the_version_ignores_comments_and_layout_but_not_content(manifest: Manifest) -> None:
    base = parse_strategy(SHIPPED, manifest=manifest).version
    assert parse_strategy("# a new comment\n" + SHIPPED, manifest=manifest).version == base
    assert (
        parse_strategy(
            edited("max_increase_ntd: 50000", "max_increase_ntd: 40000"), manifest=manifest
        ).version
        != base
    )


def test_the_version_follows_the_manifest_threshold_it_references(manifest: Manifest) -> None:
    moved = manifest.model_copy(update={"threshold": 0.3})
    assert (
        parse_strategy(SHIPPED, manifest=moved).version != parse_strategy(SHIPPED, manifest=manifest).version
    )


BAD_FILES = [
    pytest.param(
        ("  lgd: 0.75\n", "  lgd: 0.75\n  haircut: 0.1\n"),
        "haircut:",
        r"`loss\.haircut`: unknown field `haircut`; allowed here: lgd, ccf, source",
        id="unknown-field",
    ),
    pytest.param(
        ("{name: refer_below_cutoff, from: 0.2,", "{name: refer_below_cutoff, from: 0.21,"),
        "{name: refer_below_cutoff",
        r"`pd_bands\[1\]`: gap between bands: PD from 0.2 to 0.21 is in no band",
        id="band-gap",
    ),
    pytest.param(
        ("{name: refer_below_cutoff, from: 0.2,", "{name: refer_below_cutoff, from: 0.15,"),
        "{name: refer_below_cutoff",
        r"`pd_bands\[1\]`: bands overlap: PD from 0.15 to 0.2 is in two bands",
        id="band-overlap",
    ),
    pytest.param(
        ('{input: pay_0, op: ">=", value: 3}', '{input: pay_1, op: ">=", value: 3}'),
        "{input: pay_1",
        r"`policy_rules\[0\]\.when\[0\]`: unknown input `pay_1`; allowed: limit_bal, sex",
        id="rule-on-unknown-input",
    ),
    pytest.param(
        ("low: {action: increase, percent: 5}", "low: {action: increase, percent: 150}"),
        "low: {action: increase, percent: 150}",
        r"`line_management\.matrix\.B\.low`: percent 150 is out of range for `increase`; allowed: above 0 and at most 100",
        id="percent-out-of-range",
    ),
    pytest.param(
        (
            "medium: {action: hold}\n      high: {action: hold}\n      at_limit: {action: decrease, percent: 10}",
            "medium: {action: hold}\n      high: {action: hold}\n      at_limit: {action: decrease, percent: 100}",
        ),
        "at_limit: {action: decrease, percent: 100}",
        r"percent 100 is out of range for `decrease`; allowed: above 0 and below 100",
        id="decrease-of-everything",
    ),
    pytest.param(
        ("    C:\n", "    Z:\n"),
        "  matrix:",
        r"`line_management\.matrix`: no row for risk grade `C`; the model's grades are A, B, C, D, E",
        id="matrix-missing-a-grade",
    ),
    pytest.param(
        ("      at_limit: {action: freeze}\n  refer:", "  refer:"),
        "    E:",
        r"`line_management\.matrix\.E`: grade `E` has no cell for utilisation band `at_limit`",
        id="matrix-missing-a-cell",
    ),
    pytest.param(
        ("  max_increase_ntd: 50000\n", "  max_increase_ntd: 50000\n  max_increase_ntd: 60000\n"),
        "  max_increase_ntd: 60000",
        r"duplicate key `max_increase_ntd` \(first at line \d+\); each key may appear once",
        id="duplicate-key",
    ),
    pytest.param(
        ("  - code: P02_LATE_EVERY_MONTH", "  - code: P01_SERIOUS_ARREARS_NOW"),
        "  - code: P01_SERIOUS_ARREARS_NOW\n    statement: Late",
        r"`policy_rules\[1\]`: rule code `P01_SERIOUS_ARREARS_NOW` appears twice",
        id="repeated-rule-code",
    ),
]


@pytest.mark.parametrize(("change", "line_of", "message"), BAD_FILES)
def test_a_bad_strategy_file_is_refused_naming_its_line_and_field(
    manifest: Manifest, change: tuple[str, str], line_of: str, message: str
) -> None:
    text = edited(*change)
    with pytest.raises(StrategyError, match=message) as caught:
        parse_strategy(text, manifest=manifest)
    assert re.match(f"{DEFAULT_FILE}: line {line_number(text, line_of)}[,:] ", str(caught.value))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just words\n", "a str"), ("", "empty"), ("42\n", "a int")],
    ids=["list", "scalar", "empty", "number"],
)
def test_yaml_that_is_not_a_mapping_is_refused(manifest: Manifest, text: str, kind: str) -> None:
    with pytest.raises(
        StrategyError, match=f"line 1: the file must be a mapping of fields .*but it is {kind}"
    ):
        parse_strategy(text, manifest=manifest)


def test_broken_yaml_names_its_line(manifest: Manifest) -> None:
    with pytest.raises(StrategyError, match=r"line \d+: not valid YAML"):
        parse_strategy(edited("  lgd: 0.75", "  lgd: [0.75"), manifest=manifest)


def test_a_missing_field_is_named(manifest: Manifest) -> None:
    with pytest.raises(StrategyError, match=r"`loss\.ccf`: required field is missing"):
        parse_strategy(edited("  ccf: 0.5\n", ""), manifest=manifest)


def test_a_string_where_a_number_belongs_is_refused(manifest: Manifest) -> None:
    with pytest.raises(StrategyError, match=r"`loss\.lgd`: Input should be a valid number"):
        parse_strategy(edited("  lgd: 0.75", '  lgd: "0.75"'), manifest=manifest)


def test_a_missing_file_says_where_the_strategy_belongs(tmp_path: Path, manifest: Manifest) -> None:
    with pytest.raises(StrategyError, match=r"no strategy file at strategy\.yaml; ship one beside the model"):
        read_strategy(tmp_path / DEFAULT_FILE, manifest=manifest)


def test_a_challenger_is_read_beside_the_champion_and_enters_its_version(
    tmp_path: Path, manifest: Manifest
) -> None:
    (tmp_path / "challenger.yaml").write_text(
        edited("to: 0.2,", "to: 0.15,").replace("from: 0.2,", "from: 0.15,")
    )
    (tmp_path / DEFAULT_FILE).write_text(SHIPPED + "challenger: {file: challenger.yaml, share: 0.1}\n")
    strategy = read_strategy(tmp_path / DEFAULT_FILE, manifest=manifest)
    assert strategy.challenger is not None and strategy.share == 0.1
    assert strategy.challenger.band_starts[1] == 0.15
    assert (
        strategy.version
        != parse_strategy(
            SHIPPED + "challenger: {file: challenger.yaml, share: 0.1}\n", manifest=manifest
        ).version
    )


def test_a_challenger_cannot_have_its_own(tmp_path: Path, manifest: Manifest) -> None:
    nested = SHIPPED + "challenger: {file: strategy.yaml, share: 0.1}\n"
    (tmp_path / DEFAULT_FILE).write_text(nested)
    with pytest.raises(StrategyError, match="a challenger cannot name its own challenger"):
        read_strategy(tmp_path / DEFAULT_FILE, manifest=manifest)
