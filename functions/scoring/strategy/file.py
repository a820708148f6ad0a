"""The strategy file: its typed form (pydantic) and a YAML reader whose errors name the line, the field and what
is allowed. The pure engine that applies a strategy is `functions.scoring.strategy.engine`; the format is in
docs/strategy.md.
"""

from collections.abc import Iterator
from typing import Annotated, Any, Final, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest_parts import Record  # frozen, unknown keys refused, no coercion from strings

FORMAT: Final = "credit-strategy/1"
MODEL_THRESHOLD: Final = "model_threshold"  # a PD bound that reads the manifest's threshold at load
DECISIONS: Final = ("approve", "refer", "decline")  # in rising severity
ACTIONS: Final = ("increase", "hold", "decrease", "freeze")
OPERATORS: Final = ("<", "<=", ">", ">=", "==", "!=")

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
Outcome = Literal["approve", "refer", "decline"]
Action = Literal["increase", "hold", "decrease", "freeze"]
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,39}$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Unit = Annotated[float, Field(ge=0, le=1)]
PdBound = Unit | Literal["model_threshold"]


class StrategyError(ValueError):
    """A strategy file that cannot be used; the message names the file, the line, the field and what is allowed."""


class Condition(Record):
    """`input op value` on one of the 23 inputs (NT$ amounts, codes as in the contract)."""

    input: str
    op: Operator
    value: float

    @model_validator(mode="after")
    def _known_input(self) -> "Condition":
        if self.input not in FEATURE_NAMES:
            raise ValueError(f"unknown input `{self.input}`; allowed: {', '.join(FEATURE_NAMES)}")
        return self


class PolicyRule(Record):
    """A knock-out rule: when every condition holds, the rule refers or declines, whatever the PD."""

    code: Code
    statement: str = Field(min_length=10, max_length=300)
    when: tuple[Condition, ...] = Field(min_length=1, strict=False)  # a YAML list
    decision: Literal["refer", "decline"]


class PdBand(Record):
    """A PD band [from, to) with its decision; the last band includes PD 1."""

    name: Name
    pd_from: PdBound = Field(alias="from")
    pd_to: PdBound = Field(alias="to")
    decision: Outcome


class UtilisationBand(Record):
    """A band of utilisation (latest bill / credit limit) [from, to); null is open-ended."""

    name: Name
    low: float | None = Field(alias="from")
    high: float | None = Field(alias="to")


class LineCell(Record):
    """A line action and its percentage of the current limit (0 for hold and freeze)."""

    action: Action
    percent: float = 0.0

    @model_validator(mode="after")
    def _percent_fits(self) -> "LineCell":
        allowed = {"increase": "above 0 and at most 100", "decrease": "above 0 and below 100"}
        fits = {
            "increase": 0 < self.percent <= 100,
            "decrease": 0 < self.percent < 100,
        }.get(self.action, self.percent == 0)
        if not fits:
            what = allowed.get(self.action, "0 (or omitted)")
            raise ValueError(f"percent {self.percent:g} is out of range for `{self.action}`; allowed: {what}")
        return self


class LineManagement(Record):
    """The line matrix (risk grade x utilisation band -> action) for approved clients, the actions for referred and
    declined clients, and the cap on an increase in NT$."""

    utilisation_bands: tuple[UtilisationBand, ...] = Field(min_length=1, strict=False)
    matrix: dict[str, dict[str, LineCell]]
    refer: LineCell
    decline: LineCell
    max_increase_ntd: float = Field(gt=0, le=10_000_000)


class LossParameters(Record):
    """Loss given default and the credit-conversion factor of the unused limit (both fractions in [0, 1])."""

    lgd: Unit
    ccf: Unit
    source: str = Field(
        min_length=10, description="Where the two figures come from (an assumption is stated)."
    )


class Challenger(Record):
    """The challenger strategy (a file beside this one) and the share of traffic it gets."""

    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.(ya?ml|json)$")
    share: float = Field(gt=0, lt=1)


class StrategyFile(Record):
    """A whole strategy file, before the manifest's threshold and grades are applied."""

    format: Literal["credit-strategy/1"]
    name: Name
    description: str = Field(min_length=10)
    policy_rules: tuple[PolicyRule, ...] = Field(default=(), strict=False)
    pd_bands: tuple[PdBand, ...] = Field(min_length=1, strict=False)
    line_management: LineManagement
    loss: LossParameters
    challenger: Challenger | None = None


Located = dict[tuple[int, object], int]  # (id of a mapping or list, key or index) -> line number


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """A safe YAML loader that refuses duplicate keys and remembers the line of every key and item."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: Located = {}


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise StrategyError(f"line {line}: a key must be a plain word, not {type(key).__name__}")
        if key in data:
            first = loader.lines[(id(data), key)]
            raise StrategyError(
                f"line {line}: duplicate key `{key}` (first at line {first}); each key may appear once"
            )
        data[key] = loader.construct_object(value_node, deep=True)
        loader.lines[(id(data), key)] = line


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Iterator[list[Any]]:
    data: list[Any] = []
    yield data
    for index, child in enumerate(node.value):
        data.append(loader.construct_object(child, deep=True))
        loader.lines[(id(data), index)] = child.start_mark.line + 1


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str) -> tuple[Any, Located]:
    """Parse YAML (or JSON) text into plain data and the line of each key; raises StrategyError naming the line."""
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.lines
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        raise StrategyError(f"{where}: not valid YAML ({err.problem or err.context})") from err
    except yaml.YAMLError as err:
        raise StrategyError(f"not valid YAML ({err})") from err
    finally:
        loader.dispose()


def _index_in(step: int | str, items: list[Any]) -> bool:
    return isinstance(step, int) and 0 <= step < len(items)


def line_of(data: Any, loc: tuple[int | str, ...], lines: Located) -> int | None:
    """Return the line of the deepest key or item of `loc` found in `data` (None when none is)."""
    line = None
    for step in loc:
        found = step in data if isinstance(data, dict) else isinstance(data, list) and _index_in(step, data)
        if found:
            line, data = lines.get((id(data), step), line), data[step]
    return line


def _fields_at(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """Return the keys allowed at the mapping `loc` points into (the last step is the offending key)."""
    kind: Any = StrategyFile
    for step in loc[:-1]:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(step)) or next(
                (f for f in kind.model_fields.values() if f.alias == step), None
            )
            kind = field.annotation if field is not None else None
        else:
            args = [a for a in get_args(kind) if a is not type(None) and a is not Ellipsis]
            kind = args[-1] if get_origin(kind) in (tuple, dict, list) or len(args) == 1 else kind
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return tuple(field.alias or name for name, field in kind.model_fields.items())
    return ()


def describe(err: ValidationError, data: Any, lines: Located) -> str:
    """Word the first validation error: its line, its field path, what was wrong and what is allowed."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    path = ".".join(f"[{s}]" if isinstance(s, int) else str(s) for s in loc).replace(".[", "[") or "the file"
    line = line_of(data, loc, lines)
    where = f"line {line}, `{path}`" if line is not None else f"`{path}`"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_at(loc)) or "none"
        return f"{where}: unknown field `{loc[-1]}`; allowed here: {allowed}"
    if first["type"] == "missing":
        return f"{where}: required field is missing"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def parse_strategy_file(text: str) -> tuple[StrategyFile, Any, Located]:
    """Parse and type a strategy file's text; return the typed file, the raw data and the key lines.

    Raises StrategyError naming the line and field: bad YAML, duplicate keys, not a mapping, unknown fields,
    values out of range.
    """
    data, lines = load_yaml(text)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise StrategyError(
            f"line 1: the file must be a mapping of fields (format, name, ...), but it is {kind}"
        )
    try:
        return StrategyFile.model_validate(data), data, lines
    except ValidationError as err:
        raise StrategyError(describe(err, data, lines)) from err
