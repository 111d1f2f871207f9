"""``import chains`` has no side effects; configuration can be given entirely in code.

Each check runs in a fresh interpreter with hooks installed before the import: reads of ``os.environ`` (by whom),
socket connections and DNS lookups, botocore clients, logging configuration, threads and output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.import_hooks import NO_NETWORK_AND_CLIENTS_RECORDED

ROOT = Path(__file__).resolve().parents[3]

HOOKS = r"""
import io, json, logging, os, socket, sys, threading, contextlib
ROOT = sys.argv[1]
sys.path.insert(0, ROOT)
OURS = (os.path.join(ROOT, "chains") + os.sep, os.path.join(ROOT, "handler.py"))
SKIP = ("os.py", "_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")
report = {"env": [], "net": [], "clients": []}

def caller():
    frame = sys._getframe(2)
    while frame and (frame.f_code.co_filename.endswith(SKIP) or frame.f_code.co_filename == "<string>"):
        frame = frame.f_back
    return frame.f_code.co_filename if frame else "?"

class WatchedEnviron(type(os.environ)):
    def __getitem__(self, key):
        where = caller()
        if where.startswith(OURS):
            report["env"].append([key, os.path.relpath(where, ROOT)])
        return super().__getitem__(key)
    def __iter__(self):
        where = caller()
        if where.startswith(OURS):
            report["env"].append(["<all>", os.path.relpath(where, ROOT)])
        return super().__iter__()

e = os.environ
os.environ = WatchedEnviron(e._data, e.encodekey, e.decodekey, e.encodevalue, e.decodevalue)
""" + NO_NETWORK_AND_CLIENTS_RECORDED + r"""

root = logging.getLogger()
before = {"handlers": list(root.handlers), "level": root.level}
threads = threading.active_count()
out, err = io.StringIO(), io.StringIO()
"""

IMPORT_ONLY = HOOKS + r"""
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    import chains
    from chains import get_chain, list_chains, build_runtime  # the public surface
report["root_handlers_changed"] = list(root.handlers) != before["handlers"]
report["root_level_changed"] = root.level != before["level"]
report["library_handlers"] = sorted({type(h).__name__ for name, lg in logging.root.manager.loggerDict.items()
                                     if name.startswith("chains") and isinstance(lg, logging.Logger)
                                     for h in lg.handlers})
report["threads_started"] = threading.active_count() - threads
report["output"] = out.getvalue() + err.getvalue()
report["langchain_aws_imported"] = "langchain_aws" in sys.modules
report["env_at_import"] = list(report["env"])
# First use reads the environment (proves the hook sees reads from chains/ code).
chains.list_chains()
report["env_after_first_use"] = report["env"][len(report["env_at_import"]):]
print("REPORT" + json.dumps(report))
"""

IN_CODE = HOOKS + r"""
import yaml
data = yaml.safe_load(open(os.path.join(ROOT, "config.yaml")))
with contextlib.redirect_stderr(err):
    import chains
    rt = chains.build_runtime(data, backend="local", env={}, notice=False)
    result = chains.get_chain("qa", rt).invoke({"question": "Which family is Amazon Nova?"})
report["model"] = result["model"]
report["backend"] = rt.factory.backend
print("REPORT" + json.dumps(report))
"""


def run(script: str, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAINS_"))}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1", **(env_extra or {})})
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def test_import_chains_has_no_side_effects():
    report = run(IMPORT_ONLY)
    assert report["env_at_import"] == [], "chains read the environment at import"
    assert report["net"] == [] and report["clients"] == []
    assert not report["root_handlers_changed"] and not report["root_level_changed"]
    assert set(report["library_handlers"]) <= {"NullHandler"}
    assert report["threads_started"] == 0 and report["output"] == ""
    # langchain_aws patches boto3.client process-wide when imported: only on first use, never at import.
    assert report["langchain_aws_imported"] is False
    # ...and the environment is read on first use (the hook works).
    assert any(key == "CHAINS_CONFIG" for key, _ in report["env_after_first_use"])


def test_configuration_given_in_code_beats_the_environment():
    # The environment asks for real Bedrock with credentials; the code says local and passes its own env.
    report = run(IN_CODE, {"CHAINS_BACKEND": "bedrock", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                           "AWS_SECRET_ACCESS_KEY": "x", "CHAINS_CONFIG": "/nonexistent.yaml"})
    assert report["backend"] == "local" and report["model"].startswith("us.anthropic.claude-haiku-4-5")
    assert report["env"] == [], "chains code read os.environ although env= was given"
    assert report["net"] == []  # bedrock_local in-process: nothing left the process
