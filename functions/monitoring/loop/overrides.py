"""Override analysis (SR 11-7, "Outcomes analysis"; overrides "if the rate of overrides is high... it is often a
sign that the underlying model needs revision"): how often reviewers reversed the model, and how it turned out.

Low-side override: the model declines (predicts a default) and the reviewer approves. High-side override: the
model approves and the reviewer declines. Rates are over the decisions with a final action; a final "refer"
is neither. Once outcomes are joined, each side's realised default rate shows who was right. The same figures
are given per group (sex, marriage, age band), from the reference bin stored with each decision.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Flags = npt.NDArray[Any]
APPROVE: Final = "approve"
DECLINE: Final = "decline"
NO_FINAL: Final = ""  # a decision without a reviewer's final action yet


@dataclass(frozen=True)
class OverrideFigures:
    """Overrides among one set of decisions: counts, rates over reviewed decisions, realised default rates."""

    decisions: int
    reviewed: int  # decisions with a final action
    low_side: int  # model declines, reviewer approves
    high_side: int  # model approves, reviewer declines
    low_side_rate: float | None  # over reviewed; None when nothing was reviewed
    high_side_rate: float | None
    low_side_joined: int  # low-side overrides with an outcome
    low_side_defaults: int
    high_side_joined: int
    high_side_defaults: int

    @property
    def low_side_default_rate(self) -> float | None:
        """Return the realised default rate of the approved-against-the-model decisions (None before outcomes)."""
        return self.low_side_defaults / self.low_side_joined if self.low_side_joined else None

    @property
    def high_side_default_rate(self) -> float | None:
        """Return the realised default rate of the declined-against-the-model decisions (None before outcomes)."""
        return self.high_side_defaults / self.high_side_joined if self.high_side_joined else None


@dataclass(frozen=True)
class OverrideAnalysis:
    """Overrides overall and per group value (`{"sex": {"2": figures, ...}, "age": {...}}`)."""

    overall: OverrideFigures
    groups: Mapping[str, Mapping[str, OverrideFigures]]


def figures(model_declines: Flags, final_actions: Flags, outcomes: Flags) -> OverrideFigures:
    """Count overrides of n decisions: model decline flags, final actions ("" none), outcomes (1, 0, -1)."""
    declines = np.asarray(model_declines, dtype=bool)
    actions = np.asarray(final_actions)
    o = np.asarray(outcomes)
    reviewed = actions != NO_FINAL
    low = declines & (actions == APPROVE)
    high = ~declines & (actions == DECLINE)
    count = int(reviewed.sum())
    joined = o >= 0
    return OverrideFigures(
        decisions=int(declines.size),
        reviewed=count,
        low_side=int(low.sum()),
        high_side=int(high.sum()),
        low_side_rate=int(low.sum()) / count if count else None,
        high_side_rate=int(high.sum()) / count if count else None,
        low_side_joined=int((low & joined).sum()),
        low_side_defaults=int((low & (o == 1)).sum()),
        high_side_joined=int((high & joined).sum()),
        high_side_defaults=int((high & (o == 1)).sum()),
    )


def analyse(
    model_declines: Flags,
    final_actions: Flags,
    outcomes: Flags,
    *,
    groups: Mapping[str, Sequence[str] | Flags],
) -> OverrideAnalysis:
    """Analyse the overrides of n decisions overall and per value of each group (n labels per group)."""
    declines = np.asarray(model_declines, dtype=bool)
    actions = np.asarray(final_actions)
    o = np.asarray(outcomes)
    if not declines.shape == actions.shape == o.shape or declines.ndim != 1:
        raise ValueError("override analysis needs one decline flag, final action and outcome per decision")
    per_group: dict[str, dict[str, OverrideFigures]] = {}
    for name, values in groups.items():
        labels = np.asarray(values).astype(str)
        if labels.shape != declines.shape:
            raise ValueError(f"group {name!r} needs one label per decision")
        per_group[name] = {
            str(label): figures(declines[labels == label], actions[labels == label], o[labels == label])
            for label in np.unique(labels)
        }
    return OverrideAnalysis(overall=figures(declines, actions, o), groups=per_group)
