"""Build the Lambda deployment zip, reproducibly: ``python -m tools.package``.

    python -m tools.package [--arch arm64|x86_64] [--python 3.12] [--include-emulator] [--no-deps]
                             [--out dist/bedrock-chains-arm64-py3.12.zip] [--update-lock]

What goes in: ``handler.py``, ``config.yaml``, ``chains/``, ``prompts/`` (an allowlist, so a stray ``.env``
or notebook can never ship), ``bedrock_local/`` only with ``--include-emulator``, and the runtime
dependencies of ``requirements-lambda.txt`` (never the test tools of ``requirements.txt``), pinned further by
``constraints-lambda.txt`` (every transitive package, so a rebuild months later gets the same versions).
Dependencies are wheels for the Lambda platform, whatever this machine is:
``pip install --platform manylinux..._aarch64 --python-version 3.12 --only-binary=:all: --target ...``.
Python 3.12+ Lambda runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux wheels up to 2_34 qualify.

Reproducible: entries sorted, every timestamp 1980-01-01, permissions normalised (0644, 0755 for
executables), bytecode (when built) hash-based instead of timestamped; the same inputs give the same bytes and
the same sha256. Bytecode: Lambda's /var/task is read-only, so modules shipped without ``.pyc`` are compiled
again at every cold start. ``.pyc`` files are only valid for the Python that wrote them, so they are built
only when this interpreter is the target version (run the build with ``python3.12``); otherwise the package is
source-only and the build says so.

The unzipped size is printed and checked against Lambda's 250 MB limit (exit status 1 when over).
Installed dependencies are cached per (requirements, constraints, platform, Python) under
``~/.cache/bedrock-chains/deps`` so a rebuild after a code change takes seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}
DEFAULT_ARCH = "arm64"
DEFAULT_PYTHON = "3.12"
# Lambda's limit for a function's code and layers, unzipped: 250 MB (MiB, as Lambda counts: 262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# Above this the zip cannot be uploaded directly (console, lambda:UpdateFunctionCode); `sam deploy` uses S3.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
# Newest glibc of the target: Amazon Linux 2023 (python3.12 and later runtimes).
MAX_GLIBC_MINOR = 34
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
LAMBDA_TASK_ROOT = "/var/task"

PROJECT_FILES = ("handler.py", "config.yaml")
PROJECT_DIRS = ("chains", "prompts")
EMULATOR_DIR = "bedrock_local"
# The model catalogue (windows, limits, capabilities, lifecycle, prices by model id) is data the service reads
# on Lambda too, so these modules ship always; the rest of bedrock_local (the emulator) only when asked.
CATALOGUE_FILES = ("__init__.py", "catalogue.py", "catalogue.json", "catalogue_errors.py", "errors.py")
REQUIREMENTS = ROOT / "requirements-lambda.txt"
CONSTRAINTS = ROOT / "constraints-lambda.txt"
CACHE_ROOT = Path(os.environ.get("BEDROCK_CHAINS_CACHE", Path.home() / ".cache" / "bedrock-chains"))

# Never shipped, wherever they appear.
SKIP_DIR_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo")
# Installed dependency sets kept in the cache (one per requirements/constraints/platform/Python).
CACHE_KEEP = 4
# Top-level directories pip may create in --target that Lambda never uses (console scripts, stray test dirs).
SKIP_DEP_TOP = {"bin", "tests", "test"}


class PackageError(Exception):
    """The package cannot be built as asked (bad option, pip failure, size over the limit, name clash)."""


@dataclass
class BuildOptions:
    arch: str = DEFAULT_ARCH
    python: str = DEFAULT_PYTHON
    include_emulator: bool = False
    deps: bool = True
    out: Optional[Path] = None
    requirements: Path = REQUIREMENTS
    constraints: Optional[Path] = CONSTRAINTS
    bytecode: Optional[bool] = None  # None: when this interpreter is the target version
    find_links: Sequence[str] = ()
    no_index: bool = False
    cache_dir: Path = CACHE_ROOT / "deps"
    fresh: bool = False
    limit_bytes: int = LAMBDA_UNZIPPED_LIMIT
    root: Path = ROOT

    def output_path(self) -> Path:
        if self.out is not None:
            return Path(self.out)
        return self.root / "dist" / f"bedrock-chains-{self.arch}-py{self.python}.zip"


@dataclass
class BuildResult:
    path: Path
    files: int
    project_files: int
    dependency_files: int
    unzipped_bytes: int
    zipped_bytes: int
    sha256: str
    bytecode: bool
    largest: List[Tuple[str, int]] = field(default_factory=list)
    unlocked: List[str] = field(default_factory=list)
    site: Optional[Path] = None  # the installed dependencies (cached), when built with them


# --- what goes in --------------------------------------------------------------------------------------------


def _walk(base: Path, prefix: str = "") -> Dict[str, Path]:
    """arcname -> file, skipping caches and bytecode; symlinks are followed to their content."""
    out: Dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIR_NAMES)
        rel = Path(dirpath).relative_to(base)
        for name in filenames:
            if name.endswith(SKIP_SUFFIXES):
                continue
            arc = (Path(prefix) / rel / name).as_posix()
            out[arc] = Path(dirpath) / name
    return out


def project_files(root: Path = ROOT, include_emulator: bool = False) -> Dict[str, Path]:
    """The project's own files for the package (an allowlist)."""
    files: Dict[str, Path] = {}
    for name in PROJECT_FILES:
        path = root / name
        if not path.is_file():
            raise PackageError(f"{path} is missing")
        files[name] = path
    dirs = list(PROJECT_DIRS) + ([EMULATOR_DIR] if include_emulator else [])
    for d in dirs:
        if not (root / d).is_dir():
            raise PackageError(f"{root / d} is missing")
        files.update(_walk(root / d, d))
    for name in CATALOGUE_FILES:
        path = root / EMULATOR_DIR / name
        if not path.is_file():
            raise PackageError(f"{path} is missing")
        files[f"{EMULATOR_DIR}/{name}"] = path
    return files


# --- dependencies --------------------------------------------------------------------------------------------


def platform_tags(arch: str) -> List[str]:
    machine = ARCHES[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in range(MAX_GLIBC_MINOR, 16, -1)] + [f"manylinux2014_{machine}"]


def pip_command(opts: BuildOptions, target: Path, constraints: Optional[Path]) -> List[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target), "--only-binary=:all:",
           "--implementation", "cp", "--python-version", opts.python, "--abi", "cp" + opts.python.replace(".", ""),
           "--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    for tag in platform_tags(opts.arch):
        cmd += ["--platform", tag]
    cmd += ["-r", str(opts.requirements)]
    if constraints is not None:
        cmd += ["-c", str(constraints)]
    if opts.no_index:
        cmd.append("--no-index")
    for link in opts.find_links:
        cmd += ["--find-links", str(link)]
    return cmd


def _cache_key(opts: BuildOptions, constraints: Optional[Path], bytecode: bool) -> str:
    parts = {
        "requirements": opts.requirements.read_text(encoding="utf-8"),
        "constraints": constraints.read_text(encoding="utf-8") if constraints else None,
        "arch": opts.arch, "python": opts.python, "bytecode": bytecode,
        "find_links": [str(x) for x in opts.find_links], "no_index": opts.no_index, "layout": 2,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def install_dependencies(opts: BuildOptions, constraints: Optional[Path], bytecode: bool) -> Path:
    """pip-install the runtime requirements for the target into a cached directory; returns it."""
    if not opts.requirements.is_file():
        raise PackageError(f"{opts.requirements} is missing")
    key = _cache_key(opts, constraints, bytecode)
    target = Path(opts.cache_dir) / key
    marker = target / ".complete"
    if marker.is_file() and not opts.fresh:
        os.utime(marker)  # most recently used: kept by _prune_cache
        return target
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=target.parent))
    try:
        cmd = pip_command(opts, work, constraints)
        print(f"installing dependencies for python{opts.python} {opts.arch}: {opts.requirements.name}"
              + (f" (pinned by {constraints.name})" if constraints else ""), file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise PackageError("pip could not install the dependencies for the Lambda platform:\n"
                               + (proc.stderr or proc.stdout)[-4000:])
        for name in SKIP_DEP_TOP:
            if (work / name).is_dir():
                shutil.rmtree(work / name)
        for cache in [p for p in work.rglob("__pycache__") if p.is_dir()]:
            shutil.rmtree(cache, ignore_errors=True)
        if bytecode:
            compile_tree(_walk(work), work)
        (work / ".complete").write_text(" ".join(cmd[1:]) + "\n", encoding="utf-8")
        os.replace(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    _prune_cache(target.parent, keep=CACHE_KEEP)
    return target


def _prune_cache(cache: Path, keep: int) -> None:
    """Each entry is a whole installed dependency set (~130 MB): keep only the ``keep`` most recently used."""
    entries = [p for p in cache.iterdir() if (p / ".complete").is_file()]
    entries.sort(key=lambda p: (p / ".complete").stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def installed_distributions(site: Path) -> Dict[str, str]:
    """normalised name -> version of every ``*.dist-info`` in ``site``."""
    out: Dict[str, str] = {}
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        name = version = None
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Name:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
            elif not line.strip():
                break
        if name and version:
            out[normalise(name)] = version
    return out


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def read_pins(path: Path) -> Dict[str, str]:
    """``name==version`` lines of a requirements/constraints file (extras and comments ignored)."""
    pins: Dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if "==" not in line:
            pins[normalise(line.split("[")[0].split(";")[0].strip())] = ""
            continue
        name, version = line.split("==", 1)
        pins[normalise(name.split("[")[0].strip())] = version.split(";")[0].strip()
    return pins


def current_environment_pins(path: Path) -> Path:
    """Constraints pinning every package installed here: the lock then holds the versions the tests ran with."""
    from importlib import metadata

    pins = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pins[normalise(name)] = dist.version
    path.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), encoding="utf-8")
    return path


def write_lock(site: Path, path: Path, opts: BuildOptions) -> None:
    dists = installed_distributions(site)
    lines = [
        "# Every package of the Lambda deployment package, pinned (a pip constraints file).",
        f"# Generated by `python -m tools.package --update-lock` (python{opts.python} {opts.arch}) from",
        "# requirements-lambda.txt, at the versions of the environment the tests ran in.",
        "# Edit requirements-lambda.txt (and requirements.txt), then regenerate this file.",
    ] + [f"{name}=={version}" for name, version in sorted(dists.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- bytecode and the zip ----------------------------------------------------------------------------------


def compile_tree(files: Dict[str, Path], base: Path) -> int:
    """Write hash-based ``__pycache__/*.pyc`` next to each ``.py`` under ``base`` (deterministic bytes).

    The recorded source path is where Lambda unpacks the code (/var/task/...), not this machine's, so
    tracebacks read true and the bytes do not depend on the build directory.
    """
    count = 0
    for arc, src in files.items():
        if not arc.endswith(".py"):
            continue
        cfile = base / Path(arc).parent / "__pycache__" / (Path(arc).stem + f".{sys.implementation.cache_tag}.pyc")
        try:
            py_compile.compile(str(src), cfile=str(cfile), dfile=f"{LAMBDA_TASK_ROOT}/{arc}", doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            count += 1
        except py_compile.PyCompileError:
            pass  # a file that is not valid Python for the target (templates, py2 leftovers) stays source-only
    return count


def _is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o111)


def write_zip(entries: Dict[str, Path], out: Path) -> None:
    """Sorted entries, fixed timestamps and permissions, no directory entries: the same files, the same bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arc in sorted(entries):
            src = entries[arc]
            info = zipfile.ZipInfo(arc, date_time=ZIP_DATE)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | (0o755 if _is_executable(src) else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, src.read_bytes(), compresslevel=6)
    os.replace(tmp, out)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _largest(entries: Dict[str, Path], top: int = 5) -> List[Tuple[str, int]]:
    sizes: Dict[str, int] = {}
    for arc, src in entries.items():
        head = arc.split("/", 1)[0]
        if head == "__pycache__":  # top-level module bytecode counts with its module
            head = arc.split("/")[-1].split(".", 1)[0]
        if head.endswith(".dist-info"):
            continue
        key = head[:-3] if head.endswith(".py") else head
        sizes[key] = sizes.get(key, 0) + src.stat().st_size
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def build(opts: BuildOptions) -> BuildResult:
    if opts.arch not in ARCHES:
        raise PackageError(f"unknown architecture '{opts.arch}' (choose: {', '.join(ARCHES)})")
    if not opts.python.count(".") == 1 or not all(p.isdigit() for p in opts.python.split(".")):
        raise PackageError(f"--python must look like 3.12, got '{opts.python}'")
    same_python = opts.python == "{}.{}".format(*sys.version_info[:2])
    bytecode = same_python if opts.bytecode is None else bool(opts.bytecode)
    if bytecode and not same_python:
        raise PackageError(f"bytecode for Python {opts.python} must be built by Python {opts.python} "
                           f"(this is {sys.version_info[0]}.{sys.version_info[1]})")

    own = project_files(opts.root, opts.include_emulator)
    entries = dict(own)
    dep_count = 0
    unlocked: List[str] = []
    site: Optional[Path] = None
    with tempfile.TemporaryDirectory(prefix="bedrock-chains-pyc-") as pyc_dir:
        if bytecode:
            compile_tree(own, Path(pyc_dir))
            entries.update(_walk_pyc(Path(pyc_dir)))
        if opts.deps:
            constraints = opts.constraints if opts.constraints and Path(opts.constraints).is_file() else None
            site = install_dependencies(opts, constraints, bytecode)
            deps = {arc: p for arc, p in _walk_all(site).items() if arc != ".complete"}
            clash = sorted({a.split("/", 1)[0] for a in deps} & {a.split("/", 1)[0] for a in own})
            if clash:
                raise PackageError(f"a dependency installs {', '.join(clash)}, which the project ships itself")
            entries.update(deps)
            dep_count = len(deps)
            if constraints is not None:
                locked = read_pins(constraints)
                unlocked = sorted(f"{n}=={v}" for n, v in installed_distributions(site).items()
                                  if locked.get(n) != v)
        out = opts.output_path()
        write_zip(entries, out)
        unzipped = sum(p.stat().st_size for p in entries.values())
        largest = _largest(entries)
    return BuildResult(
        path=out, files=len(entries), project_files=len(entries) - dep_count, dependency_files=dep_count,
        unzipped_bytes=unzipped, zipped_bytes=out.stat().st_size, sha256=_sha256(out), bytecode=bytecode,
        largest=largest, unlocked=unlocked, site=site,
    )


def _walk_pyc(base: Path) -> Dict[str, Path]:
    return {p.relative_to(base).as_posix(): p for p in sorted(base.rglob("*.pyc"))}


def _walk_all(base: Path) -> Dict[str, Path]:
    """Everything under ``base`` (including the cached ``__pycache__`` we compiled ourselves)."""
    return {p.relative_to(base).as_posix(): p for p in sorted(base.rglob("*")) if p.is_file()}


# --- command line -------------------------------------------------------------------------------------------


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def report(result: BuildResult, opts: BuildOptions) -> str:
    pct = 100.0 * result.unzipped_bytes / opts.limit_bytes if opts.limit_bytes else 0.0
    lines = [
        f"package: {result.path}",
        f"  target: python{opts.python} {opts.arch}" + (" + bedrock_local" if opts.include_emulator else "")
        + ("" if opts.deps else " (project files only: --no-deps)"),
        f"  files: {result.files} (project {result.project_files}, dependencies {result.dependency_files})",
        f"  bytecode: {'yes (hash-based .pyc)' if result.bytecode else 'no'}",
        f"  unzipped: {_mb(result.unzipped_bytes)} of Lambda's {_mb(opts.limit_bytes)} limit ({pct:.0f}%)",
        f"  zipped: {_mb(result.zipped_bytes)}  sha256: {result.sha256}",
    ]
    if result.largest:
        lines.append("  largest: " + ", ".join(f"{n} {_mb(s)}" for n, s in result.largest))
    if not result.bytecode:
        lines.append(f"  note: no .pyc in the package, so Lambda compiles every module at each cold start; "
                     f"build with python{opts.python} -m tools.package to include bytecode")
    if result.zipped_bytes > DIRECT_UPLOAD_LIMIT:
        lines.append("  note: over 50 MB zipped: deploy through S3 (sam deploy does), not a direct upload")
    if result.unlocked:
        lines.append(f"  warning: not pinned by {CONSTRAINTS.name}: {', '.join(result.unlocked)} "
                     "(run with --update-lock)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.package", description="Build the Lambda deployment zip.")
    ap.add_argument("--arch", choices=sorted(ARCHES), default=DEFAULT_ARCH, help="Lambda architecture (arm64)")
    ap.add_argument("--python", default=DEFAULT_PYTHON, help="Lambda Python version (3.12)")
    ap.add_argument("--include-emulator", action="store_true", help="also ship bedrock_local/")
    ap.add_argument("--no-deps", action="store_true", help="project files only (no pip install)")
    ap.add_argument("--out", type=Path, help="zip path (default dist/bedrock-chains-ARCH-pyVER.zip)")
    ap.add_argument("--requirements", type=Path, default=REQUIREMENTS, help="runtime requirements file")
    ap.add_argument("--constraints", type=Path, default=CONSTRAINTS, help="pins for every transitive package")
    ap.add_argument("--no-bytecode", action="store_true", help="ship sources only, even on the target Python")
    ap.add_argument("--find-links", action="append", default=[], help="extra wheel directory for pip")
    ap.add_argument("--no-index", action="store_true", help="do not use PyPI (wheels from --find-links only)")
    ap.add_argument("--cache-dir", type=Path, default=CACHE_ROOT / "deps", help="installed dependency cache")
    ap.add_argument("--fresh", action="store_true", help="ignore the dependency cache")
    ap.add_argument("--update-lock", action="store_true",
                    help=f"resolve requirements without the old pins and rewrite {CONSTRAINTS.name}")
    ap.add_argument("--max-unzipped-mb", type=float, default=LAMBDA_UNZIPPED_LIMIT / (1024 * 1024),
                    help="fail above this unzipped size (default: Lambda's 250 MB)")
    args = ap.parse_args(argv)

    opts = BuildOptions(
        arch=args.arch, python=args.python, include_emulator=args.include_emulator, deps=not args.no_deps,
        out=args.out, requirements=args.requirements, constraints=args.constraints,
        bytecode=False if args.no_bytecode else None, find_links=args.find_links, no_index=args.no_index,
        cache_dir=args.cache_dir, fresh=args.fresh or args.update_lock,
        limit_bytes=int(args.max_unzipped_mb * 1024 * 1024),
    )
    try:
        if args.update_lock and args.no_deps:
            raise PackageError("--update-lock needs the dependencies (drop --no-deps)")
        with tempfile.TemporaryDirectory() as tmp:
            if args.update_lock:  # resolve afresh, at the versions installed here
                opts.constraints = current_environment_pins(Path(tmp) / "environment-pins.txt")
            result = build(opts)
            if args.update_lock:
                write_lock(result.site, args.constraints, opts)
                result.unlocked = []
                print(f"wrote {args.constraints}", file=sys.stderr)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(result, opts))
    if result.unzipped_bytes > opts.limit_bytes:
        print(f"error: {_mb(result.unzipped_bytes)} unzipped is over the {_mb(opts.limit_bytes)} limit",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
