"""The first model a learner trains: logistic regression fitted epoch by epoch.

Stochastic gradient descent makes the training visible: each pass over the data
is one epoch, and the train and validation accuracy after each one form a
learning curve.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sandbox.ml.catalog import MAX_EPOCHS

ProgressCallback = Callable[[int, str], None]


@dataclass(frozen=True)
class EpochScore:
    epoch: int
    train_accuracy: float
    validation_accuracy: float


@dataclass(frozen=True)
class FirstModelResult:
    dataset: str
    rows: int
    features: int
    epochs: list[EpochScore]
    test_accuracy: float


def _ignore_progress(percent: int, message: str) -> None:
    return None


def train_first_model(
    *, epochs: int = 20, seed: int = 0, on_progress: ProgressCallback = _ignore_progress
) -> FirstModelResult:
    """Train on the breast cancer set with a 60/20/20 split, scoring every epoch.

    The test split is scored once, at the end, so nothing about it leaks into
    the choice of epochs.
    """
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs must be between 1 and {MAX_EPOCHS}, not {epochs}")
    on_progress(5, "Loading the breast cancer data")
    features, target = load_breast_cancer(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        features, target, test_size=0.2, stratify=target, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
    )
    on_progress(10, "Scaling features with statistics from the training split only")
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test)

    model = SGDClassifier(loss="log_loss", alpha=1e-3, random_state=seed)
    classes = np.unique(target)
    shuffler = np.random.default_rng(seed)
    scores = []
    for epoch in range(1, epochs + 1):
        order = shuffler.permutation(len(x_train))
        model.partial_fit(x_train[order], y_train[order], classes=classes)
        scores.append(
            EpochScore(
                epoch=epoch,
                train_accuracy=float(model.score(x_train, y_train)),
                validation_accuracy=float(model.score(x_val, y_val)),
            )
        )
        on_progress(10 + 80 * epoch // epochs, f"Epoch {epoch} of {epochs}")

    on_progress(95, "Scoring the held-out test split")
    return FirstModelResult(
        dataset="breast_cancer",
        rows=len(features),
        features=features.shape[1],
        epochs=scores,
        test_accuracy=float(model.score(x_test, y_test)),
    )
