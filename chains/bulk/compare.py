"""Compare in bulk: every record on every compared model (one batch job per model), the judge as a second batch
pass, then one line per record in the compare chain's shape and a summary per model over the whole set.

Phase ``answer``: ``plan_compare`` plans each model's records with the model pinned (the chain's compare
settings pick the models, ``options.models`` overrides); groups under the per-job minimum, or of a model Bedrock
refuses batch jobs for, run on demand. Phase ``judge``: once every answer is collected, one judge record per input
record (answers anonymised and shuffled by a seed derived from the run and the record, as on demand), run as a
batch job for the judge model, or on demand when too few or refused. The final part joins answers and verdicts
per record (an evaluation set is held in memory for the join: thousands of records, not millions).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import chains.bulk._deps as _deps
import chains.bulk.manifest as mf
from chains.bulk.plan import BATCH, ON_DEMAND, REJECTED, Plan, Planned, batch_record_id, plan_records
from chains.bulk.converse import model_input
from chains.bulk.jobs import create_jobs
from chains.bulk.records import Record, dumps, load_records
from chains.bulk.results import failed
from chains.bulk.settings import bulk_settings
from chains.bulk.terms import terms_for

JUDGE = "judge"


def _settings(chain: Any) -> Any:
    return _deps.compare_settings(chain)


def compared_models(chain: Any, options: Optional[Mapping[str, Any]], models: Optional[Sequence[str]]) -> List[str]:
    cs = _settings(chain)
    names = list(models or (options or {}).get("models") or chain.cfg.models or cs.models or chain.settings.models)
    for alias in names:
        chain.settings.model(alias)  # UnknownModel (400) lists the configured ones
    return names


def plan_compare(chain: Any, recs: List[Record], options: Optional[Mapping[str, Any]],
                 models: Optional[Sequence[str]]) -> Plan:
    """One plan per compared model over the same records, merged: parts carry their model."""
    aliases = compared_models(chain, options, models)
    run_options = {k: v for k, v in (options or {}).items() if k not in ("models", "judge", "seed")}
    merged = Plan(records=len(recs), planned=[])
    planned_by_index: Dict[int, Planned] = {}
    rejected: Dict[int, Planned] = {}
    on_demand_by_alias: Dict[str, List[int]] = {}
    for alias in aliases:
        sub = plan_records(chain, recs, run_options, pin=alias)
        for job in sub.jobs:
            job.tag = "a"
        merged.jobs.extend(sub.jobs)
        merged.estimate_usd += sub.estimate_usd
        merged.on_demand_estimate_usd += sub.on_demand_estimate_usd
        merged.reasons.update(sub.reasons)
        on_demand_by_alias[alias] = list(sub.on_demand)
        for p in sub.planned:
            planned_by_index.setdefault(p.index, p)
            if p.mode == REJECTED and p.index not in rejected:
                rejected[p.index] = p
    merged.planned = [planned_by_index[i] for i in range(len(recs))]
    merged.rejected = sorted(rejected)
    merged.on_demand = sorted({i for v in on_demand_by_alias.values() for i in v})
    cs = _settings(chain)
    judge_on = (options or {}).get("judge", cs.judge.enabled)
    merged.compare = {
        "models": aliases, "judge": bool(judge_on), "judge_model": cs.judge.model,
        "seed": (options or {}).get("seed"), "judge_planned": False, "on_demand_by_alias": on_demand_by_alias,
    }
    return merged


def answer_chain(chain: Any, alias: str, prompt: Optional[str] = None) -> Any:
    """The compare chain's prompt (or ``options.prompt``) on one model, no fallback: what each compared branch
    runs on demand."""
    prompt = prompt or chain.cfg.prompt
    cache = _deps.bulk_state(chain.runtime).setdefault("answer_chains", {})
    if (chain.name, alias, prompt) not in cache:
        cfg = _deps.ChainConfig(prompt=prompt, strategy="single", model=alias, description=chain.cfg.description)
        cache[(chain.name, alias, prompt)] = _deps.BedrockChain(f"{chain.name}.{alias}", cfg, chain.runtime,
                                                                _deps.single_strategy)
    return cache[(chain.name, alias, prompt)]


# --- the judge pass ----------------------------------------------------------------------------------------------


def _answers(store: Any, manifest: Dict[str, Any]) -> Dict[int, Dict[str, Dict[str, Any]]]:
    """index -> alias -> the answer result (answer parts only)."""
    out: Dict[int, Dict[str, Dict[str, Any]]] = {}
    for part in manifest["parts"]:
        if part.get("phase", "answer") != "answer" or part["kind"] == REJECTED:
            continue
        for line in store.iter_lines(mf.results_key(part)):
            r = json.loads(line)
            alias = part.get("alias") or (r.get("route") or {}).get("model")
            out.setdefault(r["bulk"]["index"], {})[alias] = r
    return out


def _judge_messages(chain: Any, record: Record, answers: Dict[str, str], seed: int,
                    prompt: Optional[str] = None) -> tuple:
    anonymise, label, render_request = _deps.anonymise, _deps.label, _deps.render_request
    cs = _settings(chain)
    app = chain.settings
    order = _deps.shuffled_order(list(answers), seed)
    labels = [label(i) for i in range(len(order))]
    names = [n for a, m in app.models.items() for n in (a, m.model_id)]
    shown = "\n\n".join(f'<answer label="{lab}">\n{anonymise(answers[a], names)}\n</answer>'
                        for lab, a in zip(labels, order))
    request = chain.parse(record.payload({"prompt": prompt} if prompt else {}))
    compared = request.prompt.format_messages(request.inputs)
    messages = chain.runtime.prompts.load(cs.judge.prompt).format_messages({
        "request": render_request(compared), "criteria": "\n".join(f"- {c}" for c in cs.judge.criteria),
        "answers": shown, "labels": ", ".join(labels),
    })
    return messages, order, labels


def plan_judge(runtime: Any, store: Any, manifest: Dict[str, Any]) -> None:
    """Write the judge records and add the judge part(s) to the manifest (once)."""
    derive_seed, verdict_schema = _deps.derive_seed, _deps.verdict_schema
    info = manifest["compare"]
    chain = _deps.get_chain(manifest["chain"], runtime)
    cs = _settings(chain)
    alias = cs.judge.model
    answers = _answers(store, manifest)
    wanted = {i for i, by in answers.items() if sum(1 for r in by.values() if r.get("ok")) >= 1}
    records = load_records(store, wanted)
    cfg = chain.settings.model(alias)
    max_tokens = min(cs.judge.max_tokens, cfg.max_output_tokens)
    model = runtime.factory.chat_model(alias, max_tokens=max_tokens, temperature=cs.judge.temperature)
    lines: List[str] = []
    routes: List[str] = []
    indices: List[int] = []
    for i in sorted(wanted):
        texts = {a: r["output"] for a, r in answers[i].items() if r.get("ok")}
        seed, _ = derive_seed(info.get("seed"), f"{manifest['run_id']}:{records[i].record_id}", {}, "", list(texts))
        messages, order, labels = _judge_messages(chain, records[i], texts, seed,
                                                  (manifest.get("options") or {}).get("prompt"))
        schema = verdict_schema(labels)
        body = model_input(model, messages, max_tokens)
        # Structured output as on demand: the verdict schema as the one tool the judge must call.
        params = model._converse_params(tools=[schema], toolChoice={"tool": {"name": schema.__name__}})
        body["toolConfig"] = params["toolConfig"]
        lines.append(dumps({"recordId": batch_record_id(i), "modelInput": body}))
        routes.append(dumps({"recordId": batch_record_id(i), "route": {
            "model": alias, "reason": f"judge ({cs.judge.prompt}) over {len(order)} anonymised answers",
            "candidates": [alias], "order": order, "labels": labels, "seed": seed}}))
        indices.append(i)
    terms = terms_for(chain.settings, alias)
    name_base = f"{manifest['run_id'][:40]}-judge"
    parts = manifest["parts"]
    if indices and terms.batch and len(indices) >= terms.min_records:
        base = f"jobs/{name_base}"
        store.put_lines(f"{base}/input.jsonl", iter(lines))
        store.put_lines(f"{base}/routes.jsonl", iter(routes))
        parts.append({"name": name_base, "kind": BATCH, "phase": JUDGE, "alias": alias, "model_id": cfg.model_id,
                      "indices": indices, "records": len(indices), "input": f"{base}/input.jsonl",
                      "routes": f"{base}/routes.jsonl", "output": f"{base}/output/", "arn": None, "status": None,
                      "collected": False})
    elif indices:
        why = (terms.why_not or f"{len(indices)} judge record(s): fewer than the {terms.min_records} a batch job "
               f"needs") + "; judged on demand"
        base = f"jobs/{name_base}"
        store.put_lines(f"{base}/routes.jsonl", iter(routes))
        parts.append({"name": f"{name_base}-on-demand", "kind": ON_DEMAND, "phase": JUDGE, "alias": alias,
                      "model_id": cfg.model_id, "indices": indices, "records": len(indices),
                      "routes": f"{base}/routes.jsonl", "reasons": [why], "collected": False})
    info["judge_planned"] = True
    mf.save(store, manifest)
    create_jobs(runtime, store, manifest)


def judge_on_demand(runtime: Any, store: Any, manifest: Dict[str, Any], part: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """The judge records of ``part`` on demand (structured output, bounded concurrency)."""
    from langchain_core.runnables import RunnableLambda


    verdict_schema, call_cost = _deps.verdict_schema, _deps.call_cost

    chain = _deps.get_chain(manifest["chain"], runtime)
    cs = _settings(chain)
    cfg = chain.settings.model(part["alias"])
    routes = {}
    for line in store.iter_lines(part["routes"]):
        e = json.loads(line)
        routes[int(e["recordId"][1:])] = e["route"]
    answers = _answers(store, manifest)
    records = load_records(store, set(part["indices"]))
    model = runtime.factory.chat_model(part["alias"], max_tokens=min(cs.judge.max_tokens, cfg.max_output_tokens),
                                       temperature=cs.judge.temperature)

    def judge_one(i: int) -> Dict[str, Any]:
        route = routes[i]
        texts = {a: r["output"] for a, r in answers[i].items() if r.get("ok")}
        messages, _, labels = _judge_messages(chain, records[i], texts, route["seed"],
                                              (manifest.get("options") or {}).get("prompt"))
        structured = model.with_structured_output(verdict_schema(labels), include_raw=True)
        bulk = {"mode": ON_DEMAND, "index": i, "phase": JUDGE, "reason": "; ".join(part.get("reasons") or [])}
        try:
            reply = structured.invoke(messages)
        except Exception as exc:
            return failed(records[i].record_id, bulk, _deps.to_model_error(exc, cfg.model_id), route)
        raw = reply.get("raw")
        u = getattr(raw, "usage_metadata", None) or {}
        usage = {k: int(u.get(k, 0) or 0) for k in ("input_tokens", "output_tokens", "total_tokens")}
        cost = call_cost(chain.settings, cfg.model_id, usage)
        parsed = reply.get("parsed")
        out = {"record_id": records[i].record_id, "ok": parsed is not None, "route": route, "usage": usage,
               "cost_usd": round(cost, 8), "on_demand_cost_usd": round(cost, 8), "bulk": bulk}
        if parsed is not None:
            out["tool_calls"] = [{"name": "ScoreAnswers", "args": parsed.model_dump()}]
        else:
            out["error"] = {"type": "JudgeReplyInvalid", "message": "the judge answered without a valid verdict",
                            "status": 502}
        return out

    values = RunnableLambda(judge_one).batch(
        part["indices"], config={"max_concurrency": bulk_settings(runtime.settings).on_demand_concurrency})
    yield from values


# --- the joined result ---------------------------------------------------------------------------------------------


def _scores(judge: Optional[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    if not judge or not judge.get("ok") or not judge.get("tool_calls"):
        return {}
    args = judge["tool_calls"][0]["args"]
    route = judge.get("route") or {}
    out = {}
    for lab, alias in zip(route.get("labels") or [], route.get("order") or []):
        verdict = args.get(f"answer_{lab}") or {}
        if isinstance(verdict, dict) and isinstance(verdict.get("score"), (int, float)):
            out[alias] = {"label": lab, "score": int(verdict["score"]),
                          "rationale": str(verdict.get("rationale", ""))[:400]}
    return out


def final_results(runtime: Any, store: Any, manifest: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    info = manifest["compare"]
    aliases = info["models"]
    answers = _answers(store, manifest)
    judges: Dict[int, Dict[str, Any]] = {}
    rejected: Dict[int, Dict[str, Any]] = {}
    for part in manifest["parts"]:
        if part.get("phase") == JUDGE:
            for line in store.iter_lines(mf.results_key(part)):
                r = json.loads(line)
                judges[r["bulk"]["index"]] = r
        elif part["kind"] == REJECTED:
            for line in store.iter_lines(mf.results_key(part)):
                r = json.loads(line)
                rejected[r["bulk"]["index"]] = r
    ids = manifest["record_ids"]
    for i, record_id in enumerate(ids):
        if i in rejected and i not in answers:
            yield rejected[i]
            continue
        by = answers.get(i, {})
        judge = judges.get(i)
        scores = _scores(judge)
        entries = []
        for alias in aliases:
            r = by.get(alias)
            if r is None:
                entries.append({"alias": alias, "status": "skipped", "skip_reason": "refused for this model"})
                continue
            e = {"alias": alias, "model": r.get("model"), "status": "ok" if r.get("ok") else "error",
                 "mode": r["bulk"]["mode"]}
            if r.get("ok"):
                e.update(output=r["output"], usage=r["usage"], cost_usd=r["cost_usd"],
                         on_demand_cost_usd=r.get("on_demand_cost_usd"), stop_reason=r.get("stop_reason"))
                e.update(scores.get(alias, {}))
            else:
                e["error"] = r.get("error")
            entries.append(e)
        ok = [e for e in entries if e["status"] == "ok"]
        usage = {k: sum(e["usage"][k] for e in ok) for k in ("input_tokens", "output_tokens", "total_tokens")}
        cost = sum(e["cost_usd"] for e in ok)
        od = sum(e.get("on_demand_cost_usd") or 0.0 for e in ok)
        jdict: Dict[str, Any] = {"enabled": bool(info.get("judge")), "model": info.get("judge_model"),
                                 "scores": scores or None}
        if judge is not None:
            for k in ("input_tokens", "output_tokens", "total_tokens"):
                usage[k] += int((judge.get("usage") or {}).get(k, 0))
            cost += float(judge.get("cost_usd") or 0.0)
            od += float(judge.get("on_demand_cost_usd") or 0.0)
            jdict.update(mode=judge["bulk"]["mode"], order=(judge.get("route") or {}).get("order"),
                         seed=(judge.get("route") or {}).get("seed"), cost_usd=judge.get("cost_usd"))
            if not judge.get("ok"):
                jdict["error"] = judge.get("error")
        out: Dict[str, Any] = {"record_id": record_id, "ok": bool(ok)}
        if ok:
            best = sorted(ok, key=lambda e: (-e.get("score", 0), e["cost_usd"], aliases.index(e["alias"])))[0]
            why = (f"best judge score ({best['score']}/10)" if scores else "the first compared model that answered")
            out.update(output=best["output"], model=best["model"], stop_reason=best.get("stop_reason"),
                       route={"model": best["alias"], "reason": why, "candidates": aliases, "strategy": "compare"})
        else:
            out["error"] = {"type": "AllModelsFailed", "message": "no compared model answered this record",
                            "status": 503, "attempts": [e.get("error") for e in entries]}
        out.update(attempts=[], results=entries, judge=jdict, usage=usage, cost_usd=round(cost, 8),
                   on_demand_cost_usd=round(od, 8), bulk={"mode": "compare", "index": i})
        yield out


def finish_compare(runtime: Any, store: Any, manifest: Dict[str, Any]) -> Dict[str, Any]:
    """Per model over the whole set: answered, failed, mean judge score, tokens, cost (batch and on demand)."""
    per: Dict[str, Dict[str, Any]] = {a: {"answered": 0, "failed": 0, "scored": 0, "score_sum": 0, "input_tokens": 0,
                                          "output_tokens": 0, "cost_usd": 0.0, "on_demand_cost_usd": 0.0}
                                      for a in manifest["compare"]["models"]}
    judge_cost = 0.0
    for line in store.iter_lines(mf.results_key({"name": "compare"})):
        r = json.loads(line)
        judge_cost += float((r.get("judge") or {}).get("cost_usd") or 0.0)
        for e in r.get("results") or []:
            s = per.get(e["alias"])
            if s is None or e["status"] == "skipped":
                continue
            if e["status"] == "ok":
                s["answered"] += 1
                s["input_tokens"] += e["usage"]["input_tokens"]
                s["output_tokens"] += e["usage"]["output_tokens"]
                s["cost_usd"] += e["cost_usd"]
                s["on_demand_cost_usd"] += e.get("on_demand_cost_usd") or 0.0
                if "score" in e:
                    s["scored"] += 1
                    s["score_sum"] += e["score"]
            else:
                s["failed"] += 1
    models = {}
    for alias, s in per.items():
        models[alias] = {"answered": s["answered"], "failed": s["failed"],
                         "mean_score": round(s["score_sum"] / s["scored"], 3) if s["scored"] else None,
                         "input_tokens": s["input_tokens"], "output_tokens": s["output_tokens"],
                         "cost_usd": round(s["cost_usd"], 6), "on_demand_cost_usd": round(s["on_demand_cost_usd"], 6)}
    return {"models": models, "judge_model": manifest["compare"].get("judge_model"),
            "judge_cost_usd": round(judge_cost, 6)}
