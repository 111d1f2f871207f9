"""``chains.__all__`` is exactly the documented public API (docs/architecture.md, "Public API"), and the
README and benchmarks import nothing from ``chains`` beyond it."""

from __future__ import annotations

import re
from pathlib import Path

import chains

ROOT = Path(__file__).resolve().parents[2]

ENTRY_POINTS = {"get_chain", "list_chains", "describe_chains", "build_runtime", "reset_default_runtime",
                "load_config", "Settings", "Router"}
EXCEPTIONS = {
    "ChainsError", "ConfigError", "PromptError", "BadRequest", "MissingVariables", "UnknownModel",
    "PinnedModelUnsuitable", "UnsupportedAttachment", "UnknownChain", "BudgetExceeded", "InputTooLarge",
    "DeadlineExceeded", "ModelCallError", "Throttled", "Unavailable", "ModelUnusable", "ContextOverflow",
    "ContentFiltered", "ModelClientError", "StreamInterrupted", "AllModelsFailed",
}


def test_all_is_exactly_the_documented_api():
    assert set(chains.__all__) == ENTRY_POINTS | EXCEPTIONS
    assert len(chains.__all__) == len(set(chains.__all__))
    for name in chains.__all__:
        assert getattr(chains, name) is not None


def test_every_exception_of_the_api_is_a_chains_error():
    for name in EXCEPTIONS:
        assert issubclass(getattr(chains, name), chains.ChainsError), name


def test_the_architecture_page_lists_the_same_api():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## Public API", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Za-z_]+)`", section))
    assert ENTRY_POINTS | EXCEPTIONS <= listed


def test_readme_and_benchmarks_use_only_the_public_api_from_the_top_package():
    """``from chains import X``: X is in ``__all__`` (or is a module, e.g. ``observability``, imported as one)."""
    import importlib.util

    sources = [ROOT / "README.md", *sorted((ROOT / "benchmarks").glob("*.py"))]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for names in re.findall(r"^\s*from chains import ([^\n(]+|\([^)]*\))", text, re.M):
            for name in re.split(r"[\s,()]+", names):
                if name and not name.startswith("#"):
                    is_module = importlib.util.find_spec(f"chains.{name}") is not None
                    assert name in chains.__all__ or is_module, f"{path.name} imports {name!r} from chains"
