"""The what-if's summary from a book's summed tally (functions/portfolio/whatif/tally.py): rates, money, notices,
selection by group, realised bad rates with Jeffreys intervals, swaps and the trade-off curve, as plain JSON."""

from typing import Any

from functions.monitoring.stats import jeffreys_interval
from functions.portfolio.whatif.tally import PD_BINS, Tally, new_tally
from functions.scoring.strategy.engine import Strategy
from functions.scoring.strategy.file import ACTIONS, DECISIONS


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def realised(sums: Tally, key: str) -> dict[str, Any] | None:
    """Return the clients with an outcome, defaults, expected and realised bad rate and its Jeffreys 95 % interval."""
    clients, defaults = int(sums[f"known:{key}"]), int(sums[f"defaults:{key}"])
    if not clients:
        return None
    low, high = jeffreys_interval(defaults, clients)
    return {
        "clients": clients,
        "defaults": defaults,
        "expected_bad_rate": sums[f"known_pd:{key}"] / clients,
        "realised_bad_rate": defaults / clients,
        "jeffreys_95": [low, high],
        "expected_inside": bool(low <= sums[f"known_pd:{key}"] / clients <= high),
    }


def selection(sums: Tally, attribute: str) -> dict[str, Any]:
    """Return the approval rate of each group of `attribute` and the ratio of the lowest rate to the highest."""
    prefix = f"group:{attribute}="
    groups = {}
    for key in sorted(k for k in sums if k.startswith(prefix) and sums[k]):
        label = key[len(prefix) :]
        clients, approved = int(sums[key]), int(sums[f"group_approved:{attribute}={label}"])
        groups[label] = {"clients": clients, "approved": approved, "approval_rate": approved / clients}
    rates = [group["approval_rate"] for group in groups.values()]
    ratio = min(rates) / max(rates) if rates and max(rates) > 0 else None
    return {"groups": groups, "lowest_to_highest": ratio}


def summarise_arm(
    sums: Tally, strategy: Strategy, *, grades: tuple[str, ...], with_target: bool
) -> dict[str, Any]:
    """Return one arm's what-if: decision rates, expected bad rate, EL by grade, line actions, notices, selection."""
    rows = int(sums["rows"])
    approved = sums["decision:approve"]
    summary: dict[str, Any] = {
        "strategy": {"name": strategy.spec.name, "version": strategy.version},
        "rows": rows,
        "decisions": {
            name: {
                "clients": int(sums[f"decision:{name}"]),
                "rate": _rate(sums[f"decision:{name}"], rows),
                "expected_bad_rate": _rate(sums[f"decision_pd:{name}"], sums[f"decision:{name}"]),
            }
            for name in DECISIONS
        },
        "expected_bad_rate_approved": _rate(sums["decision_pd:approve"], approved),
        "expected_loss_ntd": sum(sums[f"grade_el:{g}"] for g in grades),
        "exposure_at_default_ntd": sum(sums[f"grade_ead:{g}"] for g in grades),
        "by_grade": {
            g: {
                "clients": int(sums[f"grade:{g}"]),
                "exposure_at_default_ntd": sums[f"grade_ead:{g}"],
                "expected_loss_ntd": sums[f"grade_el:{g}"],
            }
            for g in grades
        },
        "line_actions": {
            "clients": {action: int(sums[f"line:{action}"]) for action in ACTIONS},
            "limit_added_ntd": sums["limit_added"],
            "limit_removed_ntd": sums["limit_removed"],
        },
        "adverse_action_notices": {
            "total": int(sums["notice:decline"] + sums["notice:line_decrease"]),
            "declines": int(sums["notice:decline"]),
            "line_decreases": int(sums["notice:line_decrease"]),
        },
        "selection": {attribute: selection(sums, attribute) for attribute in ("sex", "marriage", "age_band")},
        "bands": [
            {
                "band": band.name,
                "decision": band.decision,
                "from": float(band.pd_from),
                "to": float(band.pd_to),
                "clients": int(sums[f"band:{band.name}"]),
                "expected_bad_rate": _rate(sums[f"band_pd:{band.name}"], sums[f"band:{band.name}"]),
                "realised": realised(sums, f"band:{band.name}") if with_target else None,
            }
            for band in strategy.spec.pd_bands
        ],
    }
    if with_target:
        summary["realised_by_decision"] = {name: realised(sums, f"decision:{name}") for name in DECISIONS}
    return summary


def summarise_swaps(sums: Tally, *, with_target: bool) -> dict[str, Any]:
    """Return the swap matrix (champion decision x challenger decision) and each swap set's expected bad rate."""
    matrix = {b: {a: int(sums[f"swap:{b}>{a}"]) for a in DECISIONS} for b in DECISIONS}
    sets = [
        {
            "champion": b,
            "challenger": a,
            "clients": matrix[b][a],
            "expected_bad_rate": _rate(sums[f"swap_pd:{b}>{a}"], matrix[b][a]),
            "realised": realised(sums, f"swap:{b}>{a}") if with_target else None,
        }
        for b in DECISIONS
        for a in DECISIONS
        if a != b
    ]
    return {"matrix": matrix, "swap_sets": sets}


def summarise(
    sums: Tally, strategies: dict[str, Strategy], *, grades: tuple[str, ...], with_target: bool
) -> dict[str, Any]:
    """Return the what-if of every arm (and the swaps with a challenger) from the book's summed tally."""
    arms = {}
    for arm, strategy in strategies.items():
        prefix = f"{arm}/"
        own = new_tally(**{k[len(prefix) :]: v for k, v in sums.items() if k.startswith(prefix)})
        arms[arm] = summarise_arm(own, strategy, grades=grades, with_target=with_target)
    result: dict[str, Any] = {"arms": arms, "tradeoff": tradeoff_of(sums)}
    if len(strategies) == 2:
        result["swaps"] = summarise_swaps(sums, with_target=with_target)
    return result


def tradeoff_of(sums: Tally) -> list[dict[str, float]]:
    """Return the book's trade-off curve from its PD histogram: per cut-off c, approval rate (PD < c) and the
    expected bad rate of the approved (their mean PD)."""
    clients = sum(sums[f"pd_bin:{i}"] for i in range(PD_BINS))
    points, count, total = [], 0.0, 0.0
    for index in range(PD_BINS):
        count, total = count + sums[f"pd_bin:{index}"], total + sums[f"pd_bin_sum:{index}"]
        if count:
            points.append(
                {
                    "cutoff": (index + 1) / PD_BINS,
                    "approval_rate": count / clients,
                    "expected_bad_rate": total / count,
                }
            )
    return points
