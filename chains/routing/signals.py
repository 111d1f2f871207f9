"""Content signals the router reads: attachments and the capabilities they need, the routed text, difficulty,
domain, and the prompt's domain preamble. Cheap by design: regular expressions compiled once per config."""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
from typing import Any, List, Mapping, Optional, Set, Tuple

from chains.routing.settings import CompiledRules, RouterSettings

# Input keys that carry attachments (not template variables) and the capability each one needs.
ATTACHMENT_CAPABILITIES = {"images": "vision", "documents": "documents"}


def required_capabilities(inputs: Mapping[str, Any]) -> Set[str]:
    """Capabilities an input needs: ``images`` -> vision, ``documents`` -> documents (non-empty lists)."""
    return {cap for key, cap in ATTACHMENT_CAPABILITIES.items() if inputs.get(key)}


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
    text = preambles.get(domain) if isinstance(preambles, abc.Mapping) else None
    return text if isinstance(text, str) and text.strip() else None


def content_difficulty(rules: CompiledRules, text: str, input_tokens: int) -> Tuple[float, List[str]]:
    """The difficulty score and the signals that fired (for the reason)."""
    d = rules.rs.difficulty
    score = 0.0
    fired: List[str] = []
    if input_tokens >= d.length.min_tokens and d.length.weight:
        score += d.length.weight
        fired.append(f"long input ({input_tokens:,} >= {d.length.min_tokens:,} tokens)")
    lowered = text.lower()  # the keyword regexes are lowercase (chains.routing.settings._word_regex)
    questions = text.count("?")
    if questions >= d.questions.min_count and d.questions.weight:
        score += d.questions.weight
        fired.append(f"questions ({questions})")
    for name, weight, max_hits, words, patterns in rules.signals:
        hits: List[str] = []
        if words is not None:
            for m in words.finditer(lowered):
                word = m.group(0)
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
    lowered = text.lower()  # the domain regexes are lowercase (chains.routing.settings._word_regex)
    for name, regex in rules.domains:
        if regex is None:
            continue
        hits = sorted({m.group(0) for m in regex.finditer(lowered)})
        if len(hits) > len(best_hits):
            best, best_hits = name, hits
    return best, best_hits[:3]


def attachment_tokens(inputs: Mapping[str, Any], rs: RouterSettings, model_id: Optional[str] = None) -> int:
    """What attachments add to the input estimate. For a model the catalogue knows: its own figures, the ones
    the caching placement and bedrock_local use (``chains.caching.media``: Claude images by size, Nova images a
    constant, PDF pages x per page, text documents as their text). Otherwise the flat ones: ``image_tokens`` per
    image, decoded size / 4 per document."""
    images = inputs.get("images") or []
    documents = inputs.get("documents") or []
    if not images and not documents:
        return 0
    if model_id is not None:
        from chains.attachments import attachment_blocks
        from chains.caching.media import known_model, media_tokens

        if known_model(model_id):
            return sum(media_tokens(block, model_id) for block in attachment_blocks(inputs))
    total = len(images) * rs.image_tokens if isinstance(images, list) else 0
    for doc in documents if isinstance(documents, list) else []:
        data = doc.get("data") if isinstance(doc, abc.Mapping) else None
        if isinstance(data, str):
            total += -(-(len(data) * 3 // 4) // 4)
    return total
