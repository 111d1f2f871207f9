"""The compare chain's judge: a configured model scores anonymised, shuffled answers with structured output.

Bias control (the two biases LLM judges are known for):
- position bias: the answers are shown in an order shuffled with a per-request seed. The order is
  ``random.Random(seed).shuffle(sorted(aliases))`` and both the seed and the order are recorded in the response,
  so anyone can recompute it;
- self-preference: the judge never sees which model wrote which answer. Answers are labelled A, B, C ... and
  every configured model id and alias inside an answer's text is replaced by ``[model]``.

The verdict schema has one required field per label (``answer_A``, ``answer_B``, ...), so a schema-valid reply
necessarily scores every answer exactly once. A judge that fails (any error class, a reply that does not
parse, no time left) yields ``error`` and no scores; the comparison itself is never lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from pydantic import BaseModel, Field, create_model

from chains.calls.call import bedrock_latency, message_text
from chains.errors import ChainsError, to_model_error
from chains.tokens.estimator import estimate_messages, fits
from chains.limits import call_max_tokens
from chains.caching.placement import place, remember
from chains.models import structured_output
from chains.usage import call_cost, split_usage

logger = logging.getLogger(__name__)

RATIONALE_MAX_CHARS = 400  # "short": longer rationales are cut in the response (the schema asks for 1-2 sentences)
MODEL_PLACEHOLDER = "[model]"


class AnswerVerdict(BaseModel):
    """The judge's verdict on one anonymised answer."""

    score: int = Field(ge=1, le=10, description="1 = useless or wrong ... 10 = excellent, on the stated criteria.")
    rationale: str = Field(description="One or two sentences: why this score.")


_SCHEMAS: Dict[Tuple[str, ...], Type[BaseModel]] = {}


def verdict_schema(labels: Sequence[str]) -> Type[BaseModel]:
    """A pydantic model with one required ``answer_<label>`` field per answer (cached per label tuple)."""
    key = tuple(labels)
    schema = _SCHEMAS.get(key)
    if schema is None:
        fields: Dict[str, Any] = {
            f"answer_{label}": (AnswerVerdict, Field(description=f"Your verdict on answer {label}."))
            for label in labels
        }
        schema = _SCHEMAS[key] = create_model(  # type: ignore[call-overload]
            "ScoreAnswers", __doc__="Score every anonymised answer: one verdict per answer label.", **fields
        )
    return schema


def label(index: int) -> str:
    """A, B, ... Z, AA, AB ... (spreadsheet-style, so any number of answers gets a distinct label)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


# --- seed and order ----------------------------------------------------------------------------------------


def derive_seed(
    option_seed: Optional[int], request_id: Optional[str], inputs: Mapping[str, Any], prompt: str, models: Sequence[str]
) -> Tuple[int, str]:
    """``(seed, source)``: ``options.seed`` if given, else a hash of the request id, else of the request itself.

    Hash-derived seeds are the first 32 bits of SHA-256, so the same request id (or the same input, prompt and
    models when there is no request id) always gives the same order.
    """
    if option_seed is not None:
        return int(option_seed), "options.seed"
    if request_id:
        return _hash32(f"request_id:{request_id}"), "request_id"
    canonical = json.dumps({"inputs": inputs, "prompt": prompt, "models": sorted(models)}, sort_keys=True, default=str)
    return _hash32(f"input:{canonical}"), "input"


def shuffled_order(aliases: Sequence[str], seed: int) -> List[str]:
    order = sorted(aliases)
    random.Random(seed).shuffle(order)
    return order


def _hash32(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


# --- what the judge sees -----------------------------------------------------------------------------------


def anonymise(text: str, names: Sequence[str]) -> str:
    """Replace model ids and aliases with ``[model]``, and defuse the answer delimiters."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = re.sub(re.escape(name), MODEL_PLACEHOLDER, text, flags=re.IGNORECASE)
    return text.replace("<answer", "<_answer").replace("</answer", "</_answer")


def render_request(messages: Sequence[Any]) -> str:
    """The compared prompt as the models received it (system instructions included: they are criteria too)."""

    parts = []
    for m in messages:
        role = {"system": "System", "human": "User", "ai": "Assistant"}.get(getattr(m, "type", ""), "User")
        parts.append(f"{role}: {message_text(m)}")
    return "\n\n".join(parts)


# --- running the judge -------------------------------------------------------------------------------------


def run_judge(
    *,
    runtime: Any,
    settings: Any,  # chains.compare.JudgeSettings
    messages: Sequence[Any],
    answers: Mapping[str, str],
    seed: int,
    seed_source: str,
    compared: Sequence[str],
    config: Mapping[str, Any],
    call: Callable[[Callable[[], Any]], Any],
    cache: bool = False,
) -> Dict[str, Any]:
    """Score ``answers`` (alias -> text). ``call(fn)`` runs ``fn`` under the request's deadline.

    Returns the response's ``judge`` section: model, seed, order, and ``scores`` (alias -> {label, score,
    rationale}) or ``error``. Never raises for a judge failure.
    """
    app = runtime.settings
    alias = settings.model
    cfg = app.model(alias)
    order = shuffled_order(list(answers), seed)
    labels = [label(i) for i in range(len(order))]
    result: Dict[str, Any] = {
        "enabled": True,
        "model": alias,
        "model_id": cfg.model_id,
        "criteria": list(settings.criteria),
        "seed": seed,
        "seed_source": seed_source,
        "order": [{"label": lab, "model": a} for lab, a in zip(labels, order)],
        # The judge also wrote one of the answers: anonymisation is what keeps that from mattering.
        "also_compared": alias in compared,
        "scores": None,
        "error": None,
    }

    names = [n for a, m in app.models.items() for n in (a, m.model_id)]
    shown = "\n\n".join(
        f'<answer label="{lab}">\n{anonymise(answers[a], names)}\n</answer>' for lab, a in zip(labels, order)
    )
    prompt = runtime.prompts.load(settings.prompt)
    judge_messages = prompt.format_messages({
        "request": render_request(messages),
        "criteria": "\n".join(f"- {c}" for c in settings.criteria),
        "answers": shown,
        "labels": ", ".join(labels),
    }, cache=cache)
    max_tokens = call_max_tokens(app, alias, settings.max_tokens)
    needed = estimate_messages(judge_messages)
    if not fits(app, alias, needed, max_tokens):
        result["error"] = {"type": "InputTooLarge", "message": f"the answers (~{needed} tokens) do not fit judge "
                           f"model '{alias}''s window"}
        return result

    schema = verdict_schema(labels)
    model = runtime.factory.chat_model(alias, max_tokens=max_tokens, temperature=settings.temperature)
    structured = structured_output(model, cfg, schema, include_raw=True)
    # The judge's call is made here (structured output), so its checkpoints are placed here, for its model.
    placement = place(cfg.model_id, judge_messages)
    start = time.perf_counter()
    try:
        reply = call(lambda: structured.invoke(placement.messages, config=config))
    except Exception as exc:
        err = exc if isinstance(exc, ChainsError) else to_model_error(exc, cfg.model_id)
        result["latency_ms"] = _ms(start)
        result["error"] = {"type": err.type, "message": err.message, **_class_and_code(err)}
        logger.warning("judge failed", extra={"judge_model": alias, "error_type": err.type, **_class_and_code(err)})
        return result

    result["latency_ms"] = _ms(start)
    raw = reply.get("raw")
    if raw is not None:
        remember(placement, raw)
        result["usage"] = split_usage(getattr(raw, "usage_metadata", None) or {})
        result["cost_usd"] = round(call_cost(app, cfg.model_id, result["usage"]), 8)
        result["bedrock_latency_ms"] = bedrock_latency(raw)
    parsed = reply.get("parsed")
    if parsed is None:
        problem = reply.get("parsing_error")
        result["error"] = {"type": "JudgeReplyInvalid",
                           "message": f"the judge's reply did not match the verdict schema: {problem}"[:500]
                           if problem else "the judge answered without the verdict tool call"}
        logger.warning("judge reply invalid", extra={"judge_model": alias})
        return result
    scores = {}
    for lab, a in zip(labels, order):
        verdict: AnswerVerdict = getattr(parsed, f"answer_{lab}")
        scores[a] = {"label": lab, "score": verdict.score, "rationale": verdict.rationale[:RATIONALE_MAX_CHARS]}
    result["scores"] = scores
    return result


def _class_and_code(err: ChainsError) -> Dict[str, Any]:
    out = {}
    for key in ("error_class", "code"):
        value = err.details.get(key)
        if value is not None:
            out[key] = value
    if "error_class" not in out and err.type == "DeadlineExceeded":
        out["error_class"] = "deadline"
    return out


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)
