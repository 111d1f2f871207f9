"""Training the learned router: L2-regularised logistic regression over ``features``, in numpy (L-BFGS).

Offline only (``tools/train_router.py``, ``router fit``): numpy is imported here and never by the scorer, so
the Lambda package needs none of it. Deterministic: the same rows, spec, target and l2 give the same weights
(full-batch L-BFGS from zero weights; no random state at all).

Targets (``target``):
- ``binary``: 1 when the strong model scored above the weak one ("needs strong"), else 0;
- ``gain``: the soft label (1 + strong - weak) / 2 in [0, 1], so a prompt where the weak model did better
  pulls the score down and MT-bench's graded scores count by how much the strong model helps. Its logistic
  score is monotone in the expected gain, which is what the PGR curve rewards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from chains.routing.features import SIGNALS, FeatureSpec, extract

TARGETS = ("binary", "gain")


def target_values(weak: Sequence[float], strong: Sequence[float], target: str) -> List[float]:
    if target == "binary":
        return [1.0 if g > w else 0.0 for w, g in zip(weak, strong)]
    if target == "gain":
        return [min(1.0, max(0.0, (1.0 + g - w) / 2.0)) for w, g in zip(weak, strong)]
    raise ValueError(f"unknown target {target!r} (known: {', '.join(TARGETS)})")


@dataclass
class Design:
    """Rows as matrices: dense signals (n x d) and the hashed part in CSR form (rows scaled by 1/sqrt(len))."""

    dense: Any
    indptr: Any
    indices: Any
    values: Any
    buckets: int

    @property
    def n(self) -> int:
        return self.dense.shape[0]


def design(prompts: Sequence[str], spec: FeatureSpec) -> Design:
    import numpy as np

    dense_rows: List[List[float]] = []
    indptr = [0]
    idx: List[int] = []
    vals: List[float] = []
    for p in prompts:
        d, h = extract(p, spec)
        dense_rows.append(d)
        idx.extend(h)
        v = 1.0 / math.sqrt(len(h)) if h else 0.0
        vals.extend([v] * len(h))
        indptr.append(len(idx))
    return Design(np.asarray(dense_rows, dtype=np.float64).reshape(len(prompts), len(SIGNALS)),
                  np.asarray(indptr, dtype=np.int64), np.asarray(idx, dtype=np.int64),
                  np.asarray(vals, dtype=np.float64), 1 << spec.hash_bits)


def _dot(a: Any, b: Any) -> float:
    """Vector dot product without BLAS: OpenBLAS threads made each 65k-long dot ~10x slower on 2 cores (and
    threaded sums may differ in the last bit between machines; numpy's own pairwise sum does not)."""
    return float((a * b).sum())


def _margins(X: Design, bias: float, wd: Any, wh: Any) -> Any:
    import numpy as np

    contrib = X.values * wh[X.indices]
    sums = np.zeros(X.n)
    nonempty = X.indptr[1:] > X.indptr[:-1]
    if contrib.size:
        sums[nonempty] = np.add.reduceat(contrib, X.indptr[:-1][nonempty])
    return bias + (X.dense * wd).sum(axis=1) + sums


def decision_values(X: Design, weights: "LinearWeights") -> Any:
    import numpy as np

    return _margins(X, weights.bias, np.asarray(weights.dense), np.asarray(weights.hashed))


@dataclass
class LinearWeights:
    bias: float
    dense: List[float]
    hashed: List[float]
    iterations: int = 0
    loss: float = 0.0


def fit_logistic(X: Design, y: Sequence[float], l2: float, sample_weight: Optional[Sequence[float]] = None,
                 max_iter: int = 300, tol: float = 1e-6) -> LinearWeights:
    """Minimise mean weighted log-loss + l2/2 * |w|^2 (bias not penalised) with L-BFGS (m=10, Armijo)."""
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    sw = np.ones(X.n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sw = sw / sw.sum()
    d = X.dense.shape[1]
    H = X.buckets
    row_of = np.repeat(np.arange(X.n), np.diff(X.indptr))

    def unpack(w):
        return w[0], w[1:1 + d], w[1 + d:]

    def loss_grad(w):
        b, wd, wh = unpack(w)
        z = _margins(X, b, wd, wh)
        # log(1 + e^z) - y z, computed stably
        loss = float(np.sum(sw * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * (_dot(wd, wd) + _dot(wh, wh))
        r = sw * (1.0 / (1.0 + np.exp(-z)) - y)
        g = np.empty_like(w)
        g[0] = r.sum()
        g[1:1 + d] = (X.dense * r[:, None]).sum(axis=0) + l2 * wd
        g[1 + d:] = np.bincount(X.indices, weights=X.values * r[row_of], minlength=H) + l2 * wh
        return loss, g

    w = np.zeros(1 + d + H)
    f, g = loss_grad(w)
    s_hist: List[Any] = []
    y_hist: List[Any] = []
    it = 0
    for it in range(1, max_iter + 1):
        # two-loop recursion: direction = -H_k g
        q = g.copy()
        alphas = []
        for s, yv in reversed(list(zip(s_hist, y_hist))):
            a = _dot(s, q) / _dot(yv, s)
            alphas.append(a)
            q -= a * yv
        if s_hist:
            q *= _dot(s_hist[-1], y_hist[-1]) / _dot(y_hist[-1], y_hist[-1])
        for (s, yv), a in zip(zip(s_hist, y_hist), reversed(alphas)):
            q += s * (a - _dot(yv, q) / _dot(yv, s))
        direction = -q
        slope = _dot(g, direction)
        if slope >= 0:  # not a descent direction: restart from steepest descent
            direction, slope = -g, -_dot(g, g)
            s_hist.clear()
            y_hist.clear()
        step = 1.0 if s_hist else min(1.0, 1.0 / max(1e-12, math.sqrt(_dot(g, g))))
        while True:
            w_new = w + step * direction
            f_new, g_new = loss_grad(w_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, yv = w_new - w, g_new - g
        if _dot(yv, s) > 1e-12:
            s_hist.append(s)
            y_hist.append(yv)
            if len(s_hist) > 10:
                s_hist.pop(0)
                y_hist.pop(0)
        done = abs(f - f_new) <= tol * max(1.0, abs(f))
        w, f, g = w_new, f_new, g_new
        if done:
            break
    b, wd, wh = unpack(w)
    return LinearWeights(float(b), [float(v) for v in wd], [float(v) for v in wh], it, f)


def split_by_hash(prompts: Sequence[str], holdout: float, salt: str = "router-v1") -> Tuple[List[int], List[int]]:
    """(train, held-out) row indices: a prompt is held out when its blake2b hash falls below ``holdout``.

    By hash, not by position: the same prompt always lands on the same side, whatever the row order."""
    import hashlib

    train, held = [], []
    for i, p in enumerate(prompts):
        h = int.from_bytes(hashlib.blake2b(f"{salt}\0{p}".encode("utf-8"), digest_size=8).digest(), "big")
        (held if h / 2.0 ** 64 < holdout else train).append(i)
    return train, held


def data_hash(rows: Sequence[Dict[str, Any]]) -> str:
    """sha256 over the (prompt, weak, strong) triples, order-independent: which data trained the weights."""
    import hashlib

    items = sorted(f"{r['prompt']}\0{float(r['weak_score'])!r}\0{float(r['strong_score'])!r}" for r in rows)
    h = hashlib.sha256()
    for it in items:
        h.update(it.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
