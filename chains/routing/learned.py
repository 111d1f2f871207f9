"""The learned router's scorer: P(this prompt needs the strong tier), from a small logistic model.

``LearnedScorer(path).score(text)`` -> float in [0, 1]. Pure Python at run time (stdlib only: no numpy, no
torch), deterministic, and the weights file is read on first use, not at import. The model is linear over
``chains.routing.features``: a bias, one weight per dense signal, and one weight per hashed n-gram bucket
(the hashed part scaled by 1/sqrt(number of n-grams), as in training, ``chains.routing.train``).

The weights file (JSON, gzip when the name ends in ``.gz``) records what made it: ``feature_version`` (a file
from another version is refused: its buckets would mean other n-grams), the ``spec`` (hash size, n-gram
sizes), the training ``seed``, ``data_sha256`` and the decision ``threshold``. A missing, unreadable or
inconsistent file is a ``ConfigError`` that says which file and what is wrong.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from chains.errors import ConfigError
from chains.routing.features import FEATURE_VERSION, SIGNALS, FeatureSpec, extract, named_hashed, signals

FORMAT = "bedrock-chains/router-weights"
# The weights shipped in the package (trained by tools/train_router.py).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "router-v1.json.gz"
_DIGITS = 5  # significant digits kept per weight in the file (size; scores move by < 1e-4)

PathLike = Union[str, Path]


def _round(x: float) -> float:
    return float(f"{x:.{_DIGITS}g}")


def weights_document(bias: float, dense: Sequence[float], hashed: Sequence[float], spec: FeatureSpec,
                     threshold: float, **meta: Any) -> Dict[str, Any]:
    """The JSON document of a weights file (``meta``: seed, data_sha256, target, l2, metrics, ...)."""
    if len(dense) != len(SIGNALS) or len(hashed) != 1 << spec.hash_bits:
        raise ValueError("weights do not match the feature spec")
    return {
        "format": FORMAT,
        "feature_version": FEATURE_VERSION,
        "spec": spec.to_dict(),
        "signals": list(SIGNALS),
        "threshold": float(threshold),  # exact: a rounded threshold could drop the prompts right at it
        "bias": _round(bias),
        "dense": [_round(w) for w in dense],
        "hashed": [_round(w) for w in hashed],
        **meta,
    }


def write_weights(path: PathLike, document: Mapping[str, Any]) -> Path:
    """Write ``document`` as JSON (gzip for ``*.gz``, with a zero mtime so the bytes are reproducible)."""
    path = Path(path)
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _bad(path: Path, why: str) -> ConfigError:
    return ConfigError(f"router weights file {str(path)[:200]}: {why}", weights=str(path)[:200])


def read_weights(path: PathLike) -> Dict[str, Any]:
    """Read and validate a weights file; ConfigError when it is missing, corrupt or from another version."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _bad(path, "not found (router.learned.weights; train one with `bedrock-chains router fit`)") from None
    except OSError as exc:
        raise _bad(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"is not a (gzipped) JSON weights file ({type(exc).__name__})") from None
    return validate_document(doc, path)


def validate_document(doc: Any, path: PathLike = "<memory>") -> Dict[str, Any]:
    """Check a weights document; returns a copy with typed values (spec: FeatureSpec, weights: floats)."""
    path = Path(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(path, f"is not a router weights file (expected \"format\": \"{FORMAT}\")")
    version = doc.get("feature_version")
    if version != FEATURE_VERSION:
        raise _bad(path, f"has feature_version {str(version)[:20]}, this version of bedrock-chains reads "
                         f"{FEATURE_VERSION}: retrain it (`bedrock-chains router fit`)")
    try:
        spec = FeatureSpec.from_dict(doc["spec"])
        dense = [float(w) for w in doc["dense"]]
        hashed = [float(w) for w in doc["hashed"]]
        bias = float(doc["bias"])
        threshold = float(doc["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"is incomplete or malformed ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not 8 <= spec.hash_bits <= 24:
        raise _bad(path, f"spec.hash_bits {spec.hash_bits} is outside 8..24")
    if list(doc.get("signals") or []) != list(SIGNALS) or len(dense) != len(SIGNALS):
        raise _bad(path, "its dense signals differ from this version's (retrain it)")
    if len(hashed) != 1 << spec.hash_bits:
        raise _bad(path, f"has {len(hashed)} hashed weights, its spec needs {1 << spec.hash_bits}")
    if not all(math.isfinite(w) for w in (bias, threshold, *dense)) or not all(map(math.isfinite, hashed)):
        raise _bad(path, "contains a weight that is not a finite number")
    if not 0.0 <= threshold <= 1.0:
        raise _bad(path, f"threshold {threshold:g} is outside [0, 1]")
    return {**doc, "spec": spec, "dense": dense, "hashed": hashed, "bias": bias, "threshold": threshold}


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class LearnedScorer:
    """Scores prompts with a weights file (default: the one in the package), loaded on first use.

    Thread-safe; one instance per weights file is enough (keep it on the runtime).
    """

    def __init__(self, path: Optional[PathLike] = None) -> None:
        self.path = Path(path) if path is not None else DEFAULT_WEIGHTS
        self._lock = threading.Lock()
        self._doc: Optional[Dict[str, Any]] = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "LearnedScorer":
        """A scorer over an in-memory weights document (validated like a file): what ``fit`` scores with."""
        scorer = cls("<memory>")
        scorer._install(validate_document(dict(doc)))
        return scorer

    def _install(self, doc: Dict[str, Any]) -> None:
        self._spec: FeatureSpec = doc["spec"]
        self._bias: float = doc["bias"]
        self._dense: List[float] = doc["dense"]
        self._hashed: List[float] = doc["hashed"]
        self._doc = doc

    def load(self) -> "LearnedScorer":
        """Read the file now (ConfigError if it is unusable): what ``--check`` calls."""
        if self._doc is None:
            with self._lock:
                if self._doc is None:
                    self._install(read_weights(self.path))
        return self

    @property
    def threshold(self) -> float:
        """The fitted threshold: ``score >= threshold`` means the strong tier."""
        return self.load()._doc["threshold"]  # type: ignore[index]

    @property
    def metadata(self) -> Dict[str, Any]:
        """What the file says about itself (no weights): spec, seed, data hash, target, metrics, ..."""
        doc = self.load()._doc or {}
        out = {k: v for k, v in doc.items() if k not in ("dense", "hashed", "bias")}
        out["spec"] = self._spec.to_dict()
        return out

    def margin(self, text: str) -> float:
        """The logit (score before the sigmoid)."""
        self.load()
        dense, idx = extract(text, self._spec)
        z = self._bias
        for w, x in zip(self._dense, dense):
            z += w * x
        if idx:
            h = self._hashed
            z += sum([h[i] for i in idx]) / math.sqrt(len(idx))
        return z

    def score(self, text: str) -> float:
        """P(needs the strong tier) in [0, 1]; the same text always gives the same score."""
        return _sigmoid(self.margin(text))

    def explain(self, text: str, top: int = 3) -> List[Tuple[str, float]]:
        """The features that pushed the score most (name, contribution to the logit), strongest first."""
        self.load()
        text = text[: self._spec.max_chars]
        parts: Dict[str, float] = {}
        for name, w, x in zip(SIGNALS, self._dense, signals(text)):
            if x:
                parts[name] = w * x
        named = list(named_hashed(text, self._spec))
        if named:
            norm = 1.0 / math.sqrt(len(named))
            for name, i in named:
                parts[name] = parts.get(name, 0.0) + self._hashed[i] * norm
        ranked = sorted(parts.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        return [(k, round(v, 4)) for k, v in ranked[:top] if v]


_shared: Dict[str, LearnedScorer] = {}
_shared_lock = threading.Lock()


def shared_scorer(path: Optional[PathLike] = None) -> LearnedScorer:
    """One scorer per weights file for the whole process (what ``decide()`` should call per request: the file
    is read once, on the first score, not at import or configuration time)."""
    key = str(Path(path).resolve()) if path is not None else str(DEFAULT_WEIGHTS)
    scorer = _shared.get(key)
    if scorer is None:
        with _shared_lock:
            scorer = _shared.setdefault(key, LearnedScorer(key))
    return scorer


def check_weights(path: PathLike) -> str:
    """One line for ``--check``: the file is usable, with what it holds (raises ConfigError if not)."""
    scorer = LearnedScorer(path).load()
    meta = scorer.metadata
    apgr = (meta.get("metrics") or {}).get("validation", {}).get("apgr")
    return (f"router weights {str(path)[:200]}: feature_version {FEATURE_VERSION}, "
            f"{1 << scorer._spec.hash_bits} buckets, threshold {scorer.threshold:g}"
            + (f", validation APGR {apgr:.3f}" if isinstance(apgr, (int, float)) else ""))
