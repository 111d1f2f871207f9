"""The handler in Lambda's own runtime loop: AWS's Runtime Interface Emulator + awslambdaric, over HTTP.

The RIE binary (the one `sam local` puts in its containers) ships inside the aws-sam-cli wheel on PyPI under
``samcli/local/rapid/``; it is downloaded once (``pip download --no-deps``) and cached under
``~/.cache/bedrock-chains/rie``. It runs bound to 127.0.0.1 on free ports, and starts
``python -m awslambdaric handler.lambda_handler`` (the runtime interface client the managed Python runtimes
use) in a task root unpacked from the zip that ``tools.package`` builds, so these tests also prove the
package holds everything the function needs. Events are POSTed to the RIE's invoke endpoint, as Lambda's
front end would.

Two functions:
- ``function``: the deployable package (no emulator inside); "Bedrock" is bedrock_local served over HTTP from
  this test process through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, with dummy credentials as Lambda provides.
- ``slow_function``: a package built with ``--include-emulator`` running bedrock_local in-process, every model
  delayed by ``BEDROCK_LOCAL_FAULTS``, and a 6 s function timeout: the handler must answer a clean 504 before
  Lambda's hard timeout.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_CLI_VERSION = "1.170.0"
RIE_CACHE = Path(os.environ.get("BEDROCK_CHAINS_CACHE", Path.home() / ".cache" / "bedrock-chains")) / "rie"
RIE_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
PACKAGE_ARCH = {"x86_64": "x86_64", "arm64": "arm64"}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
QA_EVENT = json.loads((ROOT / "events" / "qa.json").read_text(encoding="utf-8"))
URL_EVENT = json.loads((ROOT / "events" / "function_url.json").read_text(encoding="utf-8"))
SLOW_TIMEOUT_S = 6
SLOW_FAULTS = [{"model": "*", "latency_ms": 30000}]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine().lower() not in RIE_ARCH,
    reason="the Lambda Runtime Interface Emulator is a Linux x86_64/arm64 binary",
)


# --- the emulator binary ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rie_binary() -> Path:
    arch = RIE_ARCH[platform.machine().lower()]
    target = RIE_CACHE / SAM_CLI_VERSION / f"aws-lambda-rie-{arch}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
             f"aws-sam-cli=={SAM_CLI_VERSION}", "-d", tmp],
            capture_output=True, text=True,
        )
        wheels = list(Path(tmp).glob("aws_sam_cli-*.whl"))
        if proc.returncode != 0 or not wheels:
            message = f"cannot download aws-sam-cli=={SAM_CLI_VERSION} from PyPI: {proc.stderr[-500:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(f"samcli/local/rapid/aws-lambda-rie-{arch}")
        partial = Path(tmp) / target.name
        partial.write_bytes(data)
        partial.chmod(0o755)
        os.replace(partial, target)  # atomic: a concurrent run sees the whole binary or none
    return target


# --- a function under the RIE -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task_root(tmp_path_factory, include_emulator: bool) -> Path:
    """The deployment package (project files; dependencies come from this interpreter) unpacked."""
    from tools.package import BuildOptions, build

    base = tmp_path_factory.mktemp("task-emulator" if include_emulator else "task")
    arch = PACKAGE_ARCH[RIE_ARCH[platform.machine().lower()]]
    python = "{}.{}".format(*sys.version_info[:2])
    result = build(BuildOptions(arch=arch, python=python, deps=False, include_emulator=include_emulator,
                                out=base / "package.zip"))
    root = base / "var-task"
    with zipfile.ZipFile(result.path) as zf:
        zf.extractall(root)
    return root


class LambdaUnderRIE:
    """One function: the RIE process (and the runtime it starts), its ports and its log."""

    def __init__(self, binary: Path, root: Path, env: Dict[str, str], log: Path) -> None:
        self.binary, self.root, self.env, self.log = binary, root, env, log
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0

    def start(self) -> "LambdaUnderRIE":
        for _ in range(3):  # a port taken between choosing and binding: choose again
            self.port, api_port = _free_port(), _free_port()
            self.proc = subprocess.Popen(
                [str(self.binary), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                 "--runtime-api-address", f"127.0.0.1:{api_port}",
                 sys.executable, "-m", "awslambdaric", "handler.lambda_handler"],
                cwd=self.root, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"the RIE did not start; log:\n{self.logs()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def invoke_raw(self, payload: Any) -> str:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=90) as resp:
            return resp.read().decode("utf-8")

    def invoke(self, payload: Any) -> Dict[str, Any]:
        text = self.invoke_raw(payload)
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError(f"not a JSON answer: {text[:300]!r}\nlog:\n{self.logs()[-3000:]}") from None

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def lambda_env(root: Path, timeout_s: int, **extra: str) -> Dict[str, str]:
    """What Lambda gives a python3.12 function, plus ``extra``; nothing from this machine's AWS set-up."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(root.parent),
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": str(root),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "bedrock-chains",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def bedrock_http():
    """bedrock_local over HTTP in this process: the function's "Amazon Bedrock"."""
    from bedrock_local import Emulator, load_profiles

    emulator = Emulator(load_profiles(str(ROOT / "config.yaml")), faults=[], latency_scale=0.0)
    server = emulator.serve()
    yield emulator, server.url
    server.shutdown()


@pytest.fixture(scope="module")
def function(rie_binary, bedrock_http, tmp_path_factory):
    _, url = bedrock_http
    root = task_root(tmp_path_factory, include_emulator=False)
    env = lambda_env(root, 60, CHAINS_BACKEND="bedrock", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=url,
                     AWS_ACCESS_KEY_ID="ASIALAMBDAEXAMPLE", AWS_SECRET_ACCESS_KEY="lambda-secret-example",
                     AWS_SESSION_TOKEN="lambda-session-token-example")
    fn = LambdaUnderRIE(rie_binary, root, env, root.parent / "rie.log").start()
    yield fn
    fn.stop()


@pytest.fixture(scope="module")
def slow_function(rie_binary, tmp_path_factory):
    root = task_root(tmp_path_factory, include_emulator=True)
    env = lambda_env(root, SLOW_TIMEOUT_S, CHAINS_BACKEND="local", BEDROCK_LOCAL_FAULTS=json.dumps(SLOW_FAULTS))
    fn = LambdaUnderRIE(rie_binary, root, env, root.parent / "rie.log").start()
    # Initialise it with a request that calls no model: on the RIE, initialisation counts against the first
    # invocation's timeout, and the deadline test should measure the handler, not the imports.
    warm = fn.invoke({"chain": "no-such-chain"})
    assert warm.get("error", {}).get("type") == "UnknownChain", warm
    yield fn
    fn.stop()


def _converse_calls(emulator) -> int:
    return len([c for c in emulator.calls if c.operation == "Converse"])


# --- direct events ---------------------------------------------------------------------------------------------


def test_direct_event_answers_through_the_runtime_loop(function, bedrock_http):
    emulator, _ = bedrock_http
    before = len(emulator.calls)
    answer = function.invoke(QA_EVENT)
    assert answer["ok"] is True, answer
    assert answer["chain"] == "qa"
    assert answer["output"].strip()
    new = emulator.calls[before:]
    assert [c.operation for c in new] == ["Converse"], "one model call, over HTTP, to our Bedrock endpoint"
    assert answer["model"] == new[0].model_id
    assert answer["usage"]["input_tokens"] == new[0].input_tokens > 0
    # The request id is the one Lambda's runtime API handed to awslambdaric (the RIE logs it).
    assert f"START RequestId: {answer['request_id']}" in function.logs()


def test_each_invocation_has_its_own_request_id(function):
    a, b = function.invoke(QA_EVENT), function.invoke(QA_EVENT)
    assert a["ok"] and b["ok"]
    assert a["request_id"] != b["request_id"]
    assert str(uuid.UUID(a["request_id"])) == a["request_id"]


def test_prompt_text_never_reaches_the_logs(function):
    question = "Which secret colour is the Lambda fox wearing today?"
    event = {"chain": "qa", "input": {"question": question, "context": "It wears teal."}}
    assert function.invoke(event)["ok"]
    assert question not in function.logs()
    assert "lambda-secret-example" not in function.logs()


# --- Function URL events ----------------------------------------------------------------------------------------


def test_function_url_event_gets_an_http_response(function):
    response = function.invoke(URL_EVENT)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert body["ok"] is True and body["chain"] == "qa" and body["output"].strip()


def test_function_url_event_with_base64_body(function):
    event = dict(URL_EVENT, body=base64.b64encode(URL_EVENT["body"].encode()).decode(), isBase64Encoded=True)
    response = function.invoke(event)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["ok"] is True


# --- bad events ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event, status, error_type", [
    ({"chain": "no-such-chain", "input": {}}, 404, "UnknownChain"),
    ({"chain": "qa", "input": {"context": "only context"}}, 400, "MissingVariables"),
    ({"chain": "qa", "input": {"question": "q"}, "colour": "teal"}, 400, "BadRequest"),
    ([1, 2, 3], 400, "BadRequest"),
])
def test_bad_direct_event_is_a_typed_error_and_calls_no_model(function, bedrock_http, event, status, error_type):
    emulator, _ = bedrock_http
    before = _converse_calls(emulator)
    answer = function.invoke(event)
    assert answer["ok"] is False
    assert answer["error"]["type"] == error_type
    assert answer["error"]["status"] == status
    assert "Traceback" not in json.dumps(answer)
    assert answer["request_id"]
    assert _converse_calls(emulator) == before
    if error_type == "UnknownChain":
        assert "qa" in answer["error"]["available"]


def test_bad_function_url_body_is_a_400_response(function):
    response = function.invoke(dict(URL_EVENT, body="{not json"))
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["ok"] is False and body["error"]["type"] == "BadRequest"


def test_function_survives_bad_events(function):
    function.invoke([1, 2, 3])
    assert function.invoke(QA_EVENT)["ok"] is True
    assert function.proc.poll() is None


# --- the deadline ---------------------------------------------------------------------------------------------


def test_deadline_is_a_clean_504_before_lambdas_timeout(slow_function):
    answer = slow_function.invoke_raw(QA_EVENT)
    # Lambda's hard timeout would answer "Task timed out after 6.00 seconds" (not JSON) and kill the runtime.
    assert "Task timed out" not in answer, slow_function.logs()[-2000:]
    assert "Reset initiated: Timeout" not in slow_function.logs()
    answer = json.loads(answer)
    assert answer["ok"] is False
    assert answer["error"]["type"] == "DeadlineExceeded"
    assert answer["error"]["status"] == 504
    assert answer["chain"] == "qa"
    assert answer["request_id"]
    assert "Traceback" not in json.dumps(answer)


def test_deadline_over_a_function_url_is_a_504_response(slow_function):
    response = slow_function.invoke(URL_EVENT)
    assert response["statusCode"] == 504
    body = json.loads(response["body"])
    assert body["error"]["type"] == "DeadlineExceeded"
    assert "Reset initiated: Timeout" not in slow_function.logs()
