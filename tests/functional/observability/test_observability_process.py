"""Observability that depends on process-wide state, each in a fresh interpreter: what ``import handler``
loads, X-Ray subsegments (the SDK patches botocore for the whole process), the CLI's stdout, LangSmith.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
import yaml

from helpers.obs_helpers import HAIKU, NOVA, ROOT, config_with, split_output

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CHAINS_", "LANGSMITH", "LANGCHAIN", "POWERTOOLS_", "LOG_", "_X_AMZN"))
           and k not in ("LAMBDA_TASK_ROOT", "BEDROCK_LOCAL_FAULTS")}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials", AWS_CONFIG_FILE="/nonexistent/config",
               AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
    env.update(extra)
    return env


def python(script, env, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


def write_config(tmp_path, **sections):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_with(**sections)))
    return str(path)


def test_import_handler_loads_no_powertools_and_tracing_off_never_loads_xray(tmp_path):
    proc = python("""
        import json, logging, sys
        import handler
        after_import = {m: m in sys.modules for m in ("aws_lambda_powertools", "aws_xray_sdk")}
        configured = bool(logging.getLogger("chains").handlers)
        from conftest import FakeLambdaContext
        body = handler.lambda_handler({"chain": "qa", "input": {"question": "q"}}, FakeLambdaContext("req-9"))
        after_request = {m: m in sys.modules for m in ("aws_lambda_powertools", "aws_xray_sdk")}
        print(json.dumps({"import": after_import, "configured": configured, "request": after_request,
                          "ok": body["ok"]}), file=sys.stderr)
    """, clean_env(AWS_LAMBDA_FUNCTION_NAME="bedrock-chains"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["import"] == {"aws_lambda_powertools": False, "aws_xray_sdk": False}
    assert report["configured"] is False  # importing the package and the handler configures no logging
    assert report["request"] == {"aws_lambda_powertools": True, "aws_xray_sdk": False}
    logs, emf, _ = split_output(proc.stdout)
    assert logs and emf  # the Lambda request logged JSON and metrics to stdout


def test_xray_subsegment_per_model_call(tmp_path):
    pytest.importorskip("chains.strategies.routed")
    chains_section = config_with()["chains"]
    chains_section["resilient"] = {"prompt": "qa", "strategy": "fallback", "models": ["claude_haiku", "nova_pro"]}
    config = write_config(tmp_path, chains=chains_section, observability={"tracing": {"enabled": True}})
    proc = python("""
        import json, sys
        import handler
        from aws_xray_sdk.core import xray_recorder
        from chains.registry import default_runtime
        from conftest import FakeLambdaContext

        sent = []
        class Capture:  # an emitter that keeps what would go to the X-Ray daemon
            def send_entity(self, entity):
                sent.append(entity.to_dict())
            def set_daemon_address(self, address):
                pass
        xray_recorder.configure(emitter=Capture())
        default_runtime().factory.emulator.add_fault("claude_haiku", error="ThrottlingException")
        body = handler.lambda_handler({"chain": "resilient", "input": {"question": "q"}}, FakeLambdaContext("req-7"))
        print(json.dumps({"body": body, "sent": sent}, default=str), file=sys.stderr)
    """, clean_env(AWS_LAMBDA_FUNCTION_NAME="bedrock-chains", LAMBDA_TASK_ROOT=str(tmp_path),
                   _X_AMZN_TRACE_ID=TRACE_HEADER, CHAINS_CONFIG=config))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["body"]["ok"] is True and report["body"]["model"] == NOVA
    request = next(e for e in report["sent"] if e["name"] == "## bedrock_chains.handle")
    assert request["annotations"]["chain"] == "resilient" and request["annotations"]["status"] == 200
    assert request["annotations"]["ColdStart"] is True and request["annotations"]["model"] == NOVA
    # A model subsegment is either still nested in the request's, or was streamed out on its own when it closed
    # (the SDK streams closed subsegments as soon as another ends through the recorder, e.g. botocore's own
    # "bedrock-runtime" subsegment of an inline call); streamed ones name the request's subsegment as parent.
    nested = [s for s in request.get("subsegments", []) if s["name"].startswith("## model")]
    streamed = [e for e in report["sent"] if e["name"].startswith("## model")]
    assert all(e.get("parent_id") == request["id"] for e in streamed)
    models = {s["name"]: s for s in nested + streamed}
    assert set(models) == {"## model claude_haiku", "## model nova_pro"} and len(nested + streamed) == 2
    throttled, answered = models["## model claude_haiku"], models["## model nova_pro"]
    assert throttled["annotations"]["error_class"] == "throttled" and throttled["annotations"]["ok"] is False
    assert throttled.get("throttle") is True and throttled["annotations"]["model"] == HAIKU
    assert answered["annotations"]["ok"] is True
    assert answered["metadata"]["bedrock_chains"]["usage"]["output_tokens"] == report["body"]["usage_by_model"][NOVA]["output_tokens"]
    assert all(s["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793" for s in models.values())


def test_cli_stdout_is_only_the_response_while_logs_and_metrics_go_to_stderr(tmp_path):
    config = write_config(tmp_path, observability={"metrics": {"enabled": True}})
    proc = subprocess.run([sys.executable, "handler.py", "events/qa.json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=clean_env(CHAINS_CONFIG=config, LOG_LEVEL="DEBUG"))
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)  # nothing but the response JSON on stdout
    assert body["ok"] is True
    logs, emf, text_lines = split_output(proc.stderr)
    assert emf and emf[0]["chain"] == "qa"
    assert any("result: 200" in line and f"[qa {body['request_id']}]" in line for line in text_lines)
    assert any("model call" in line and "DEBUG" in line for line in text_lines)


class _LangSmithStub(http.server.BaseHTTPRequestHandler):
    received: list = []

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        self.received.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


def test_langsmith_tracing_with_its_standard_variables_is_sent_before_lambda_returns():
    _LangSmithStub.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LangSmithStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = clean_env(AWS_LAMBDA_FUNCTION_NAME="bedrock-chains", LANGSMITH_TRACING="true",
                    LANGSMITH_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
                    LANGSMITH_API_KEY="lsv2_fake_0123456789", LANGSMITH_PROJECT="bedrock-chains-test")
    script = """
        import sys
        import handler
        from conftest import FakeLambdaContext
        handler.lambda_handler({"chain": "qa", "input": {"question": "q"}}, FakeLambdaContext("req-ls-42"))
        print("RETURNED", file=sys.stderr, flush=True)
        sys.stdin.read()  # like a frozen Lambda sandbox: the process lives on, idle
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("RETURNED"):
                break
        # What LangSmith has by the time the handler returned (no waiting: Lambda would freeze here).
        sent = b"".join(body for method, path, body in _LangSmithStub.received if path.startswith("/runs"))
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        server.shutdown()
    assert any(line.startswith("RETURNED") for line in lines), "".join(lines)
    assert b'"name":"qa"' in sent and b'"run_type":"chain"' in sent
    assert b"ChatBedrockConverse" in sent and b'"run_type":"llm"' in sent
    assert b"req-ls-42" in sent  # the request id is in the run's metadata
    assert b"lsv2_fake_0123456789" not in sent
