"""tools.package: the deployment zip is reproducible, holds what Lambda needs and nothing else.

The fast tests build the project files alone (``--no-deps``) or install hand-made wheels from a local
directory (``--no-index --find-links``) through the real ``pip install --platform ... --target`` path, so
they run offline. The full build (every runtime dependency from PyPI for arm64 / Python 3.12, ~130 MB) is
slow and skipped unless asked for:

    BEDROCK_CHAINS_FULL_BUILD=1 python -m pytest -q tests/deploy/test_packaging.py -k full
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import struct
import sys
import zipfile
from pathlib import Path
from typing import Dict

import pytest

from tools import package
from tools.package import BuildOptions, build, read_pins

ROOT = Path(__file__).resolve().parents[2]
HERE_PY = "{}.{}".format(*sys.version_info[:2])
ALLOWED_TOP = {"handler.py", "config.yaml", "chains", "prompts", "bedrock_local", "__pycache__"}
TEST_ONLY = {"pytest", "pytest-asyncio", "moto", "hypothesis", "cfn-lint", "awslambdaric", "langchain-tests",
             "nbclient", "nbformat", "ipykernel", "matplotlib", "psutil", "aws-sam-cli", "litellm"}


def names(path: Path):
    with zipfile.ZipFile(path) as zf:
        return [i.filename for i in zf.infolist()]


def no_deps(tmp_path: Path, name: str = "pkg.zip", **kw) -> BuildOptions:
    return BuildOptions(deps=False, out=tmp_path / name, **kw)


# --- project files ----------------------------------------------------------------------------------------------


def test_same_inputs_same_bytes(tmp_path):
    a = build(no_deps(tmp_path, "a.zip", python=HERE_PY))
    b = build(no_deps(tmp_path, "b.zip", python=HERE_PY))
    assert a.sha256 == b.sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_entries_sorted_with_fixed_time_and_modes(tmp_path):
    result = build(no_deps(tmp_path))
    with zipfile.ZipFile(result.path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}
    assert not [i for i in infos if i.is_dir()]


def test_ships_the_service_and_only_the_allowlist(tmp_path):
    entries = names(build(no_deps(tmp_path)).path)
    for required in ("handler.py", "config.yaml", "chains/__init__.py", "chains/registry.py", "prompts/qa.yaml"):
        assert required in entries
    assert {e.split("/", 1)[0] for e in entries} <= ALLOWED_TOP
    assert not [e for e in entries if e.startswith(("tests/", "benchmarks/", "notebooks/"))]
    # Of bedrock_local, only the model catalogue the service reads (not the emulator), and it imports alone.
    shipped = sorted(e.split("/", 1)[1] for e in entries if e.startswith("bedrock_local/") and "__pycache__" not in e)
    assert shipped == sorted(package.CATALOGUE_FILES)
    assert not [e for e in entries if e.endswith(".env") or "/.env" in e]
    # The builder itself is a developer tool, not part of what Lambda runs.
    assert not [e for e in entries if e.startswith("tools/") or e.endswith("package.py")]


def test_every_prompt_and_module_of_the_tree_is_shipped(tmp_path):
    entries = set(names(build(no_deps(tmp_path)).path))
    expected = {p.relative_to(ROOT).as_posix() for d in ("chains", "prompts") for p in (ROOT / d).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert expected <= entries


def test_include_emulator_adds_bedrock_local(tmp_path):
    entries = names(build(no_deps(tmp_path, include_emulator=True)).path)
    assert "bedrock_local/__init__.py" in entries and "bedrock_local/emulator.py" in entries
    # Only bytecode the build wrote itself (for the target Python), never a stale cache from the tree.
    assert not [e for e in entries if "__pycache__" in e and sys.implementation.cache_tag not in e]


def test_no_bytecode_for_another_python(tmp_path):
    other = "3.12" if HERE_PY != "3.12" else "3.13"
    result = build(no_deps(tmp_path, python=other))
    assert not result.bytecode
    assert not [e for e in names(result.path) if e.endswith(".pyc")]


def test_bytecode_is_hash_based_and_records_the_lambda_path(tmp_path):
    result = build(no_deps(tmp_path, python=HERE_PY))
    assert result.bytecode
    tag = sys.implementation.cache_tag
    pyc = f"chains/__pycache__/registry.{tag}.pyc"
    with zipfile.ZipFile(result.path) as zf:
        data = zf.read(pyc)
        assert f"__pycache__/handler.{tag}.pyc" in zf.namelist()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    flags = struct.unpack("<I", data[4:8])[0]
    assert flags & 0b1, "hash-based pyc (PEP 552), not timestamped"
    assert b"/var/task/chains/registry.py" in data


def test_bytecode_refused_for_another_python(tmp_path):
    other = "3.12" if HERE_PY != "3.12" else "3.13"
    with pytest.raises(package.PackageError, match="must be built by Python"):
        build(no_deps(tmp_path, python=other, bytecode=True))


def test_size_over_the_limit_fails_the_cli(tmp_path, capsys):
    code = package.main(["--no-deps", "--out", str(tmp_path / "p.zip"), "--max-unzipped-mb", "0.01"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "unzipped" in out and "limit" in err


def test_cli_prints_the_unzipped_size_against_lambdas_limit(tmp_path, capsys):
    assert package.main(["--no-deps", "--out", str(tmp_path / "p.zip")]) == 0
    out = capsys.readouterr().out
    assert "of Lambda's 250.0 MB limit" in out
    assert "sha256:" in out


def test_unknown_architecture_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        package.main(["--no-deps", "--arch", "sparc", "--out", str(tmp_path / "p.zip")])
    with pytest.raises(package.PackageError, match="unknown architecture"):
        build(no_deps(tmp_path, arch="sparc"))


# --- dependencies, from hand-made wheels (offline) -------------------------------------------------------------


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(directory: Path, name: str, version: str, tag: str, files: Dict[str, str]) -> Path:
    """A minimal valid wheel (PEP 427): the files, METADATA, WHEEL and RECORD."""
    dist = f"{name}-{version}.dist-info"
    content = {path: text.encode() for path, text in files.items()}
    content[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    content[f"{dist}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                                f"{'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n").encode()
    record = [_record_line(p, d) for p, d in content.items()] + [f"{dist}/RECORD,,"]
    content[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for p, d in content.items():
            zf.writestr(p, d)
    return path


@pytest.fixture
def wheelhouse(tmp_path):
    house = tmp_path / "wheels"
    house.mkdir()
    make_wheel(house, "tinydep", "1.0", "py3-none-any", {"tinydep/__init__.py": "VALUE = 1\n"})
    make_wheel(house, "tinydep", "2.0", "py3-none-any", {"tinydep/__init__.py": "VALUE = 2\n"})
    for machine in ("aarch64", "x86_64"):
        make_wheel(house, "tinyext", "1.0", f"cp312-cp312-manylinux_2_17_{machine}",
                   {"tinyext/__init__.py": f"MACHINE = {machine!r}\n"})
    # A wheel for a glibc newer than Amazon Linux 2023's 2.34: never chosen.
    make_wheel(house, "tinynew", "1.0", "cp312-cp312-manylinux_2_39_aarch64", {"tinynew/__init__.py": ""})
    return house


def dep_build(tmp_path, wheelhouse, requirements: str, constraints: str = None, **kw):
    req = tmp_path / "requirements-lambda.txt"
    req.write_text(requirements)
    cons = None
    if constraints is not None:
        cons = tmp_path / "constraints.txt"
        cons.write_text(constraints)
    opts = BuildOptions(out=tmp_path / kw.pop("name", "deps.zip"), requirements=req, constraints=cons,
                        find_links=[str(wheelhouse)], no_index=True, cache_dir=tmp_path / "cache", **kw)
    return build(opts)


def read_member(path: Path, member: str) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(member).decode()


def test_dependencies_are_wheels_for_the_target_platform(tmp_path, wheelhouse):
    arm = dep_build(tmp_path, wheelhouse, "tinyext==1.0\n", arch="arm64", python="3.12", name="arm.zip")
    x86 = dep_build(tmp_path, wheelhouse, "tinyext==1.0\n", arch="x86_64", python="3.12", name="x86.zip")
    assert "'aarch64'" in read_member(arm.path, "tinyext/__init__.py")
    assert "'x86_64'" in read_member(x86.path, "tinyext/__init__.py")
    assert arm.dependency_files > 0 and "tinyext-1.0.dist-info/METADATA" in names(arm.path)


def test_wheels_for_a_newer_glibc_than_lambdas_are_refused(tmp_path, wheelhouse, capsys):
    with pytest.raises(package.PackageError, match="pip could not install"):
        dep_build(tmp_path, wheelhouse, "tinynew==1.0\n", arch="arm64", python="3.12")


def test_constraints_pin_what_requirements_leave_open(tmp_path, wheelhouse):
    free = dep_build(tmp_path, wheelhouse, "tinydep\n", name="free.zip", python="3.12")
    pinned = dep_build(tmp_path, wheelhouse, "tinydep\n", "tinydep==1.0\n", name="pinned.zip", python="3.12")
    assert "VALUE = 2" in read_member(free.path, "tinydep/__init__.py")
    assert "VALUE = 1" in read_member(pinned.path, "tinydep/__init__.py")
    assert pinned.unlocked == []


def test_a_package_missing_from_the_lock_is_reported(tmp_path, wheelhouse):
    result = dep_build(tmp_path, wheelhouse, "tinydep==1.0\ntinyext==1.0\n", "tinydep==1.0\n", python="3.12")
    assert result.unlocked == ["tinyext==1.0"]


def test_dependency_builds_are_reproducible_and_cached(tmp_path, wheelhouse):
    a = dep_build(tmp_path, wheelhouse, "tinydep==1.0\n", name="a.zip", python="3.12")
    cached = sorted((tmp_path / "cache").iterdir())
    b = dep_build(tmp_path, wheelhouse, "tinydep==1.0\n", name="b.zip", python="3.12", fresh=True)
    assert a.sha256 == b.sha256
    assert len(cached) == 1 and (cached[0] / ".complete").is_file()
    assert not [n for n in names(a.path) if n.startswith("bin/")]


# --- the requirement files ---------------------------------------------------------------------------------------


def runtime_section(path: Path) -> Dict[str, str]:
    """The pins of requirements.txt above its first blank-line-separated test section."""
    text = path.read_text(encoding="utf-8")
    head = text.split("\n\n", 1)[0]
    pins = {}
    for line in head.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and "==" in line:
            name, version = line.split("==", 1)
            pins[package.normalise(name.split("[")[0])] = version
    return pins


def test_lambda_requirements_equal_the_runtime_section_of_requirements_txt():
    lam = read_pins(ROOT / "requirements-lambda.txt")
    assert all(lam.values()), "every runtime requirement is pinned with =="
    assert lam == runtime_section(ROOT / "requirements.txt"), (
        "requirements-lambda.txt and the Runtime section of requirements.txt disagree: keep them in step")


def test_no_test_tool_is_shipped():
    lam = read_pins(ROOT / "requirements-lambda.txt")
    lock = read_pins(ROOT / "constraints-lambda.txt")
    assert not (set(lam) | set(lock)) & TEST_ONLY


def test_lock_pins_every_runtime_requirement_at_the_same_version():
    lam = read_pins(ROOT / "requirements-lambda.txt")
    lock = read_pins(ROOT / "constraints-lambda.txt")
    assert {n: lock.get(n) for n in lam} == lam, "regenerate with: python -m tools.package --update-lock"


# --- the full build (slow, from PyPI) --------------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("BEDROCK_CHAINS_FULL_BUILD"),
                    reason="full build downloads ~50 MB of wheels: set BEDROCK_CHAINS_FULL_BUILD=1")
def test_full_build_for_arm64_python312(tmp_path):
    result = build(BuildOptions(arch="arm64", python="3.12", out=tmp_path / "full.zip"))
    assert result.unzipped_bytes < package.LAMBDA_UNZIPPED_LIMIT
    assert result.unlocked == [], f"not in constraints-lambda.txt: {result.unlocked}"
    entries = names(result.path)
    tops = {e.split("/", 1)[0] for e in entries}
    for needed in ("langchain_aws", "langchain_core", "boto3", "botocore", "pydantic", "pydantic_core", "yaml",
                   "aws_lambda_powertools", "handler.py", "chains"):
        assert needed in tops
    assert not tops & {"tests", "pytest", "_pytest", "moto", "cfnlint", "awslambdaric", "bin"}
    assert "bedrock_local/emulator.py" not in entries and "bedrock_local/catalogue.json" in entries
    with zipfile.ZipFile(result.path) as zf:
        so = [n for n in zf.namelist() if n.startswith("pydantic_core/") and n.endswith(".so")]
        assert so and "cpython-312-aarch64-linux-gnu" in so[0]
        elf = zf.read(so[0])[:20]
    assert elf[:4] == b"\x7fELF" and struct.unpack("<H", elf[18:20])[0] == 183  # EM_AARCH64


def test_cache_keeps_only_the_most_recently_used_sets(tmp_path):
    for i in range(6):
        entry = tmp_path / f"set{i}"
        entry.mkdir()
        (entry / ".complete").write_text("")
        os.utime(entry / ".complete", (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "partial-install").mkdir()  # not complete: another build may be writing it
    package._prune_cache(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial-install", "set4", "set5"]
