"""Shared pieces of the benchmark scripts: an emulator in its own process, timing, result lines.

Every script prints a human table and, for each headline figure, one machine-readable line
``RESULT {json}`` that ``benchmarks/run_all.py`` collects into one table.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                     "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def emulator_process(latency_scale: float = 0.0, faults: Optional[list] = None, config: Optional[str] = "config.yaml"
                     ) -> Iterator[str]:
    """``python -m bedrock_local`` in a separate process (so its CPU does not share our GIL); yields its URL.

    With the repository's config.yaml by default: the emulator then knows the service's aliases as the service
    does (a fault on ``claude_haiku`` hits the id the service calls; without a config the emulator's own default
    profiles name the seed's Claude 3 ids)."""
    cmd = [sys.executable, "-m", "bedrock_local", "--port", "0", "--latency-scale", str(latency_scale)]
    if config:
        cmd += ["--config", config]
    if faults:
        cmd += ["--faults", json.dumps(faults)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"bedrock_local did not start (first line: {url!r})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def bedrock_env(url: str) -> Iterator[None]:
    """Point boto3 (and our backend=auto) at ``url`` with dummy credentials, for this block only."""
    saved = {k: os.environ.get(k) for k in [*DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]}
    os.environ.update(DUMMY_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = url
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def time_calls(fn: Callable[[], Any], n: int, warmup: int = 5) -> List[float]:
    """Milliseconds per call over ``n`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def interleaved(fns: Dict[str, Callable[[], Any]], rounds: int, per_round: int = 10, warmup: int = 5
                ) -> Dict[str, List[float]]:
    """Time several callables in alternating rounds, so drift in machine load hits them all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].extend(time_calls(fn, per_round, warmup=0))
    return samples


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def p90(xs: Sequence[float]) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def result(benchmark: str, metric: str, value: float, unit: str, baseline: Optional[str] = None,
           ratio: Optional[float] = None, goal: Optional[str] = None, ok: Optional[bool] = None) -> None:
    """Print one machine-readable headline figure (collected by run_all.py)."""
    print("RESULT " + json.dumps({
        "benchmark": benchmark, "metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 3), "goal": goal, "ok": ok,
    }), flush=True)


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
