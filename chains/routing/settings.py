"""The ``router:`` section of config.yaml, validated (``RouterSettings``) and compiled once per configuration."""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Dict, Iterable, List, Literal, Optional, Tuple

from pydantic import Field, field_validator

from chains.config import Settings, StrictModel, section
from chains.errors import ConfigError

Preference = Literal["cost", "quality", "latency", "balanced"]


class KeywordSignal(StrictModel):
    """A difficulty signal that fires when any word (whole word, any case) or regex pattern matches."""

    weight: float = 1.0
    # Distinct matches that count: the signal adds weight x min(distinct matches, max_hits).
    max_hits: int = Field(default=1, ge=1)
    words: List[str] = Field(default_factory=list)
    patterns: List[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: List[str]) -> List[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
        return v


class LengthSignal(StrictModel):
    weight: float = 1.0
    min_tokens: int = Field(default=2000, ge=1)


class QuestionsSignal(StrictModel):
    weight: float = 1.0
    min_count: int = Field(default=2, ge=2)


class Difficulty(StrictModel):
    # A request whose signal weights add up to this goes to the strong tier.
    hard_at: float = Field(default=2.0, gt=0)
    length: LengthSignal = LengthSignal()
    questions: QuestionsSignal = QuestionsSignal()
    keywords: Dict[str, KeywordSignal] = Field(default_factory=dict)


class LlmClassifier(StrictModel):
    # Default: the cheapest configured model.
    model: Optional[str] = None
    timeout_ms: int = Field(default=3000, ge=50)
    max_chars: int = Field(default=4000, ge=100)


class LearnedRouter(StrictModel):
    # The weights file (``bedrock-chains router fit`` writes one); relative paths are read beside config.yaml.
    # None: the weights shipped in the package (chains/routing/weights/), trained on public labelled prompts.
    weights: Optional[str] = None


class RouterSettings(StrictModel):
    # learned: a small model scores how likely the request needs the strong tier (strong_score); rules: the
    # keyword signals below; llm: a cheap model classifies (the rules decide when it fails).
    mode: Literal["rules", "learned", "llm"] = "rules"
    # learned mode: strong_score >= threshold sends the request to the strong tier (None: the weights file's
    # own threshold, fitted for 95% of the strong model's quality).
    threshold: Optional[float] = Field(default=None, ge=0, le=1)
    learned: LearnedRouter = LearnedRouter()
    prefer: Preference = "balanced"
    # Expected output as a share of max_tokens, for cost estimates (1.0 = worst case, the safe budget check).
    expected_output_share: float = Field(default=1.0, gt=0, le=1)
    # Only the first characters of the routed inputs are scanned: signals are cheap by design.
    scan_chars: int = Field(default=8000, ge=100)
    # Input tokens counted per attached image (Claude 3: about width*height/750, at most ~1,600).
    image_tokens: int = Field(default=1600, ge=0)
    difficulty: Difficulty = Difficulty()
    domains: Dict[str, List[str]] = Field(default_factory=dict)
    llm: LlmClassifier = LlmClassifier()

    def weights_path(self, settings: Settings) -> Optional[str]:
        """The learned weights file, a relative path resolved beside the configuration file (None: shipped)."""
        path = self.learned.weights
        if path is None or os.path.isabs(path):
            return path
        base = os.path.dirname(os.path.abspath(settings.source)) if settings.source else os.getcwd()
        return os.path.join(base, path)

    def check_against(self, settings: Settings, where: str) -> None:
        """``chains.config.section`` calls this: the classifier's model must be configured, and in learned
        mode the weights file must load (a missing, corrupt or other-version file is a ConfigError here, at
        ``--check`` and on the first request, never a silent fall-back to another mode)."""
        if self.mode == "learned":
            from chains.routing.learned import shared_scorer

            shared_scorer(self.weights_path(settings)).load()
        if self.llm.model is not None and self.llm.model not in settings.models:
            raise ConfigError(
                f"{where}.llm.model names '{self.llm.model}', which is not configured "
                f"(configured: {', '.join(sorted(settings.models))})"
            )


def router_settings(settings: Settings) -> RouterSettings:
    """The validated ``router:`` section (``chains.config.section``)."""
    return section(settings, "router", RouterSettings)


def _word_regex(words: Iterable[str]) -> Optional["re.Pattern[str]"]:
    words = [w for w in words if w.strip()]
    if not words:
        return None
    # Longest first so "step by step" wins over "step"; \b only where the word starts/ends with a word char.
    # Lowercase words, matched against lowercased text (chains.routing.signals) without re.IGNORECASE: the same
    # hits, 2-3x faster (IGNORECASE keeps re from its fast literal search).
    parts = []
    for w in sorted({w.strip().lower() for w in words}, key=len, reverse=True):
        esc = re.escape(w)
        left = r"\b" if re.match(r"\w", w) else ""
        right = r"\b" if re.search(r"\w$", w) else ""
        parts.append(f"{left}{esc}{right}")
    return re.compile("|".join(parts))


class CompiledRules:
    """The router section, validated and with its regular expressions compiled once per configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rs = router_settings(settings)
        self.signals: List[Tuple[str, float, int, Optional["re.Pattern[str]"], List["re.Pattern[str]"]]] = [
            (name, sig.weight, sig.max_hits, _word_regex(sig.words),
             [re.compile(p, re.IGNORECASE) for p in sig.patterns])
            for name, sig in self.rs.difficulty.keywords.items()
        ]
        self.domains = [(name, _word_regex(words)) for name, words in self.rs.domains.items()]
        self.classifier_schema: Any = None  # llm mode: the structured-output schema, built on first use


_rules_lock = threading.Lock()


def compiled_rules(runtime: Any) -> CompiledRules:
    """The compiled rules of ``runtime``'s configuration (built on first use, kept on ``runtime.router_rules``)."""
    rules = runtime.router_rules
    if rules is None or rules.settings is not runtime.settings:
        with _rules_lock:
            rules = runtime.router_rules
            if rules is None or rules.settings is not runtime.settings:
                rules = runtime.router_rules = CompiledRules(runtime.settings)
    return rules
