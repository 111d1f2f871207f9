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
``decide()`` is the function; ``Router`` is the same thing as a Runnable for LCEL pipelines. The section
is ``chains.routing.settings``, the signals ``chains.routing.signals``, llm mode ``chains.routing.classifier``.
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from langchain_core.runnables import Runnable, RunnableConfig

from chains.attachments import build_messages
from chains.config import ModelConfig, Settings
from chains.errors import BudgetExceeded, PinnedModelUnsuitable, UnsupportedAttachment
from chains.limits import model_output_reserve, requested_max_tokens
from chains.routing.classifier import classify_request
from chains.routing.features import SIGNALS
from chains.routing.learned import shared_scorer
from chains.routing.settings import CompiledRules, compiled_rules
from chains.reasoning import needs as reasoning_needs
from chains.routing.signals import (
    attachment_tokens,
    content_difficulty,
    content_domain,
    domain_preamble,
    required_capabilities,
    routed_text,
)
from chains.caching.placement import place, warm_read_tokens
from chains.tokens.estimator import estimate, estimate_messages, estimate_text, model_usable_window, too_large
from chains.usage import cost, estimate_cost

logger = logging.getLogger(__name__)

_PREFER_WORDS = {
    "cost": "cheapest first",
    "quality": "highest quality first",
    "latency": "fastest first",
}


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
    # The router's estimate (0..1) that this request needs the strong tier; the tier is strong when it is at
    # least ``threshold``. learned mode: the model's probability; rules mode: score / (score + hard_at), so
    # the rules' own cut (score >= hard_at) is strong_score >= 0.5; llm mode: 1.0 hard / 0.0 easy.
    strong_score: float = 0.0
    threshold: float = 0.5
    signals: List[str] = field(default_factory=list)
    prefer: str = "balanced"
    mode: str = "rules"  # learned | rules | llm | pinned | ordered
    excluded: Dict[str, str] = field(default_factory=dict)
    costs: Dict[str, float] = field(default_factory=dict)  # estimated cost per candidate
    max_tokens: Optional[int] = None  # requested output cap (None: each model's default)
    classifier: Optional[Dict[str, Any]] = None  # llm mode: what the classifier said or why it failed
    # Per candidate: input tokens expected from the cache (this process wrote the same stable prefix for that
    # model within its TTL: chains.caching.placement); their estimated cost counts them at the read price.
    cached_prefix_tokens: Dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        # Shallow copies: dataclasses.asdict's deep recursion cost ~0.1 ms on every request.
        d = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
             for k, v in self.__dict__.items()}
        d["estimated_cost_usd"] = round(self.estimated_cost_usd, 8)
        d["costs"] = {k: round(v, 8) for k, v in self.costs.items()}
        if d["classifier"] is None:
            d.pop("classifier")
        return d

    def restricted(self, aliases: Sequence[str], reason: Optional[str] = None, model: Optional[str] = None
                   ) -> "RouteDecision":
        """The same decision over ``aliases`` only (order kept; ``model``, or the first kept, is chosen)."""
        kept = [a for a in self.candidates if a in aliases] or list(aliases)
        chosen = model or kept[0]
        return replace(self, model=chosen, candidates=[chosen] + [a for a in kept if a != chosen],
                       reason=reason or self.reason)


@dataclass(frozen=True)
class Candidate:
    """One model as the decision sees it, built once per request: the window, the output reserve, what it
    lacks, the expected cost and latency."""

    alias: str
    cfg: ModelConfig  # looked up once, here
    input_tokens: int  # estimated (or counted exactly by CountTokens)
    window: int  # usable window: context window less the margin (no margin for an exact count)
    output: int  # output reserve of one call (chains.limits.output_reserve)
    missing: Tuple[str, ...]  # capabilities it lacks for this request
    cost: float  # expected USD (expected output share of the reserve)
    latency_ms: float  # configured latency profile for the reserve

    @property
    def fits(self) -> bool:
        return not self.missing and self.input_tokens + self.output <= self.window

    def why_not(self) -> Optional[str]:
        if "reasoning" in self.missing:
            return "does not reason (options.reasoning)"
        if self.missing:
            return f"cannot read {'/'.join(self.missing)} input"
        if self.input_tokens + self.output > self.window:
            return f"window: {self.input_tokens:,} + {self.output:,} output > {self.window:,} usable tokens"
        return None


def candidate(settings: Settings, alias: str, input_tokens: int, max_tokens: Optional[int] = None,
              needs: Iterable[str] = (), exact: bool = False, output_share: float = 1.0) -> Candidate:
    cfg = settings.model(alias)
    out = model_output_reserve(cfg, max_tokens)
    return Candidate(
        alias=alias,
        cfg=cfg,
        input_tokens=int(input_tokens),
        window=model_usable_window(cfg, exact),
        output=out,
        missing=tuple(n for n in sorted(needs) if not getattr(cfg.capabilities, n, False)) if needs else (),
        cost=cost(cfg.price, int(input_tokens), int(out * output_share)),
        latency_ms=cfg.latency.first_token_ms + cfg.latency.per_token_ms * out,
    )


@dataclass
class Eligibility:
    """Which candidates can take a request of this size and kind, and why the others cannot."""

    records: Dict[str, Candidate]  # one per candidate, in order
    max_tokens: Optional[int]
    needs: Set[str]
    fitting: List[str]
    excluded: Dict[str, str]

    @property
    def input_tokens(self) -> Dict[str, int]:
        return {a: r.input_tokens for a, r in self.records.items()}

    def require_any(self, settings: Settings) -> None:
        """Raise the error that explains why nothing can take the request (no-op when something can)."""
        if self.fitting:
            return
        capable = [a for a, r in self.records.items() if not r.missing]
        if not capable:
            raise UnsupportedAttachment(
                f"no configured model accepts {'/'.join(sorted(self.needs))} input "
                f"(models: {', '.join(self.records)})",
                needs=sorted(self.needs),
            )
        raise too_large(settings, capable, min(self.records[a].input_tokens for a in capable), self.max_tokens)


def eligible(
    settings: Settings,
    candidates: Sequence[str],
    input_tokens: Union[int, Mapping[str, int]],
    max_tokens: Optional[int] = None,
    needs: Iterable[str] = (),
    exact: Iterable[str] = (),
    output_share: float = 1.0,
) -> Eligibility:
    """The hard constraints: window (each model's margin; none for an ``exact`` CountTokens count) and
    capabilities, with one ``Candidate`` record per model. Reusable by any strategy (compare uses it):
    ``.require_any(settings)`` raises InputTooLarge (413) or UnsupportedAttachment (400) when nothing fits."""
    needs = set(needs)
    exact = set(exact)
    records: Dict[str, Candidate] = {}
    fitting: List[str] = []
    excluded: Dict[str, str] = {}
    for alias in candidates:
        tokens = input_tokens[alias] if isinstance(input_tokens, abc.Mapping) else int(input_tokens)
        record = records[alias] = candidate(settings, alias, tokens, max_tokens, needs, alias in exact, output_share)
        why = record.why_not()
        if why:
            excluded[alias] = why
        else:
            fitting.append(alias)
    return Eligibility(records, max_tokens, needs, fitting, excluded)


def with_cached_prefix(settings: Settings, records: Dict[str, Candidate], messages: Sequence[Any],
                       output_share: float = 1.0) -> Dict[str, int]:
    """Count an expected cache read in each candidate's cost where the prompt's stable prefix is warm for that
    model (``chains.caching.placement.warm_read_tokens``); updates ``records``, returns alias -> tokens read.

    A model whose cache is cold keeps the plain estimate (no write premium is added), so the router never
    penalises it for not being warm."""
    cached: Dict[str, int] = {}
    for alias, record in list(records.items()):
        read = min(warm_read_tokens(record.cfg.model_id, messages), record.input_tokens)
        if read:
            cached[alias] = read
            records[alias] = replace(record, cost=estimate_cost(
                settings, alias, record.input_tokens, int(record.output * output_share), cache_read_tokens=read))
    return cached


def configured_models(chain: Any) -> List[str]:
    """The models a chain may use, in configured order: its ``models``, else every model with its ``model``
    first."""
    cfg = chain.cfg
    if cfg.models:
        return list(cfg.models)
    models = list(chain.settings.models)
    if cfg.model:
        models.remove(cfg.model)
        models.insert(0, cfg.model)
    return models


def candidates(chain: Any, request: Any) -> List[str]:
    """THE candidates rule: the chain's configured models, a pinned ``options.model`` first (alone when
    ``options.fallbacks`` is false; it need not be in the chain's list)."""
    configured = configured_models(chain)
    pinned = request.options.model
    if not pinned:
        return configured
    if not request.options.fallbacks:
        return [pinned]
    return [pinned] + [a for a in configured if a != pinned]


def order_models(records: Mapping[str, Candidate], aliases: Sequence[str], prefer: str, hard: bool) -> List[str]:
    """Sort eligible models by preference; ties keep the configured order (sorted() is stable)."""
    if prefer == "cost":
        key = lambda r: (r.cost, -r.cfg.quality)  # noqa: E731
    elif prefer == "quality":
        key = lambda r: (-r.cfg.quality, r.cost)  # noqa: E731
    elif prefer == "latency":
        key = lambda r: (r.latency_ms, r.cost)  # noqa: E731
    elif hard:  # balanced, hard request: the strong tier, best first, then the rest best first
        key = lambda r: (r.cfg.tier != "strong", -r.cfg.quality, r.cost)  # noqa: E731
    else:  # balanced, easy request: the fast tier, cheapest first, then the rest cheapest first
        key = lambda r: (r.cfg.tier != "fast", r.cost, -r.cfg.quality)  # noqa: E731
    return [r.alias for r in sorted((records[a] for a in aliases), key=key)]


def decide(chain: Any, request: Any, messages: Sequence[Any], config: Optional[RunnableConfig] = None) -> RouteDecision:
    """Choose the model for ``request`` (a ChainRequest) whose prompt formats to ``messages``.

    Raises PinnedModelUnsuitable (400), UnsupportedAttachment (400), InputTooLarge (413), BudgetExceeded (400).
    """
    settings: Settings = chain.settings
    rules = compiled_rules(chain.runtime)
    rs = rules.rs
    options = request.options
    prefer = options.prefer or rs.prefer
    max_tokens = requested_max_tokens(request)
    ordered_only = chain.strategy.ordered  # the strategy says: keep the configured order, no content routing
    names = candidates(chain, request)
    pinned = options.model

    # 4./5. first: content signals (cheap) or the classifier; the domain may add a preamble to the prompt.
    text = routed_text(chain, request, rs.scan_chars)
    text_tokens = estimate_messages(messages)
    local_tokens = text_tokens + attachment_tokens(request.inputs, rs)
    score, fired = content_difficulty(rules, text, local_tokens)
    hard = score >= rs.difficulty.hard_at
    strong_score, threshold = score / (score + rs.difficulty.hard_at), 0.5
    domain, domain_hits = content_domain(rules, text)
    mode = "ordered" if ordered_only else "rules"
    classifier: Optional[Dict[str, Any]] = None
    if rs.mode == "learned" and not ordered_only and not pinned:
        scorer = shared_scorer(rs.weights_path(settings))
        strong_score = scorer.score(text)
        threshold = rs.threshold if rs.threshold is not None else scorer.threshold
        hard = strong_score >= threshold
        # The named signals that pushed the score most (never n-gram features: their names are the prompt's
        # own words, and the route is logged without LOG_PROMPTS).
        fired = [name for name, _ in scorer.explain(text, top=12) if name in SIGNALS][:3]
        mode = "learned"
    elif rs.mode == "llm" and not ordered_only and not pinned:
        classified, classifier = classify_request(chain, request, text, rules, config)
        if classified is not None:
            hard = classified["difficulty"] == "hard"
            strong_score, threshold = (1.0 if hard else 0.0), 0.5
            domain, domain_hits = classified["domain"], []
            mode = "llm"
    tier = (getattr(request.prompt.metadata, "model_extra", None) or {}).get("tier")
    if tier == "strong" and not hard:
        hard = True
        fired.append(f"prompt '{request.prompt.name}' has tier strong")
    preamble = domain_preamble(request.prompt, domain)
    extra = (estimate_text(preamble) + 3) if preamble else 0

    # 1. Hard constraints: window and capabilities (CountTokens per model when asked and available).
    # Attachments at each model's own figures where the catalogue has them (an image costs Claude and Nova
    # differently), else the flat ones.
    attached = bool(request.inputs.get("images") or request.inputs.get("documents"))
    tokens = {a: (text_tokens + attachment_tokens(request.inputs, rs, settings.model(a).model_id) if attached
                  else local_tokens) + extra for a in names}
    exact = set()
    if options.exact_count:
        for a in names:
            # CountTokens sees what the call will send to this model (its cache checkpoints only).
            sent = place(settings.model(a).model_id, list(messages)).messages
            est = estimate(settings, a, sent, exact=True, factory=chain.runtime.factory)
            if est.exact:
                tokens[a] = est.tokens + extra + attachment_tokens(request.inputs, rs, settings.model(a).model_id)
                exact.add(a)
    elig = eligible(settings, names, tokens, max_tokens, required_capabilities(request.inputs) | reasoning_needs(request), exact,
                    rs.expected_output_share)
    records = elig.records
    cached = with_cached_prefix(settings, records, messages, rs.expected_output_share)
    costs = {a: r.cost for a, r in records.items()}
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
                f"{int(records[cheapest].output * rs.expected_output_share):,} output tokens at its configured "
                f"prices)",
                cheapest_model=cheapest, cheapest_cost_usd=round(costs[cheapest], 8), max_cost_usd=budget,
                estimated_input_tokens=tokens[cheapest],
            )
        fitting = [a for a in fitting if a not in over]

    # 3./4. Preference, then content (difficulty -> tier).
    ordered = fitting if ordered_only else order_models(records, fitting, prefer, hard)
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
        strong_score=round(strong_score, 4),
        threshold=round(threshold, 4),
        signals=fired,
        prefer=prefer,
        mode=mode,
        excluded=excluded,
        costs={a: costs[a] for a in ordered},
        max_tokens=max_tokens,
        classifier=classifier,
        cached_prefix_tokens={a: cached[a] for a in ordered if cached.get(a)},
    )
    decision.reason = _reason(decision, settings, rs.difficulty.hard_at, domain_hits, options.fallbacks)
    if logger.isEnabledFor(logging.DEBUG):  # the fields are not built for nothing on every request
        logger.debug("route decided", extra={"chain": chain.name, "route_model": chosen, "route_mode": mode,
                                             "difficulty": decision.difficulty, "domain": domain,
                                             "candidates": ordered, "estimated_input_tokens": tokens[chosen]})
    return decision


def _reason(d: RouteDecision, settings: Settings, hard_at: float, domain_hits: List[str], fallbacks: bool) -> str:
    """One line a person can check: the choice, the signals that decided it, the estimate, what is behind."""
    if d.mode == "llm":
        difficulty = f"{d.difficulty} request (classifier {d.classifier['model']})"
    elif d.mode == "learned":
        cmp = ">=" if d.difficulty == "hard" else "<"
        difficulty = (f"{d.difficulty} request (strong_score {d.strong_score:.3f} {cmp} {d.threshold:.3f}"
                      + (f": {', '.join(d.signals)})" if d.signals else ")"))
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
    if d.cached_prefix_tokens.get(d.model):
        parts[-1] += f" (cached prefix: ~{d.cached_prefix_tokens[d.model]:,} tokens read from the cache)"
    if d.domain != "general":
        parts.append(f"domain {d.domain}" + (f" ({', '.join(domain_hits)})" if domain_hits else ""))
    if len(d.candidates) > 1:
        parts.append(f"fallbacks {', '.join(d.candidates[1:])}")
    elif not fallbacks:
        parts.append("fallbacks off")
    if d.excluded:
        parts.append("excluded " + "; ".join(f"{a}: {why}" for a, why in d.excluded.items()))
    return "; ".join(parts)


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
        request = self.chain.parse(input, config)
        return decide(self.chain, request, build_messages(self.chain, request), config)
