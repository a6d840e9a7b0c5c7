"""``probe``: a linear probe on pooled embeddings (the HEAR-benchmark style shallow baseline).

Each input of a segment is pooled into one vector: a ``(T, F)`` sequence (YAMNet's patch embeddings) over
time into ``[mean, std]`` (``2F`` values, population std); a ``(F,)`` vector (musicnn's pooled features)
is used as it is. The vectors of all inputs (one to four) are concatenated in the model's input order,
standardised with the training set's statistics, and classified by multinomial
logistic regression. It is fitted by scikit-learn (``LogisticRegression``, lbfgs; ``C`` chosen on the
validation set from a small grid) and then stored as this ``nn.Module``: pooling + standardisation
(buffers) + ``Linear`` holding sklearn's ``coef_`` and ``intercept_``. Checkpoints, ``predict_proba`` and
the CLI therefore treat it exactly like the gradient-trained models, and ``softmax(module(x))`` equals
sklearn's ``predict_proba`` on the same features (``tests/test_models.py``).

Registered with ``trainer="sklearn"``; :mod:`musicgenre.training.probe_fit` calls :func:`fit_logistic_probe`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from musicgenre.models.layers import parse_options
from musicgenre.models.registry import register_model

#: Logit given to classes absent from the training data (their probability underflows to exactly 0).
ABSENT_CLASS_LOGIT = -1e4


@dataclass(frozen=True)
class ProbeOptions:
    """``probe`` has no architecture options; the regularisation grid is a training setting
    (:attr:`musicgenre.training.trainer.TrainConfig.probe_c_grid`)."""


def pooled_width(shape: Sequence[int]) -> int:
    """Width of one input's pooled vector: ``2F`` for a ``(T, F)`` sequence, ``F`` for a ``(F,)`` vector."""
    return 2 * int(shape[1]) if len(shape) == 2 else int(shape[0])


class LinearProbe(nn.Module):
    """``{name: (B, T, F) or (B, F)}`` -> logits ``(B, n_classes)`` = Linear(standardise(concat(pooled)))."""

    def __init__(self, input_shapes: Mapping[str, Sequence[int]], n_classes: int) -> None:
        super().__init__()
        self.input_names = list(input_shapes)
        n = sum(pooled_width(s) for s in input_shapes.values())
        self.register_buffer("feature_mean", torch.zeros(n))
        self.register_buffer("feature_scale", torch.ones(n))
        self.linear = nn.Linear(n, n_classes)
        self.out_dim = n

    @staticmethod
    def pool(x: Tensor) -> Tensor:
        """``(B, T, F)`` -> ``(B, 2F)``: mean and population std over time; ``(B, F)`` unchanged."""
        if x.dim() == 2:
            return x
        return torch.cat([x.mean(dim=1), x.std(dim=1, correction=0)], dim=1)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise KeyError(f"model expects inputs {self.input_names}, missing {missing}")
        pooled = torch.cat([self.pool(inputs[n]) for n in self.input_names], dim=1)
        z = (pooled - self.feature_mean) / self.feature_scale
        return self.linear(z)

    @torch.no_grad()
    def set_parameters(
        self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray
    ) -> None:
        """Load a fitted standardiser and a full ``(n_classes, 2F)`` weight matrix / ``(n_classes,)`` bias."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feature_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
        self.linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        self.linear.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))


def pool_numpy(x: np.ndarray) -> np.ndarray:
    """``(B, T, F)`` -> ``(B, 2F)`` float64: the same pooling as :meth:`LinearProbe.pool`, for sklearn."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return x
    return np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1)


@dataclass
class ProbeFit:
    """A fitted probe: standardiser, full-size weights, the chosen ``C`` and the grid's scores."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (n_classes, 2F)
    intercept: np.ndarray  # (n_classes,)
    c: float
    grid: dict[str, list[float]] = field(default_factory=dict)
    estimator: Any = None  # the sklearn LogisticRegression of the chosen C
    scaler: Any = None  # the sklearn StandardScaler


def full_weights(estimator: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's ``coef_``/``intercept_`` as an ``(n_classes, F)`` matrix over *all* classes.

    Classes absent from the training labels get zero weights and a bias of :data:`ABSENT_CLASS_LOGIT`.
    A two-class fit (sklearn stores one row ``w`` with ``P(class 1) = sigmoid(w.x + b)``) becomes rows
    ``[0, w]``, whose softmax is the same probability.
    """
    classes = np.asarray(estimator.classes_, dtype=np.int64)
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    inter = np.asarray(estimator.intercept_, dtype=np.float64)
    w = np.zeros((n_classes, coef.shape[1]))
    b = np.full(n_classes, ABSENT_CLASS_LOGIT)
    if len(classes) == 2 and coef.shape[0] == 1:
        b[classes[0]] = 0.0
        w[classes[1]], b[classes[1]] = coef[0], inter[0]
    else:
        w[classes], b[classes] = coef, inter
    return w, b


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    p = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))


def _full_proba(estimator: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(x), n_classes))
    out[:, np.asarray(estimator.classes_, dtype=np.int64)] = estimator.predict_proba(x)
    return out


def fit_logistic_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    valid_x: np.ndarray | None,
    valid_y: np.ndarray | None,
    n_classes: int,
    *,
    c_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0),
    default_c: float = 1.0,
    max_iter: int = 2000,
) -> ProbeFit:
    """Standardise pooled features and fit multinomial logistic regression, choosing ``C`` on validation.

    ``C`` maximises validation accuracy (ties: lower validation log-loss, then the smaller ``C``, i.e.
    the stronger regularisation). Without validation rows ``default_c`` is used (scikit-learn's default);
    choosing ``C`` by cross-validation over *segments* would leak between segments of one track.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_y = np.asarray(train_y, dtype=np.int64)
    if len(np.unique(train_y)) < 2:
        raise ValueError("the probe needs training segments of at least two classes")
    scaler = StandardScaler().fit(train_x)
    xt = scaler.transform(train_x)
    has_valid = valid_x is not None and valid_y is not None and len(valid_y) > 0
    xv = scaler.transform(valid_x) if has_valid else None
    grid: dict[str, list[float]] = {
        k: [] for k in ("c", "train_acc", "train_loss", "valid_acc", "valid_loss")
    }
    grid["fit_seconds"] = []
    grid["converged"] = []
    best: tuple[float, float] | None = None
    chosen: Any = None
    chosen_c = float(default_c)
    for c in sorted(float(c) for c in c_grid) if has_valid else [float(default_c)]:
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est = LogisticRegression(C=c, max_iter=max_iter).fit(xt, train_y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        pt = _full_proba(est, xt, n_classes)
        grid["c"].append(c)
        grid["train_acc"].append(float(np.mean(pt.argmax(1) == train_y)))
        grid["train_loss"].append(_log_loss(pt, train_y))
        grid["fit_seconds"].append(time.perf_counter() - t0)
        grid["converged"].append(float(converged))
        if has_valid:
            pv = _full_proba(est, xv, n_classes)
            acc = float(np.mean(pv.argmax(1) == valid_y))
            loss = _log_loss(pv, np.asarray(valid_y, dtype=np.int64))
            grid["valid_acc"].append(acc)
            grid["valid_loss"].append(loss)
            if best is None or acc > best[0] or (acc == best[0] and loss < best[1]):
                best, chosen, chosen_c = (acc, loss), est, c
        else:
            grid["valid_acc"].append(math.nan)
            grid["valid_loss"].append(math.nan)
            chosen = est
    w, b = full_weights(chosen, n_classes)
    return ProbeFit(
        mean=scaler.mean_.copy(),
        scale=scaler.scale_.copy(),
        coef=w,
        intercept=b,
        c=chosen_c,
        grid=grid,
        estimator=chosen,
        scaler=scaler,
    )


@register_model(
    "probe",
    description="linear probe: logistic regression on pooled embeddings, concatenated (scikit-learn)",
    input_ndim=frozenset({1, 2}),
    max_inputs=4,
    trainer="sklearn",
)
def build_probe(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``probe`` (an unfitted probe: zero mean, unit scale, random weights)."""
    parse_options(ProbeOptions, options, "probe")
    return LinearProbe(input_shapes, n_classes)
