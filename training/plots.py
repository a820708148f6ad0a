"""The model card's plots (PNG), drawn from the held-out test predictions and the manifest's policy."""

from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from functions.scoring.manifest import Manifest

PLOTS: Final = (
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "score_distribution.png",
    "confusion_matrix.png",
)


def count_colour(count: int, top: int) -> str:
    """Pick the text colour of a confusion-matrix cell on the "Blues" map: white on the dark half, else black."""
    return "white" if top and count > top / 2 else "black"


def write_plots(
    folder: Path, y: NDArray[Any], probability_of_default: NDArray[Any], manifest: Manifest
) -> None:
    """Write the PLOTS (ROC, precision-recall, calibration, score distribution, confusion matrix) into `folder`.

    `y` holds the test rows' 0/1 outcomes and `probability_of_default` their PDs in [0, 1].
    """
    plt.rcParams.update({"figure.figsize": (5.5, 4.2), "figure.dpi": 100, "svg.hashsalt": "fixed"})
    _roc(folder / "roc.png", y, probability_of_default)
    _precision_recall(folder / "precision_recall.png", y, probability_of_default, manifest)
    _calibration(folder / "calibration.png", y, probability_of_default)
    _score_distribution(folder / "score_distribution.png", y, probability_of_default, manifest)
    _confusion_matrix(
        folder / "confusion_matrix.png", y, probability_of_default >= manifest.threshold, manifest
    )


def _roc(path: Path, y: NDArray[Any], pod: NDArray[Any]) -> None:
    fpr, tpr, _ = roc_curve(y, pod)
    fig, ax = plt.subplots()
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, held-out test set")
    ax.legend()
    _save(fig, path)


def _precision_recall(path: Path, y: NDArray[Any], pod: NDArray[Any], manifest: Manifest) -> None:
    published = manifest.metrics.reference_app_published
    precision, recall, _ = precision_recall_curve(y, pod)
    fig, ax = plt.subplots()
    ax.plot(recall, precision, label="model")
    ax.scatter(
        [published.recall], [published.precision], color="red", zorder=3, label="reference app (published)"
    )
    predicted = pod >= manifest.threshold
    ax.scatter(
        [predicted[y == 1].mean()],
        [y[predicted].mean()],
        color="black",
        marker="x",
        zorder=3,
        label=f"shipped threshold {manifest.threshold:.2f}",
    )
    ax.set(xlabel="recall (default class)", ylabel="precision", title="Precision-recall, test set")
    ax.legend()
    _save(fig, path)


def _calibration(path: Path, y: NDArray[Any], pod: NDArray[Any]) -> None:
    observed, predicted_mean = calibration_curve(y, pod, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots()
    ax.plot(predicted_mean, observed, "o-", label="model (10 quantile bins)")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration, test set")
    ax.legend()
    _save(fig, path)


def _score_distribution(path: Path, y: NDArray[Any], pod: NDArray[Any], manifest: Manifest) -> None:
    scores = np.array([manifest.score_scaling.points(float(p)) for p in pod])
    fig, ax = plt.subplots()
    bins = np.arange(scores.min(), scores.max() + 10, 10).tolist()
    ax.hist(scores[y == 0], bins=bins, alpha=0.6, label="no default")
    ax.hist(scores[y == 1], bins=bins, alpha=0.6, label="default")
    ax.set(
        xlabel="score (higher is safer)", ylabel="clients", title="Score distribution by outcome, test set"
    )
    ax.legend()
    _save(fig, path)


def _confusion_matrix(path: Path, y: NDArray[Any], predicted: NDArray[Any], manifest: Manifest) -> None:
    matrix = np.array([[np.sum((y == a) & (predicted == b)) for b in (0, 1)] for a in (0, 1)])
    fig, ax = plt.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (a, b), count in np.ndenumerate(matrix):
        ax.text(b, a, f"{count:,}", ha="center", va="center", color=count_colour(count, int(matrix.max())))
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["no default", "default"],
        yticklabels=["no default", "default"],
        xlabel="predicted",
        ylabel="actual",
        title=f"Confusion matrix at threshold {manifest.threshold:.2f}",
    )
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
