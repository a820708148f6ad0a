"""The reference-style stack the serving benchmark compares against (never deployed).

A scikit-learn RandomForest loaded with joblib from REFERENCE_MODEL at import, a pandas DataFrame built per
request, and the same FastAPI request models behind a Mangum handler: the shape of a typical notebook-to-
Lambda scoring app. `benchmarks.serving` fits the forest and sets REFERENCE_MODEL.
"""

import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI
from mangum import Mangum

from functions.scoring.contract import FEATURE_NAMES, Applicant, BatchRequest

model = joblib.load(Path(os.environ["REFERENCE_MODEL"]))  # unpickles a file the benchmark just wrote
app = FastAPI()


@app.post("/v1/predict")
def predict(applicant: Applicant) -> dict[str, Any]:
    """Score one applicant with a one-row DataFrame."""
    frame = pd.DataFrame([applicant.model_dump()])[list(FEATURE_NAMES)]
    probability = float(model.predict_proba(frame)[0, 1])
    return {"probability_of_default": probability, "predicted_default": probability >= 0.5}


@app.post("/v1/predict/batch")
def predict_batch(body: BatchRequest) -> dict[str, Any]:
    """Score a batch with one DataFrame (no reasons)."""
    frame = pd.DataFrame([a.model_dump() for a in body.applicants])[list(FEATURE_NAMES)]
    probabilities = model.predict_proba(frame)[:, 1]
    return {
        "predictions": [
            {"probability_of_default": float(p), "predicted_default": bool(p >= 0.5)} for p in probabilities
        ]
    }


handler = Mangum(app, lifespan="off")
