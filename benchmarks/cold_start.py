"""Cold start: a fresh interpreter to the first answer of ``handler.lambda_handler``, against the floor.

The floor is the least any LangChain-on-Bedrock function can do: a fresh interpreter that imports
``langchain_aws`` and makes one bare ``ChatBedrockConverse(...).invoke(...)``. Ours is a fresh interpreter
that imports ``handler`` and answers the sample direct event ``events/qa.json`` through
``handler.lambda_handler`` (routing, prompt file, usage, cost, JSON logs and EMF metrics included: the Lambda
environment variables are set so the Lambda code paths run).

Both run from what Lambda would hold in /var/task: the zip ``python -m tools.package`` builds for this
machine's architecture and Python (dependencies from constraints-lambda.txt, hash-based ``.pyc``), unpacked,
run with ``python -S`` so nothing outside the package and the standard library is importable. (``--deps venv``
instead builds the project part only and takes the dependencies from this environment: offline, but the
environment holds extras such as jinja2 and tornado that some packages import when present.)

Variants, interleaved one fresh process at a time so drift in machine load hits all alike:
- floor;
- ours;
- ours with ``langsmith.types`` imported eagerly, i.e. without handler.py's deferral of that package (what
  the deferral saves);
- ours without any ``.pyc`` (``-X pycache_prefix`` at an empty directory hides all bytecode): what a
  source-only zip costs, since /var/task is read-only and every module is compiled again at each cold start.

All talk to one ``python -m bedrock_local`` process over HTTP (latency scale 0: the model answers at once, so
only our own work is timed). Wall time is measured by the parent, from just before the process is spawned to
the line the child prints once it has the answer (interpreter start-up included); peak memory is the child's
peak resident set (``VmHWM``) then. Goal: ours <= 1.1 x the floor.

    python benchmarks/cold_start.py [--rounds 7] [--deps package|venv] [--importtime]

``--importtime`` also prints the packages that cost ours the most import time (``python -X importtime``), the
starting point for finding imports we never use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

from _common import DUMMY_CREDENTIALS, ROOT, emulator_process, machine, median, p90, result, table

EVENT = json.loads((ROOT / "events" / "qa.json").read_text(encoding="utf-8"))
ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

_REPORT = r"""
import json, resource, sys, time
def _peak_rss_kb():
    # VmHWM is this program's peak; ru_maxrss would also count the parent's peak inherited across fork+exec.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
def _report(answer_ok):
    print("COLDSTART " + json.dumps({"ok": answer_ok, "peak_rss_mb": _peak_rss_kb() / 1024.0,
                                     "modules": len(sys.modules)}), flush=True)
"""

FLOOR = _REPORT + r"""
from langchain_aws import ChatBedrockConverse
# The default config's claude_haiku (the seed's Claude 3 Haiku is past its end of life).
model = ChatBedrockConverse(model="us.anthropic.claude-haiku-4-5-20251001-v1:0", region_name="us-east-1",
                            max_tokens=512, temperature=0.2)
answer = model.invoke([("system", "Answer from the context."), ("human", sys.argv[1])])
_report(bool(answer.content))
"""

OURS = _REPORT + r"""
import handler

class Context:
    aws_request_id = "cold-start-benchmark"
    function_name = "bedrock-chains"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-chains"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/bedrock-chains"
    log_stream_name = "cold-start"
    def get_remaining_time_in_millis(self):
        return 300000

answer = handler.lambda_handler(json.loads(sys.argv[1]), Context())
_report(bool(answer.get("ok")) and bool(answer.get("output")))
"""

# The same, with langsmith.types imported before handler: its deferral then has nothing to do.
OURS_EAGER = "import langsmith.types\n" + OURS


def build_task_root(base: Path, deps: bool) -> Path:
    """Our deployment package for this machine, unpacked: what /var/task would hold."""
    from tools.package import BuildOptions, build

    python = "{}.{}".format(*sys.version_info[:2])
    arch = ARCH[platform.machine().lower()]
    print(f"building the package (python{python} {arch}{'' if deps else ', project only'}) ...", file=sys.stderr)
    built = build(BuildOptions(arch=arch, python=python, deps=deps, out=base / "package.zip"))
    root = base / "task"
    with zipfile.ZipFile(built.path) as zf:
        zf.extractall(root)
    return root


def child_env(url: str, task_root: Path) -> Dict[str, str]:
    """A Lambda-like environment pointing at the emulator; nothing inherited that could reach real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAINS_", "POWERTOOLS_", "LANGSMITH_",
                                                                     "LANGCHAIN_", "BEDROCK_LOCAL_", "PYTHON"))}
    env.update(DUMMY_CREDENTIALS)
    env.update({
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # What Lambda sets, so the handler takes its Lambda paths (JSON logs, EMF metrics, cold-start flag).
        "AWS_LAMBDA_FUNCTION_NAME": "bedrock-chains",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
    })
    return env


def run_once(code: str, arg: str, env: Dict[str, str], extra: Tuple[str, ...], cwd: Path
             ) -> Tuple[float, dict, str]:
    """Spawn a fresh interpreter; return (wall ms to the answer, its report, its stderr)."""
    # stderr to a file, not a pipe: a child blocked on a full stderr pipe would never print its answer.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errfile:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *extra, "-c", code, arg], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=errfile, text=True)
        report, wall = None, 0.0
        for line in proc.stdout:
            if line.startswith("COLDSTART "):
                wall = (time.perf_counter() - start) * 1000.0
                report = json.loads(line[len("COLDSTART "):])
                break
        proc.communicate(timeout=120)
        errfile.seek(0)
        err = errfile.read()
    if report is None or not report.get("ok"):
        raise RuntimeError(f"no answer (exit {proc.returncode}):\n{err[-3000:]}")
    return wall, report, err


def import_profile(env: Dict[str, str], extra: Tuple[str, ...], cwd: Path, top: int = 15
                   ) -> List[Tuple[int, str]]:
    """(cumulative us, module) of the top-level packages that cost ours the most import time."""
    _, _, err = run_once(OURS, json.dumps(EVENT), env, (*extra, "-X", "importtime"), cwd)
    best: Dict[str, Tuple[int, str]] = {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cum_us, name = (p.strip() for p in line[len("import time:"):].split("|"))
        key = name.split(".")[0]
        if int(cum_us) > best.get(key, (0, ""))[0]:
            best[key] = (int(cum_us), name)
    return sorted(best.values(), reverse=True)[:top]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7, help="fresh processes per variant")
    ap.add_argument("--deps", choices=["package", "venv"], default="package",
                    help="dependencies from the built package (default) or from this environment")
    ap.add_argument("--importtime", action="store_true", help="also print ours' costliest imports")
    args = ap.parse_args()

    question = f"Context:\n{EVENT['input']['context']}\n\nQuestion: {EVENT['input']['question']}"
    with emulator_process(latency_scale=0.0, config="config.yaml") as url, \
            tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        root = build_task_root(Path(tmp), deps=args.deps == "package")
        env = child_env(url, root)
        # -S: no site-packages, so only the package and the standard library can be imported.
        base = ("-S",) if args.deps == "package" else ()
        no_pyc = (*base, "-X", f"pycache_prefix={Path(tmp) / 'no-bytecode'}")
        event = json.dumps(EVENT)
        # name -> (code, argument, interpreter options)
        variants = {
            "floor: import langchain_aws + one ChatBedrockConverse call": (FLOOR, question, base),
            "ours: import handler + lambda_handler(events/qa.json)": (OURS, event, base),
            "ours, langsmith.types not deferred": (OURS_EAGER, event, base),
            "ours without any .pyc (a source-only zip)": (OURS, event, no_pyc),
        }
        for code, arg, extra in variants.values():  # one untimed run each: warm the OS file cache for all
            run_once(code, arg, env, extra, root)
        walls: Dict[str, List[float]] = {k: [] for k in variants}
        rss: Dict[str, List[float]] = {k: [] for k in variants}
        modules: Dict[str, int] = {}
        for _ in range(args.rounds):
            for name, (code, arg, extra) in variants.items():
                wall, report, _ = run_once(code, arg, env, extra, root)
                walls[name].append(wall)
                rss[name].append(report["peak_rss_mb"])
                modules[name] = report["modules"]
        profile = import_profile(env, base, root) if args.importtime else []

    floor, ours, eager, no_bytecode = list(variants)
    f = median(walls[floor])
    rows = [[name, median(walls[name]), p90(walls[name]), median(walls[name]) / f, median(rss[name]), modules[name]]
            for name in variants]
    time_ratio = median(walls[ours]) / f
    mem_ratio = median(rss[ours]) / median(rss[floor])
    print(f"Cold start, fresh interpreter to first answer ({machine()}; {args.rounds} processes per variant, "
          f"interleaved; dependencies: {args.deps}; bedrock_local over HTTP, latency scale 0)")
    print(table(["variant", "median ms", "p90 ms", "x floor", "peak RSS MB", "modules"], rows))
    print(f"\ntime ratio ours/floor: {time_ratio:.3f}  (goal <= 1.1)")
    print(f"peak memory ratio ours/floor: {mem_ratio:.3f}")
    print(f"the langsmith.types deferral saves {median(walls[eager]) - median(walls[ours]):.0f} ms; "
          f"a zip without .pyc costs {median(walls[no_bytecode]) / f:.2f}x the floor")
    if profile:
        print("\nours: costliest imports (top-level packages, cumulative)")
        print(table(["package", "ms", "heaviest entry"], [[n.split(".")[0], c / 1000.0, n] for c, n in profile]))
    result("cold_start", "first answer, ours", median(walls[ours]), "ms", baseline="bare ChatBedrockConverse",
           ratio=time_ratio, goal="<= 1.1x", ok=time_ratio <= 1.1)
    result("cold_start", "peak memory, ours", median(rss[ours]), "MB", baseline="bare ChatBedrockConverse",
           ratio=mem_ratio)
    result("cold_start", "first answer, no .pyc", median(walls[no_bytecode]), "ms",
           baseline="bare ChatBedrockConverse", ratio=median(walls[no_bytecode]) / f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
