"""The installable package: the wheel carries the defaults (config.yaml, prompts/) and not the Lambda zip
builder, and once installed in a fresh virtual environment ``from chains import get_chain`` works from any
directory, offline (the issue's done-when check).

The wheel is built once per session without network (``pip wheel --no-deps --no-build-isolation``, with the
pinned hatchling). The fresh venv reuses /work/venv-style site-packages for the dependencies through a
``.pth`` file, so nothing is downloaded and it stays quick.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("hatchling", reason="hatchling (pinned in requirements.txt) builds the wheel")


def _offline_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAINS_", "PYTHON"))}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"), AWS_CONFIG_FILE=str(tmp / "no-config"),
               AWS_EC2_METADATA_DISABLED="true", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, env=_offline_env(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = out.glob("bedrock_chains-*.whl")
    return built


def test_the_wheel_carries_the_defaults_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "chains/_defaults/config.yaml" in names
    prompts = {p.name for p in (ROOT / "prompts").glob("*.yaml")}
    assert prompts and {f"chains/_defaults/prompts/{p}" for p in prompts} <= names
    assert "chains/__init__.py" in names and "bedrock_local/__init__.py" in names
    assert "bedrock-chains = chains.cli:main" in entry_points


def test_the_wheel_does_not_carry_the_lambda_zip_builder_or_the_tests(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.startswith(("tools/", "tests/", "benchmarks/")) or n.endswith("/package.py")]


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies (and pip) from this interpreter's site-packages, after the venv's own: no download.
    Path(purelib, "deps-from-test-interpreter.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300, env=_offline_env(venv.parent))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def test_installed_get_chain_answers_offline_from_another_directory(fresh_venv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import chains, json; from chains import get_chain; "
            "r = get_chain('qa').invoke({'question': 'hi'}); "
            "from chains.config import DEFAULT_CONFIG_PATH; "
            "print(json.dumps({'model': r['model'], 'file': chains.__file__, 'config': str(DEFAULT_CONFIG_PATH)}))")
    proc = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code], cwd=elsewhere, capture_output=True,
                          text=True, timeout=180, env=_offline_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["model"].startswith(("us.anthropic.", "us.amazon."))  # answered by the in-process emulator
    assert str(fresh_venv) in out["file"]  # the installed package, not this checkout
    assert out["config"].endswith("chains/_defaults/config.yaml")


def test_installed_console_script_lists_the_chains(fresh_venv, tmp_path):
    proc = subprocess.run([str(fresh_venv / "bin" / "bedrock-chains"), "--list"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=_offline_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "qa" in proc.stdout and "summarize" in proc.stdout
