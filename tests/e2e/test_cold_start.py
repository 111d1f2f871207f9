"""What ``import handler`` does at a cold start: no network, no client, nothing heavy it can leave for later.

Each check runs in a fresh interpreter (imports are process-wide) with hooks installed first: socket
connections and DNS lookups fail and are recorded, botocore client creation is recorded. Timings live in
benchmarks/cold_start.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.import_hooks import NO_NETWORK_AND_CLIENTS_RECORDED

ROOT = Path(__file__).resolve().parents[2]

HOOKS = r"""
import json, socket, sys
sys.path.insert(0, sys.argv[1])
report = {"net": [], "clients": []}
""" + NO_NETWORK_AND_CLIENTS_RECORDED

IMPORT = HOOKS + r"""
import handler
from chains.registry import STRATEGIES
report["langchain_aws"] = "langchain_aws" in sys.modules
report["langsmith_types_loaded"] = "langsmith.types.run" in sys.modules
report["strategies_imported"] = sorted(t.split(":")[0] for t in STRATEGIES.values() if t.split(":")[0] in sys.modules)
report["all_strategies"] = sorted(t.split(":")[0] for t in STRATEGIES.values())
print("REPORT" + json.dumps(report))
"""

LANGSMITH_TYPES = HOOKS + r"""
import handler
import langsmith.types as types
report["deferred"] = "langsmith.types.run" not in sys.modules
from langsmith.types import Run                       # a name from the package __init__: loads it
from langsmith.types.run_select_field import RunSelectField
report["run"] = Run.__module__
report["loaded_after_use"] = "langsmith.types.run" in sys.modules
report["has_all"] = "Run" in getattr(types, "__all__", []) or hasattr(types, "Run")
report["same_module"] = sys.modules["langsmith.types"] is types and sys.modules["langsmith"].types is types
try:
    types.NoSuchType
    report["missing"] = "no error"
except AttributeError as exc:
    report["missing"] = str(exc)
print("REPORT" + json.dumps(report))
"""

ANSWER = HOOKS + r"""
import handler
event = json.loads(open(sys.argv[2]).read())
answer = handler.lambda_handler(event, None)
report["ok"] = answer["ok"]
report["output"] = bool(answer.get("output"))
report["langsmith_types_loaded"] = "langsmith.types.run" in sys.modules
print("REPORT" + json.dumps(report))
"""


def run(script: str, *args: str, **env_extra: str):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CHAINS_", "BEDROCK_LOCAL_", "LANGSMITH_", "LANGCHAIN_"))}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **env_extra})
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT), *args], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def test_import_handler_does_no_network_and_creates_no_client():
    report = run(IMPORT)
    assert report["net"] == [] and report["clients"] == []
    # The model classes (and the boto3 patch langchain_aws applies) wait for the first request.
    assert report["langchain_aws"] is False
    assert report["langsmith_types_loaded"] is False


def test_snapstart_init_imports_what_the_first_request_needs_but_creates_nothing():
    report = run(IMPORT, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    assert report["net"] == [] and report["clients"] == []
    assert report["langchain_aws"] is True
    assert report["strategies_imported"] == report["all_strategies"]


def test_deferred_langsmith_types_still_work_when_used():
    report = run(LANGSMITH_TYPES)
    assert report["deferred"] is True
    assert report["run"] == "langsmith.types.run"
    assert report["loaded_after_use"] is True
    assert report["has_all"] is True and report["same_module"] is True
    assert "has no attribute 'NoSuchType'" in report["missing"]


def test_first_answer_after_a_cold_import(tmp_path):
    event = tmp_path / "event.json"
    event.write_text((ROOT / "events" / "qa.json").read_text(encoding="utf-8"))
    report = run(ANSWER, str(event), CHAINS_BACKEND="local")
    assert report["ok"] is True and report["output"] is True
    assert report["net"] == []  # the in-process emulator: nothing left the process
    assert report["clients"] == ["bedrock-runtime"]  # one client, for the model call; no control-plane client
    assert report["langsmith_types_loaded"] is False  # a request never needs the LangSmith API types
