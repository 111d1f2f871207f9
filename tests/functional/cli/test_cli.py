"""The command line as a user runs it: a fresh process, no AWS credentials, the offline default."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args, stdin=None, env_extra=None, tmp_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAINS_"))}
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
    env["AWS_CONFIG_FILE"] = "/nonexistent/config"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "handler.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
        timeout=120,
    )


def test_first_run_command_works_offline_and_says_so():
    proc = run("events/qa.json")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)  # stdout is exactly the response JSON
    assert body["ok"] is True and body["output"]
    assert "emulated by bedrock_local" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "emulated" in line]) == 1


def test_stdin_and_error_exit_code():
    proc = run("-", stdin=json.dumps({"chain": "nope", "input": {}}))
    assert proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body["error"]["type"] == "UnknownChain" and "qa" in body["error"]["available"]


def test_unreadable_and_invalid_event_files(tmp_path):
    proc = run(str(tmp_path / "missing.json"))
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["type"] == "BadRequest"
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    proc = run(str(bad))
    assert proc.returncode == 1 and "not valid JSON" in json.loads(proc.stdout)["error"]["message"]


def test_list():
    proc = run("--list")
    assert proc.returncode == 0
    assert proc.stdout.split()[0] and "qa" in proc.stdout


def test_check_reports_without_secrets():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    proc = run("--check", env_extra={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": secret,
                                    "CHAINS_BACKEND": "local"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "backend:      local" in proc.stdout
    assert "environment variables (AWS_ACCESS_KEY_ID)" in proc.stdout
    assert secret not in proc.stdout + proc.stderr
    assert "AKIAIOSFODNN7EXAMPLE" not in proc.stdout + proc.stderr


def test_check_ping_offline():
    proc = run("--check", "--ping")
    assert proc.returncode == 0, proc.stdout
    assert "no AWS credentials found" in proc.stdout
    assert proc.stdout.count(" OK ") == 3


def test_check_ping_gives_a_hint_for_each_failure():
    faults = json.dumps([{"model": "nova", "error": "AccessDeniedException"},
                         {"model": "sonnet", "error": "ValidationException",
                          "message": "The provided model identifier is invalid."}])
    proc = run("--check", "--ping", env_extra={"BEDROCK_LOCAL_FAULTS": faults})
    assert proc.returncode == 1
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert "model access is not granted" in lines["nova_pro"]
    assert "retired" in lines["claude_sonnet"]
    assert " OK " in lines["claude_haiku"]


@pytest.mark.parametrize("backend_env, expected", [({}, "local"), ({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9"}, "bedrock")])
def test_auto_backend_choice(backend_env, expected):
    proc = run("--check", env_extra=backend_env)
    assert f"backend:      {expected}" in proc.stdout
