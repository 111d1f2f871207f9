"""Every fenced snippet in README.md and docs/*.md runs as written, offline.

The rule is the fence's info string (nothing is skipped by name):

- ```python  run. All python blocks of one file run in ONE fresh interpreter, in the order they appear, in a
             shared namespace: a block may use names defined by an earlier block of the same file (the way a
             reader pastes them into one session). cwd is the repository root.
- ```bash    run, command by command. A bash block may hold only offline-safe commands: ``python handler.py ...``,
             ``python -m bedrock_local ...`` and ``bedrock-chains ...`` (the console script of ``pip install .``;
             such a command is skipped when the script is not installed), each optionally preceded by
             ``NAME=value`` assignments. Anything else in a bash block fails this test: fence it as ``console``.
             ``python -m bedrock_local`` (without ``--help``) is a server that runs until killed: it passes when
             it prints its ``http://`` URL on its first line within the timeout, and is then stopped.
             Every other command must exit 0.
- ```console shown, not run: commands that need the network (``pip install``), AWS (``sam``, ``aws``, ``curl``
             to a deployed URL), Docker, a different Python, or that run for minutes (the test suite itself,
             the benchmarks).
- ```json, ```text, ```yaml  output, events and configuration: not run. JSON blocks must parse, unless they
             are a fragment of a larger object (they then start with ``"key":``).

A fence without an info string, or with another one, fails the test, so no snippet escapes the rule.

Every run gets a clean environment: no AWS credentials, profile, endpoint or region, no shared AWS files, no
instance metadata, no CHAINS_* / LangSmith settings; so the snippets run on bedrock_local as a new user's
machine would, and never reach AWS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

RUN = {"python", "bash"}
SHOWN = {"console", "json", "text", "yaml"}
TIMEOUT_S = 120          # per file of python blocks / per bash command; a hang fails instead of blocking the suite
SERVER_START_S = 30      # python -m bedrock_local must print its URL within this

FENCE = re.compile(r"^```(.*)$")


def extract(path: Path) -> list[dict]:
    """The fenced blocks of a Markdown file: info string, first line number (1-based, of the code) and code."""
    blocks, current = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if current is None and match:
            current = {"file": str(path.relative_to(ROOT)), "info": match.group(1).strip(), "line": number + 1,
                       "lines": []}
        elif current is not None and line.startswith("```"):
            current["code"] = "\n".join(current.pop("lines")) + "\n"
            blocks.append(current)
            current = None
        elif current is not None:
            current["lines"].append(line)
    assert current is None, f"{path.name}: unclosed fence opened at line {current['line'] - 1}"
    return blocks


ALL_BLOCKS = [b for path in DOC_FILES for b in extract(path)]


def clean_env(tmp_path: Path) -> dict:
    drop = re.compile(r"^(AWS_|CHAINS_|LANGSMITH_|LANGCHAIN_|BEDROCK_LOCAL_|POWERTOOLS_)|"
                      r"^(AMAZON_NOVA_PRO_MODEL_ID|ANTHROPIC_CLAUDE_HAIKU_MODEL_ID|ANTHROPIC_CLAUDE_SONNET_MODEL_ID|"
                      r"S3_BUCKET_NAME|LOG_LEVEL|LOG_PROMPTS)$")
    env = {k: v for k, v in os.environ.items() if not drop.match(k)}
    env.update({
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        # `python` in a bash block is the interpreter running this test (the project's venv).
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


def test_every_fence_has_a_known_info_string():
    unknown = [f"{b['file']}:{b['line'] - 1} ```{b['info']}" for b in ALL_BLOCKS if b["info"] not in RUN | SHOWN]
    assert not unknown, "fence these as python/bash (run) or console/json/text/yaml (shown):\n" + "\n".join(unknown)


def test_json_blocks_parse():
    bad = []
    for b in ALL_BLOCKS:
        if b["info"] != "json" or b["code"].lstrip().startswith('"'):
            continue
        try:
            json.loads(b["code"])
        except ValueError as exc:
            bad.append(f"{b['file']}:{b['line']}: {exc}")
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------- python

DRIVER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for b in blocks:
    try:
        exec(compile(b["code"], f"{b['file']}:{b['line']}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        sys.exit(f"SNIPPET FAILED: the python block at {b['file']} line {b['line']}")
"""

PY_FILES = sorted({b["file"] for b in ALL_BLOCKS if b["info"] == "python"})


@pytest.mark.parametrize("doc", PY_FILES)
def test_python_blocks_run(doc, tmp_path):
    blocks = [{k: b[k] for k in ("file", "line", "code")} for b in ALL_BLOCKS
              if b["file"] == doc and b["info"] == "python"]
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(spec)], cwd=ROOT, env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]


# ---------------------------------------------------------------- bash

OFFLINE_SAFE = [("python", "handler.py"), ("python", "-m", "bedrock_local"), ("bedrock-chains",)]
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def commands(code: str) -> list[str]:
    """One string per command: continuation lines joined, comments and blank lines dropped."""
    out, pending = [], ""
    for line in code.splitlines():
        pending += line
        if line.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        words = shlex.split(pending, comments=True)
        if words:
            out.append(pending)
        pending = ""
    return out


def program(command: str) -> tuple:
    """The command's words after any leading NAME=value assignments."""
    words = shlex.split(command, comments=True)
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)
    return tuple(words)


BASH_BLOCKS = [b for b in ALL_BLOCKS if b["info"] == "bash"]


def offline_safe(command: str) -> bool:
    return any(program(command)[:len(p)] == p for p in OFFLINE_SAFE)


def test_bash_blocks_hold_only_offline_safe_commands():
    unsafe = [f"{b['file']}:{b['line']}: {c}" for b in BASH_BLOCKS for c in commands(b["code"])
              if not offline_safe(c)]
    assert not unsafe, "not offline-safe: fence these blocks as ```console\n" + "\n".join(unsafe)


def _is_server(words: tuple) -> bool:
    return words[:3] == ("python", "-m", "bedrock_local") and "--help" not in words and "-h" not in words


def _start_server(command: str, env: dict) -> None:
    proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first: list = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(SERVER_START_S)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    assert first and first[0].startswith("http://"), f"{command!r} printed no URL: {first} {proc.stderr.read()[-2000:]}"


@pytest.mark.parametrize("block", BASH_BLOCKS, ids=[f"{b['file']}:{b['line']}" for b in BASH_BLOCKS])
def test_bash_blocks_run(block, tmp_path):
    unsafe = [c for c in commands(block["code"]) if not offline_safe(c)]
    assert not unsafe, f"not run, not offline-safe (fence the block as console): {unsafe}"
    env = clean_env(tmp_path)
    ran = 0
    for command in commands(block["code"]):
        words = program(command)
        if words[:1] == ("bedrock-chains",) and shutil.which("bedrock-chains", path=env["PATH"]) is None:
            continue
        if _is_server(words):
            _start_server(command, env)
        else:
            proc = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT_S)
            assert proc.returncode == 0, f"{command!r} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
        ran += 1
    if not ran:
        pytest.skip("only bedrock-chains commands, and the console script is not installed (pip install .)")
