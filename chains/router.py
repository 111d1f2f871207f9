"""The router: which model answers a request, which ones stand behind it, and why.

Signals, in this order of authority (README "Routing"):
1. hard constraints: the input estimate plus the requested output must fit the model's window with its
   margin (``chains.tokens``); attachments need the capability; a pinned ``options.model`` goes first, or is
   refused (400) when it cannot take the request;
2. budget: ``options.max_cost_usd`` drops models whose estimated cost is above it;
3. preference: ``options.prefer`` (cost | quality | latency | balanced; default ``router.prefer``);
4. content: the prompt file's ``metadata.tier`` and cheap text signals of difficulty (length, code, math,
   multi-step reasoning, several questions) decide between the ``fast`` and the ``strong`` tier;
5. optional ``router.mode: llm``: a cheap model classifies difficulty and domain with structured output,
   and the rules above take over if it fails.

Rules mode calls no model. Keyword lists and thresholds come from the ``router:`` section of config.yaml.
``decide()`` is the function; ``Router`` is the same thing as a Runnable for LCEL pipelines.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Set, Tuple, Union

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chains.config import Settings, validate_section
from chains.errors import (
    BudgetExceeded,
    ConfigError,
    PinnedModelUnsuitable,
    UnsupportedAttachment,
)
from chains.tokens import estimate, estimate_messages, estimate_text, output_tokens, too_large, usable_window

logger = logging.getLogger("bedrock_chains.router")

Preference = Literal["cost", "quality", "latency", "balanced"]
# Input keys that carry attachments (not template variables) and the capability each one needs.
ATTACHMENT_CAPABILITIES = {"images": "vision", "documents": "documents"}


# --- the router: section of config.yaml ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeywordSignal(_Strict):
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


class LengthSignal(_Strict):
    weight: float = 1.0
    min_tokens: int = Field(default=2000, ge=1)


class QuestionsSignal(_Strict):
    weight: float = 1.0
    min_count: int = Field(default=2, ge=2)


class Difficulty(_Strict):
    # A request whose signal weights add up to this goes to the strong tier.
    hard_at: float = Field(default=2.0, gt=0)
    length: LengthSignal = LengthSignal()
    questions: QuestionsSignal = QuestionsSignal()
    keywords: Dict[str, KeywordSignal] = Field(default_factory=dict)


class LlmClassifier(_Strict):
    # Default: the cheapest configured model.
    model: Optional[str] = None
    timeout_ms: int = Field(default=3000, ge=50)
    max_chars: int = Field(default=4000, ge=100)


class RouterSettings(_Strict):
    mode: Literal["rules", "llm"] = "rules"
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


def router_settings(settings: Settings) -> RouterSettings:
    rs = validate_section(RouterSettings, settings.router or {}, "router", settings.source)
    if rs.llm.model is not None and rs.llm.model not in settings.models:
        raise ConfigError(
            f"router.llm.model names '{rs.llm.model}', which is not configured "
            f"(configured: {', '.join(sorted(settings.models))})"
        )
    return rs


def _word_regex(words: Iterable[str]) -> Optional["re.Pattern[str]"]:
    words = [w for w in words if w.strip()]
    if not words:
        return None
    # Longest first so "step by step" wins over "step"; \b only where the word starts/ends with a word char.
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        esc = re.escape(w.strip())
        left = r"\b" if re.match(r"\w", w.strip()) else ""
        right = r"\b" if re.search(r"\w$", w.strip()) else ""
        parts.append(f"{left}{esc}{right}")
    return re.compile("|".join(parts), re.IGNORECASE)


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


_rules_lock = threading.Lock()


def compiled_rules(runtime: Any) -> CompiledRules:
    """The compiled rules of ``runtime``'s configuration (built on first use, kept on the runtime)."""
    rules = runtime.__dict__.get("_router_rules")
    if rules is None or rules.settings is not runtime.settings:
        with _rules_lock:
            rules = runtime.__dict__.get("_router_rules")
            if rules is None or rules.settings is not runtime.settings:
                rules = runtime.__dict__["_router_rules"] = CompiledRules(runtime.settings)
    return rules


# --- the decision -----------------------------------------------------------------------------------------


@dataclass
class RouteDecision:
    model: str  # the chosen alias
    candidates: List[str]  # chosen first, then the fallbacks in order
    reason: str
    estimated_input_tokens: int
    estimated_cost_usd: float  # of the chosen model
    domain: str = "general"
    difficulty: str = "easy"  # easy | hard
    score: float = 0.0
    signals: List[str] = field(default_factory=list)
    prefer: str = "balanced"
    mode: str = "rules"  # rules | llm | pinned | ordered
    excluded: Dict[str, str] = field(default_factory=dict)
    costs: Dict[str, float] = field(default_factory=dict)  # estimated cost per candidate
    max_tokens: Optional[int] = None  # requested output cap (None: each model's default)
    classifier: Optional[Dict[str, Any]] = None  # llm mode: what the classifier said or why it failed

    def to_dict(self) -> Dict[str, Any]:
        # Shallow copies: dataclasses.asdict's deep recursion cost ~0.1 ms on every request.
        d = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
             for k, v in self.__dict__.items()}
        d["estimated_cost_usd"] = round(self.estimated_cost_usd, 8)
        d["costs"] = {k: round(v, 8) for k, v in self.costs.items()}
        if d["classifier"] is None:
            d.pop("classifier")
        return d


@dataclass
class Eligibility:
    """Which candidates can take a request of this size and kind, and why the others cannot."""

    input_tokens: Dict[str, int]  # estimate per candidate (equal unless CountTokens counted some exactly)
    max_tokens: Optional[int]
    needs: Set[str]
    fitting: List[str]
    excluded: Dict[str, str]

    def require_any(self, settings: Settings) -> None:
        """Raise the error that explains why nothing can take the request (no-op when something can)."""
        if self.fitting:
            return
        capable = [a for a in self.input_tokens if _capable(settings, a, self.needs)]
        if not capable:
            raise UnsupportedAttachment(
                f"no configured model accepts {'/'.join(sorted(self.needs))} input "
                f"(models: {', '.join(self.input_tokens)})",
                needs=sorted(self.needs),
            )
        raise too_large(settings, capable, min(self.input_tokens[a] for a in capable), self.max_tokens)


def _capable(settings: Settings, alias: str, needs: Set[str]) -> bool:
    caps = settings.model(alias).capabilities
    return all(getattr(caps, n, False) for n in needs)


def eligible(
    settings: Settings,
    candidates: Sequence[str],
    input_tokens: Union[int, Mapping[str, int]],
    max_tokens: Optional[int] = None,
    needs: Iterable[str] = (),
    exact: Iterable[str] = (),
) -> Eligibility:
    """The hard constraints: window (each model's margin; none for an ``exact`` CountTokens count) and
    capabilities. Reusable by any strategy: ``.require_any(settings)`` raises InputTooLarge (413) or
    UnsupportedAttachment (400) when nothing fits."""
    needs = set(needs)
    exact = set(exact)
    tokens = {a: input_tokens[a] if isinstance(input_tokens, Mapping) else int(input_tokens) for a in candidates}
    fitting: List[str] = []
    excluded: Dict[str, str] = {}
    for alias in candidates:
        window = usable_window(settings, alias, alias in exact)
        missing = [n for n in sorted(needs) if not getattr(settings.model(alias).capabilities, n, False)]
        out = output_tokens(settings, alias, max_tokens)
        if missing:
            excluded[alias] = f"cannot read {'/'.join(missing)} input"
        elif tokens[alias] + out > window:
            excluded[alias] = f"window: {tokens[alias]:,} + {out:,} output > {window:,} usable tokens"
        else:
            fitting.append(alias)
    return Eligibility(tokens, max_tokens, needs, fitting, excluded)


def required_capabilities(inputs: Mapping[str, Any]) -> Set[str]:
    """Capabilities an input needs: ``images`` -> vision, ``documents`` -> documents (non-empty lists)."""
    return {cap for key, cap in ATTACHMENT_CAPABILITIES.items() if inputs.get(key)}


def chain_candidates(chain: Any) -> List[str]:
    """The models a routed/fallback chain may use, in configured order (default: all models)."""
    cfg = chain.cfg
    if cfg.models:
        return list(cfg.models)
    models = list(chain.settings.models)
    if cfg.model:  # a chain's `model` goes first in the configured order
        models.remove(cfg.model)
        models.insert(0, cfg.model)
    return models


def routed_text(chain: Any, request: Any, limit: int) -> str:
    """The text the content signals read: the inputs named in ``settings.route_on`` (default: all)."""
    names = chain.cfg.settings.get("route_on") or [
        k for k in request.inputs if k not in ATTACHMENT_CAPABILITIES
    ]
    if isinstance(names, str):
        names = [names]
    parts = []
    size = 0
    for name in names:
        value = request.inputs.get(name)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value)
            parts.append(text[: max(0, limit - size)])
            size += len(parts[-1]) + 1
            if size >= limit:
                break
    return "\n".join(parts)


def domain_preamble(prompt: Any, domain: str) -> Optional[str]:
    """The prompt file's ``metadata.domain_preambles[domain]`` (dynamic contextualisation), if any."""
    extra = getattr(prompt.metadata, "model_extra", None) or {}
    preambles = extra.get("domain_preambles") or {}
    text = preambles.get(domain) if isinstance(preambles, Mapping) else None
    return text if isinstance(text, str) and text.strip() else None


def content_difficulty(rules: CompiledRules, text: str, input_tokens: int) -> Tuple[float, List[str]]:
    """The difficulty score and the signals that fired (for the reason)."""
    d = rules.rs.difficulty
    score = 0.0
    fired: List[str] = []
    if input_tokens >= d.length.min_tokens and d.length.weight:
        score += d.length.weight
        fired.append(f"long input ({input_tokens:,} >= {d.length.min_tokens:,} tokens)")
    questions = text.count("?")
    if questions >= d.questions.min_count and d.questions.weight:
        score += d.questions.weight
        fired.append(f"questions ({questions})")
    for name, weight, max_hits, words, patterns in rules.signals:
        hits: List[str] = []
        if words is not None:
            for m in words.finditer(text):
                word = m.group(0).lower()
                if word not in hits:
                    hits.append(word)
                if len(hits) >= max(3, max_hits):
                    break
        if not hits:
            for p in patterns:
                m = p.search(text)
                if m:
                    hits.append(m.group(0).strip()[:20] or p.pattern[:20])
                    break
        if hits and weight:
            score += weight * min(len(hits), max_hits)
            fired.append(f"{name} ({', '.join(repr(h) for h in hits)})")
    return score, fired


def content_domain(rules: CompiledRules, text: str) -> Tuple[str, List[str]]:
    best, best_hits = "general", []
    for name, regex in rules.domains:
        if regex is None:
            continue
        hits = sorted({m.group(0).lower() for m in regex.finditer(text)})
        if len(hits) > len(best_hits):
            best, best_hits = name, hits
    return best, best_hits[:3]


def _latency_ms(settings: Settings, alias: str, out_tokens: int) -> float:
    lat = settings.model(alias).latency
    return lat.first_token_ms + lat.per_token_ms * out_tokens


def order_models(
    settings: Settings, aliases: Sequence[str], prefer: str, hard: bool, costs: Mapping[str, float],
    latencies: Mapping[str, float],
) -> List[str]:
    """Sort eligible models by preference; ties keep the configured order (sorted() is stable)."""
    def quality(a: str) -> int:
        return settings.model(a).quality

    if prefer == "cost":
        key = lambda a: (costs[a], -quality(a))  # noqa: E731
    elif prefer == "quality":
        key = lambda a: (-quality(a), costs[a])  # noqa: E731
    elif prefer == "latency":
        key = lambda a: (latencies[a], costs[a])  # noqa: E731
    elif hard:  # balanced, hard request: the strong tier, best first, then the rest best first
        key = lambda a: (settings.model(a).tier != "strong", -quality(a), costs[a])  # noqa: E731
    else:  # balanced, easy request: the fast tier, cheapest first, then the rest cheapest first
        key = lambda a: (settings.model(a).tier != "fast", costs[a], -quality(a))  # noqa: E731
    return sorted(aliases, key=key)


_PREFER_WORDS = {
    "cost": "cheapest first",
    "quality": "highest quality first",
    "latency": "fastest first",
}


def attachment_tokens(inputs: Mapping[str, Any], rs: "RouterSettings") -> int:
    """What attachments add to the input estimate: a flat count per image, decoded size / 4 per document."""
    images = inputs.get("images") or []
    documents = inputs.get("documents") or []
    total = len(images) * rs.image_tokens if isinstance(images, list) else 0
    for doc in documents if isinstance(documents, list) else []:
        data = doc.get("data") if isinstance(doc, Mapping) else None
        if isinstance(data, str):
            total += -(-(len(data) * 3 // 4) // 4)
    return total


def decide(chain: Any, request: Any, messages: Sequence[Any], config: Optional[RunnableConfig] = None) -> RouteDecision:
    """Choose the model for ``request`` (a ChainRequest) whose prompt formats to ``messages``.

    Raises PinnedModelUnsuitable (400), UnsupportedAttachment (400), InputTooLarge (413), BudgetExceeded (400).
    """
    settings: Settings = chain.settings
    rules = compiled_rules(chain.runtime)
    rs = rules.rs
    options = request.options
    prefer = options.prefer or rs.prefer
    max_tokens = options.max_tokens or request.prompt.metadata.max_tokens
    ordered_only = chain.cfg.strategy == "fallback"
    candidates = chain_candidates(chain)
    pinned = options.model
    if pinned and pinned not in candidates:
        candidates = [pinned] + candidates  # a pinned model need not be in the chain's list

    # 4./5. first: content signals (cheap) or the classifier; the domain may add a preamble to the prompt.
    text = routed_text(chain, request, rs.scan_chars)
    local_tokens = estimate_messages(messages) + attachment_tokens(request.inputs, rs)
    score, fired = content_difficulty(rules, text, local_tokens)
    hard = score >= rs.difficulty.hard_at
    domain, domain_hits = content_domain(rules, text)
    mode = "ordered" if ordered_only else "rules"
    classifier: Optional[Dict[str, Any]] = None
    if rs.mode == "llm" and not ordered_only and not pinned:
        classified, classifier = _classify(chain, request, text, rules, config)
        if classified is not None:
            hard = classified["difficulty"] == "hard"
            domain, domain_hits = classified["domain"], []
            mode = "llm"
    tier = (getattr(request.prompt.metadata, "model_extra", None) or {}).get("tier")
    if tier == "strong" and not hard:
        hard = True
        fired.append(f"prompt '{request.prompt.name}' has tier strong")
    preamble = domain_preamble(request.prompt, domain)
    extra = (estimate_text(preamble) + 3) if preamble else 0

    # 1. Hard constraints: window and capabilities (CountTokens per model when asked and available).
    tokens = {a: local_tokens + extra for a in candidates}
    exact = set()
    if options.exact_count:
        for a in candidates:
            est = estimate(settings, a, messages, exact=True, factory=chain.runtime.factory)
            if est.exact:
                tokens[a] = est.tokens + extra + attachment_tokens(request.inputs, rs)
                exact.add(a)
    elig = eligible(settings, candidates, tokens, max_tokens, required_capabilities(request.inputs), exact)
    share = rs.expected_output_share
    expected_out = {a: int(output_tokens(settings, a, max_tokens) * share) for a in candidates}
    costs = {a: _cost(settings, a, tokens[a], expected_out[a]) for a in candidates}
    excluded = dict(elig.excluded)
    if pinned and pinned in excluded:
        raise PinnedModelUnsuitable(
            f"options.model '{pinned}' cannot take this request: {excluded[pinned]}",
            model=pinned, estimated_input_tokens=tokens[pinned],
        )
    elig.require_any(settings)

    # 2. Budget.
    fitting = list(elig.fitting)
    budget = options.max_cost_usd
    if budget is not None:
        over = [a for a in fitting if costs[a] > budget]
        for a in over:
            excluded[a] = f"budget: ~${costs[a]:.6f} > ${budget:g}"
        if pinned in over:
            raise PinnedModelUnsuitable(
                f"options.model '{pinned}' would cost ~${costs[pinned]:.6f}, above options.max_cost_usd ${budget:g}",
                model=pinned, estimated_cost_usd=round(costs[pinned], 8), max_cost_usd=budget,
            )
        if len(over) == len(fitting):
            cheapest = min(fitting, key=lambda a: costs[a])
            raise BudgetExceeded(
                f"no model fits options.max_cost_usd ${budget:g}: the cheapest that can take this request, "
                f"{cheapest}, would cost ~${costs[cheapest]:.6f} (~{tokens[cheapest]:,} input + "
                f"{expected_out[cheapest]:,} output tokens at its configured prices)",
                cheapest_model=cheapest, cheapest_cost_usd=round(costs[cheapest], 8), max_cost_usd=budget,
                estimated_input_tokens=tokens[cheapest],
            )
        fitting = [a for a in fitting if a not in over]

    # 3./4. Preference, then content (difficulty -> tier).
    latencies = {a: _latency_ms(settings, a, output_tokens(settings, a, max_tokens)) for a in fitting}
    ordered = fitting if ordered_only else order_models(settings, fitting, prefer, hard, costs, latencies)
    if pinned:
        ordered = [pinned] + [a for a in ordered if a != pinned]
        mode = "pinned"
    if not options.fallbacks:
        ordered = ordered[:1]
    chosen = ordered[0]

    decision = RouteDecision(
        model=chosen,
        candidates=ordered,
        reason="",
        estimated_input_tokens=tokens[chosen],
        estimated_cost_usd=costs[chosen],
        domain=domain,
        difficulty="hard" if hard else "easy",
        score=score,
        signals=fired,
        prefer=prefer,
        mode=mode,
        excluded=excluded,
        costs={a: costs[a] for a in ordered},
        max_tokens=max_tokens,
        classifier=classifier,
    )
    decision.reason = _reason(decision, settings, rs.difficulty.hard_at, domain_hits, options.fallbacks)
    logger.debug("route decided", extra={"chain": chain.name, "route_model": chosen, "route_mode": mode,
                                         "difficulty": decision.difficulty, "domain": domain,
                                         "candidates": ordered, "estimated_input_tokens": tokens[chosen]})
    return decision


def _cost(settings: Settings, alias: str, input_tokens: int, out_tokens: int) -> float:
    price = settings.model(alias).price
    return (input_tokens * price.input_per_1k + out_tokens * price.output_per_1k) / 1000.0


def _reason(d: RouteDecision, settings: Settings, hard_at: float, domain_hits: List[str], fallbacks: bool) -> str:
    """One line a person can check: the choice, the signals that decided it, the estimate, what is behind."""
    if d.mode == "llm":
        difficulty = f"{d.difficulty} request (classifier {d.classifier['model']})"
    elif d.signals:
        cmp = ">=" if d.difficulty == "hard" else "<"
        difficulty = f"{d.difficulty} request (score {d.score:g} {cmp} {hard_at:g}: {'; '.join(d.signals)})"
    else:
        difficulty = f"{d.difficulty} request (no difficulty signal)"
    if d.classifier and not d.classifier.get("ok"):
        difficulty += f" [classifier unavailable: {d.classifier.get('error')}; rules decided]"
    if d.mode == "pinned":
        article = "an" if d.difficulty == "easy" else "a"
        head = f"{d.model}: pinned by options.model" + (
            f"; others ordered for {article} {difficulty}" if len(d.candidates) > 1 else "")
    elif d.mode == "ordered":
        head = f"{d.model}: first eligible model in the chain's configured order"
    elif d.prefer != "balanced":
        head = f"{d.model}: prefer {d.prefer}, {_PREFER_WORDS[d.prefer]}; {difficulty}"
    else:
        tier = "strong" if d.difficulty == "hard" else "fast"
        head = f"{d.model}: {difficulty} -> {tier} tier"
        if settings.model(d.model).tier != tier:
            head += f" (no eligible {tier} model)"
    parts = [head, f"~{d.estimated_input_tokens:,} input tokens, ~${d.estimated_cost_usd:.6f}"]
    if d.domain != "general":
        parts.append(f"domain {d.domain}" + (f" ({', '.join(domain_hits)})" if domain_hits else ""))
    if len(d.candidates) > 1:
        parts.append(f"fallbacks {', '.join(d.candidates[1:])}")
    elif not fallbacks:
        parts.append("fallbacks off")
    if d.excluded:
        parts.append("excluded " + "; ".join(f"{a}: {why}" for a, why in d.excluded.items()))
    return "; ".join(parts)


# --- optional LLM classifier ----------------------------------------------------------------------------------

_CLASSIFIER_SYSTEM = (
    "You route requests to a fast, cheap model or to a strong, expensive one. Classify the user's request by "
    "calling the tool. difficulty is 'hard' when answering well needs multi-step reasoning, writing or "
    "debugging code, mathematics, or careful analysis of several points; 'easy' for look-ups, short factual "
    "answers, rewording and simple summaries. domain is the subject area ('general' if none fits). "
    "Do not answer the request itself."
)


def _classifier_schema(domains: Sequence[str]) -> Any:
    from pydantic import create_model

    names = tuple(dict.fromkeys([*domains, "general"]))
    return create_model(
        "RouteClassification",
        __doc__="How hard the request is and what it is about.",
        difficulty=(Literal["easy", "hard"], Field(description="easy or hard (see the instructions)")),
        domain=(Literal[names], Field(description=f"one of: {', '.join(names)}")),  # type: ignore[valid-type]
    )


def _classify(
    chain: Any, request: Any, text: str, rules: CompiledRules, config: Optional[RunnableConfig]
) -> Tuple[Optional[Dict[str, str]], Dict[str, Any]]:
    """Ask the classifier model; returns (None, info) when it is unavailable, so the rules decide."""
    from chains.errors import to_model_error
    from chains.resilience import CallAbandoned, cooldown_for, resilience_settings, run_bounded

    settings = chain.settings
    rs = rules.rs
    alias = rs.llm.model or min(settings.models, key=lambda a: _cost(settings, a, 1000, 1000))
    info: Dict[str, Any] = {"model": alias, "ok": False}
    cooling = cooldown_for(chain.runtime).status(alias)
    if cooling:
        info["error"] = f"{alias} cooling down after {cooling['error_class']}"
        return None, info
    timeout_ms = float(rs.llm.timeout_ms)
    remaining = request.remaining_ms()
    if remaining is not None:
        timeout_ms = min(timeout_ms, remaining - resilience_settings(settings).min_attempt_ms)
        if timeout_ms <= 0:
            info["error"] = "no time left for the classifier"
            return None, info
    schema = rules.__dict__.get("_schema")
    if schema is None:
        schema = rules.__dict__["_schema"] = _classifier_schema(list(rs.domains))
    model = chain.runtime.factory.chat_model(alias, max_tokens=200, temperature=0.0)
    structured = model.with_structured_output(schema)
    prompt = [("system", _CLASSIFIER_SYSTEM), ("human", text[: rs.llm.max_chars] or "(empty request)")]
    start = time.perf_counter()
    try:
        result = run_bounded(lambda: structured.invoke(prompt, config=config), timeout_ms / 1000.0)
    except CallAbandoned:
        info.update(error="timeout", ms=round((time.perf_counter() - start) * 1000, 1))
        return None, info
    except Exception as exc:  # any failure: the rules decide instead
        err = to_model_error(exc, settings.model(alias).model_id)
        info.update(error=err.error_class, code=err.code, ms=round((time.perf_counter() - start) * 1000, 1))
        seconds = resilience_settings(settings).cooldown_s.get(err.error_class, 0)
        if seconds:
            cooldown_for(chain.runtime).trip(alias, err.error_class, seconds)
        return None, info
    info.update(ok=True, ms=round((time.perf_counter() - start) * 1000, 1),
                difficulty=result.difficulty, domain=result.domain)
    return {"difficulty": result.difficulty, "domain": result.domain}, info


# --- the Runnable ---------------------------------------------------------------------------------------------


class Router(Runnable[Dict[str, Any], RouteDecision]):
    """The decision as a Runnable: takes a chain's input (variables and ``options``), returns a RouteDecision.

    ``Router(get_chain("qa")).invoke({"question": "..."})``; compose it like any Runnable
    (``router | RunnableLambda(lambda d: d.model)``). In rules mode it calls no model.
    """

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def invoke(self, input: Dict[str, Any], config: Optional[RunnableConfig] = None, **kwargs: Any) -> RouteDecision:
        from langchain_core.runnables.config import ensure_config

        config = ensure_config(config)
        config.setdefault("run_name", f"{self.chain.name}.router")
        return self._call_with_config(self._decide, input, config)

    def _decide(self, input: Dict[str, Any], config: RunnableConfig) -> RouteDecision:
        from chains.routed import build_messages

        request = self.chain.parse(input, config)
        return decide(self.chain, request, build_messages(self.chain, request), config)


__all__ = [
    "RouteDecision", "Router", "RouterSettings", "decide", "eligible", "Eligibility", "required_capabilities",
    "router_settings", "chain_candidates", "attachment_tokens", "domain_preamble",
]
