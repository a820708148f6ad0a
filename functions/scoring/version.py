"""The model version: 12 hex digits of the sha256 of the serving arrays and of every manifest field that changes
a decision, checked at load so that an edited `model.json` is refused like a tampered array file.

Decision fields: the cut-off (`threshold`), the score scaling, the grade bands, the reference profile the
reasons are measured against and the elderly rule that bounds an elderly applicant's PD (and the strategy,
once the manifest holds one: add its name to DECISION_FIELDS).
Evidence, metrics and the PSI reference distributions describe the model and change no answer; they are not in
the version.
"""

import hashlib
import json
from typing import Final

from functions.scoring.manifest import Manifest, ModelUnavailable
from functions.scoring.trees import TreeEnsemble

DECISION_FIELDS: Final = ("threshold", "score_scaling", "grade_bands", "reference_profile", "elderly_rule")


def decision_policy(manifest: Manifest) -> dict[str, object]:
    """Return the manifest's decision-changing fields as JSON values, by name."""
    values = manifest.model_dump(mode="json", by_alias=True, include=set(DECISION_FIELDS))
    return {name: values[name] for name in DECISION_FIELDS}


def model_version(ensemble: TreeEnsemble, policy: dict[str, object]) -> str:
    """Return the 12-hex version: sha256 of the ensemble's arrays (by name), then the policy as canonical JSON."""
    arrays = ensemble.to_arrays()
    digest = hashlib.sha256(b"".join(arrays[k].tobytes() for k in sorted(arrays)))
    digest.update(json.dumps(policy, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()[:12]


def verify_version(manifest: Manifest, ensemble: TreeEnsemble) -> None:
    """Refuse a manifest whose version is not that of its serving arrays and decision fields; raises
    ModelUnavailable naming the fields the version covers."""
    actual = model_version(ensemble, decision_policy(manifest))
    if actual != manifest.version:
        raise ModelUnavailable(
            f"model.json: version {manifest.version} does not match its serving arrays and decision fields "
            f"({', '.join(DECISION_FIELDS)}: they give {actual}); a decision field was edited by hand. "
            "Restore model.json, or retrain (`make train`) to publish a new version"
        )
