"""The Emulator: one request handler shared by the in-process hook and the HTTP server.

``handle(method, path, headers, body)`` takes what arrived on the wire and returns a
Reply (status, headers, body bytes or a paced stream of frames).  Both transports only
move bytes, so they cannot disagree about behaviour.
"""
from __future__ import annotations

import base64
import collections
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from . import answers, converse, eventstream, faults as faults_mod, providers, validation
from . import cache as cache_mod, features, guardrails as guardrails_mod, tiers
from .catalogue import LEGACY, PROMPT_ROUTER, Catalogue, load_catalogue, region_from_headers
from .catalogue_errors import LegacyInactive, ModelUnavailable
from .control_plane import ControlPlane
from .prompt_router import route_prompt
from .errors import STREAMABLE, BedrockError, MissingAuthorization, lower_camel
from .faults import FaultRule, FaultSet
from .profiles import ModelProfile, load_profiles, resolve, to_catalogue_extra

_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke|"
                   r"invoke-with-response-stream|count-tokens)/?$")
OPERATIONS = {
    "converse": "Converse", "converse-stream": "ConverseStream", "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream", "count-tokens": "CountTokens",
}
STREAMING = {"ConverseStream", "InvokeModelWithResponseStream"}
LIFECYCLE_ENV = "BEDROCK_LOCAL_LIFECYCLE"
EVENTSTREAM = "application/vnd.amazon.eventstream"
# The recent-calls log is bounded (issue 15: keeping every call leaked ~2.5 MB per 1,000 requests, and every
# HTTP body): the last MAX_CALLS calls, each with its parsed body only if the raw body is at most
# BODY_LIMIT bytes (keep_bodies=True keeps every body, False none, an int sets the limit).
MAX_CALLS = 1000
BODY_LIMIT = 16 * 1024
MALFORMED = "Malformed input request, please reformat your input and try again."


@dataclass
class CallRecord:
    operation: str
    model_id: str
    body: Any
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    status: int = 200
    stop_reason: str | None = None
    latency_ms: int = 0
    timestamp: float = field(default_factory=time.time)
    # What served and billed the call: the catalogue's base model id (an application profile or
    # a prompt router resolves to its model), the caller's region, and the on-demand cost in USD.
    resolved_model_id: str | None = None
    region: str | None = None
    cost_usd: float = 0.0
    # Size of the raw request body: ``body`` is None when the log did not keep it (see keep_bodies).
    body_bytes: int = 0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: Iterator[bytes] | None = None  # paced frames; sleeping happens while iterating

    def chunks(self) -> Iterator[bytes]:
        if self.stream is not None:
            yield from self.stream
        elif self.body:
            yield self.body


def error_reply(err: BedrockError) -> Reply:
    body = json.dumps({getattr(err, "body_key", "message"): err.message}).encode()
    return Reply(err.status, {
        "Content-Type": "application/json",
        # Real AWS appends a namespace after ':'; botocore strips it.
        "x-amzn-ErrorType": f"{err.code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()),
        "Content-Length": str(len(body)),
    }, body)


class Emulator:
    """One emulated Bedrock account: runtime and control plane.

    ``profiles`` (config.yaml entries) lay limits and latency over the catalogue's models.
    ``lifecycle=False`` turns off end-of-life refusals (for callers still configured with
    retired ids); ``None`` (the default) reads $BEDROCK_LOCAL_LIFECYCLE ("0"/"off"/"false"
    turn it off) and is on otherwise, as on Bedrock.  ``region`` is used when a request's
    region cannot be read from its SigV4 credential scope or Host.  ``guardrails`` are the
    guardrail ids that exist (id -> definition).

    Batch inference (the control plane's model-invocation jobs) reads and writes S3 through boto3:
    ``s3_client`` is a boto3 S3 client or a zero-argument factory returning one, ``s3_endpoint_url`` a
    shortcut for a client on that endpoint; by default boto3's usual configuration applies (so
    ``AWS_ENDPOINT_URL_S3`` works).  ``batch_seconds`` is how long each job phase lasts (default
    ``$BEDROCK_LOCAL_BATCH_SECONDS`` or 0.05 s: seconds, not hours).  ``max_calls`` and ``keep_bodies``
    bound the recent-calls log.
    """

    def __init__(self, profiles: Mapping[str, ModelProfile] | str | None = None,
                 faults: Iterable[FaultRule] | None = None, seed: int = 0,
                 latency_scale: float = 0.0, *, lifecycle: bool | None = None,
                 catalogue: Catalogue | None = None, region: str = "us-east-1",
                 account_id: str = "123456789012", guardrails: Any = None, clock: Any = None,
                 max_calls: int = MAX_CALLS, keep_bodies: bool | int = BODY_LIMIT, s3_client: Any = None,
                 s3_endpoint_url: str | None = None, batch_seconds: float | None = None):
        # guardrails: {id: definition}, a list of definitions, JSON/YAML text or a file path
        # (guardrails.py documents the format; None: $BEDROCK_LOCAL_GUARDRAILS).
        # clock: seconds for the prompt cache's TTLs (tests inject one to expire entries).
        # A path (str/Path) to config.yaml is accepted too, for convenience.
        if profiles is None or isinstance(profiles, Mapping):
            self.profiles = dict(profiles) if profiles is not None else load_profiles(None)
        else:
            self.profiles = load_profiles(profiles)
        base = catalogue if catalogue is not None else load_catalogue(None)
        self.catalogue = base.extended(to_catalogue_extra(self.profiles))
        if lifecycle is None:
            lifecycle = os.environ.get(LIFECYCLE_ENV, "1").strip().lower() not in ("0", "off", "false", "no")
        self.lifecycle = lifecycle
        self.region = region
        self.control = ControlPlane(self.catalogue, account_id)
        # Guardrail id -> Guardrail (guardrails.py): request_fields refuses ids not configured,
        # features.py applies the guardrail to input and output.
        self.guardrails = guardrails_mod.GuardrailSet(
            guardrails_mod.load(guardrails) if guardrails is not None else guardrails_mod.from_env())
        self.prompt_cache = cache_mod.PromptCache(clock or time.monotonic)
        if faults is None:
            faults = faults_mod.rules_from_env()
        self.faults = FaultSet(faults, seed=seed)
        self.seed = seed
        self.latency_scale = latency_scale
        self._calls: collections.deque[CallRecord] = collections.deque(maxlen=max(0, int(max_calls)))
        self._calls_lock = threading.Lock()
        self.keep_bodies = keep_bodies
        from .batch import BatchJobs  # no boto3 here: S3 is reached only when a job runs

        self.batch = BatchJobs(self, s3_client=s3_client, s3_endpoint_url=s3_endpoint_url,
                               seconds=batch_seconds)

    # ----------------------------------------------------------------- faults / records
    def add_fault(self, model: str = "*", error: str | None = None, rate: float | None = None,
                  first_n: int | None = None, latency_ms: float = 0,
                  stream_cut_after: int | None = None, malformed: bool = False,
                  message: str | None = None, empty: bool = False,
                  legacy_inactive: bool = False, service_tier: str | None = None,
                  operation: str | None = None) -> FaultRule:
        return self.faults.add(FaultRule(model, error, rate, first_n, latency_ms,
                                         stream_cut_after, malformed, message, empty, legacy_inactive,
                                         service_tier, operation))

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def calls(self) -> list[CallRecord]:
        """A snapshot of the recent-calls log, oldest first (at most ``max_calls`` entries)."""
        with self._calls_lock:
            return list(self._calls)

    def calls_for(self, model: str) -> list[CallRecord]:
        out = []
        for c in self.calls:
            p = resolve(c.model_id, self.profiles)
            if model in c.model_id or (p is not None and model in (p.alias, p.model_id)) \
                    or (c.resolved_model_id is not None and model in c.resolved_model_id):
                out.append(c)
        return out

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def _keeps(self, size: int) -> bool:
        keep = self.keep_bodies
        if keep is True or keep is False:
            return keep
        return size <= int(keep)

    def _record(self, rec: CallRecord, raw: bytes | None = None) -> None:
        if raw is not None:
            rec.body_bytes = len(raw)
            if not self._keeps(len(raw)):
                rec.body = None
        with self._calls_lock:
            self._calls.append(rec)

    # ----------------------------------------------------------------- transports
    def attach(self, client: Any) -> Any:
        from .inprocess import attach

        return attach(self, client)

    def serve(self, host: str = "127.0.0.1", port: int = 0, idle_timeout: float | None = None):
        from .server import LocalServer

        return LocalServer(self, host, port, idle_timeout=idle_timeout)

    # ----------------------------------------------------------------- request handling
    def _sleep(self, ms: float, scaled: bool = True) -> None:
        seconds = ms * (self.latency_scale if scaled else 1.0) / 1000.0
        if seconds > 0:
            time.sleep(seconds)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request; never raises (a bug answers 500, a body of the wrong shape 400)."""
        try:
            parsed = urllib.parse.urlsplit(path)
            lowered = {k.lower(): v for k, v in headers.items()}
            reply = self.batch.route(method, parsed.path, parsed.query, lowered, body)
            if reply is not None:
                return reply
            control = ControlPlane.match(method, parsed.path)
            if control is not None:
                return self._control(control, parsed, lowered, body)
            m = _PATH.match(parsed.path)
            if method != "POST" or not m:
                return error_reply(BedrockError("UnknownOperationException",
                                                "Unknown operation", status=404))
            operation = OPERATIONS[m.group("action")]
            model_id = urllib.parse.unquote(m.group("model"))
            return self.run_operation(operation, model_id, lowered, body)[0]
        except Exception:  # noqa: BLE001 - the caller gets an answer, never a dropped connection
            return error_reply(BedrockError("InternalServerException"))

    def run_operation(self, operation: str, model_id: str, headers: Mapping[str, str], body: bytes,
                      pace: bool = True, fault_operation: str | None = None) -> tuple[Reply, CallRecord]:
        """One runtime operation on raw body bytes: what the wire path and batch records share.

        ``headers`` are lower-cased.  ``pace=False`` skips every sleep (batch records are not paced
        like on-demand calls); ``fault_operation`` is "batch_record" for batch records, so rules
        scoped to it apply.
        """
        region = region_from_headers(headers, self.region)
        rec = CallRecord(operation, model_id, None, region=region)
        try:
            rec.body = json.loads(body or b"{}")
        except ValueError:
            rec.body = body
        try:
            if "authorization" not in headers:  # no SigV4 / bearer Authorization
                raise MissingAuthorization()
            if not isinstance(rec.body, dict) or _lone_surrogate(body, rec.body):
                raise validation.validation(MALFORMED)
            resolved, refusal = self._resolve(model_id, region)
            entry = resolved.entry if resolved is not None else self.catalogue.base_of(model_id)
            decision = self.faults.decide(model_id, ModelProfile.from_entry(entry) if entry else None,
                                          tiers.requested_tier(rec.body), fault_operation)
            if decision.latency_ms and pace:
                self._sleep(decision.latency_ms, scaled=False)
            if decision.error and not (operation in STREAMING and decision.stream_cut_after is not None
                                       and decision.error in STREAMABLE):
                raise BedrockError(decision.error, decision.message)
            if refusal is not None:
                raise refusal
            if decision.legacy_inactive and entry.lifecycle_in(region).status == LEGACY:
                raise LegacyInactive()
            trace = None
            if resolved.addressed_as == PROMPT_ROUTER:
                entry, trace = self._route(resolved, rec.body, region)
            rec.resolved_model_id = entry.id
            try:
                reply = self._dispatch(operation, model_id, entry, rec, decision, headers, trace, pace)
            except BedrockError:
                raise
            except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
                # JSON of the wrong shape (a list where an object belongs, a lone surrogate that
                # cannot be encoded, ...): Bedrock answers 400, never a dropped connection.
                raise validation.validation(MALFORMED) from exc
        except BedrockError as err:
            rec.error, rec.status = err.code, err.status
            self._record(rec, body)
            return error_reply(err), rec
        self._record(rec, body)
        return reply, rec

    def _resolve(self, model_id: str, region: str):
        try:
            return self.catalogue.resolve(model_id, region, application_profiles=self.control.application_profiles(),
                                          lifecycle=self.lifecycle), None
        except ModelUnavailable as err:
            return None, err

    def _route(self, resolved: Any, body: Any, region: str):
        """A prompt router picks one of its two models (prompt_router.route_prompt documents the rule)."""
        chosen = self.catalogue.get(route_prompt(resolved.router, body if isinstance(body, dict) else {}))
        pid = chosen.profile_for(region)
        account = self.control.account_id
        invoked = (f"arn:aws:bedrock:{region}:{account}:inference-profile/{pid}" if pid
                   else f"arn:aws:bedrock:{region}::foundation-model/{chosen.id}")
        return chosen, {"promptRouter": {"invokedModelId": invoked}}

    def _control(self, match: tuple[str, dict[str, str]], parsed: Any, headers: Mapping[str, str],
                 body: bytes) -> Reply:
        operation, params = match
        try:
            if "authorization" not in headers:
                raise MissingAuthorization()
            region = region_from_headers(headers, self.region)
            status, payload = self.control.handle(operation, params, urllib.parse.parse_qs(parsed.query),
                                                  body, region)
        except BedrockError as err:
            return error_reply(err)
        reply = _json_reply(payload, False)
        reply.status = status
        return reply

    def _dispatch(self, operation: str, model_id: str, entry: Any, rec: CallRecord,
                  decision: faults_mod.Decision, headers: Mapping[str, str], trace: Any = None,
                  pace: bool = True) -> Reply:
        profile = ModelProfile.from_entry(entry)
        region = rec.region or self.region
        if operation == "CountTokens":
            request = _count_tokens_request(rec.body, profile)
            rec.input_tokens = validation.validate(request, entry, region, self.guardrails)
            return _json_reply({"inputTokens": rec.input_tokens}, decision.malformed)
        if operation in ("Converse", "ConverseStream"):
            request = rec.body
            fmt = None
        else:
            fmt = providers.detect(rec.body, profile)
            request = providers.to_converse(rec.body, fmt)
        rec.input_tokens = validation.validate(request, entry, region, self.guardrails)
        outcome = features.run(request, model_id, entry, rec.input_tokens,
                               prompt_cache=self.prompt_cache, guards=self.guardrails)
        completion, extras, rec.input_tokens = outcome.completion, outcome.extras, outcome.input_tokens
        if trace:  # the prompt router's, next to the guardrail's
            extras.trace = {**trace, **(extras.trace or {})}
        if decision.empty:
            completion = answers.Completion(blocks=[], stop_reason="end_turn", output_tokens=0)
        rec.output_tokens, rec.stop_reason = completion.output_tokens, completion.stop_reason
        latency = int(round(profile.latency_ms(completion.output_tokens) + decision.latency_ms))
        rec.latency_ms = latency
        # Billed as the model that served it (an application profile or router is not a price).
        cached = extras.cache_read + extras.cache_write
        rec.cost_usd = entry.price.cost(rec.input_tokens - cached, rec.output_tokens, extras.cache_read,
                                        extras.cache_write, tiers.requested_tier(request),
                                        cache_write_1h=extras.cache_write_ttl == "1h")
        if operation == "Converse":
            if pace:
                self._sleep(profile.latency_ms(completion.output_tokens))
            out = converse.converse_body(completion, rec.input_tokens, latency, extras)
            return _json_reply(out, decision.malformed)
        if operation == "InvokeModel":
            if pace:
                self._sleep(profile.latency_ms(completion.output_tokens))
            out = providers.invoke_body(fmt, completion, rec.input_tokens, model_id,
                                        extras.cache_read, extras.cache_write, extras.cache_fields)
            reply = _json_reply(out, decision.malformed)
            reply.headers.update(providers.invoke_headers(completion, rec.input_tokens, latency))
            return reply
        if operation == "ConverseStream":
            events = converse.stream_events(completion, rec.input_tokens, latency, extras)
            frames = self._paced(events, profile, decision)
            return Reply(200, {"Content-Type": EVENTSTREAM, "x-amzn-RequestId": str(uuid.uuid4())},
                         stream=frames)
        chunks = (("chunk", {"bytes": base64.b64encode(json.dumps(p).encode()).decode()}, text)
                  for p, text in providers.stream_chunks(fmt, completion, rec.input_tokens,
                                                         model_id, latency))
        frames = self._paced(chunks, profile, decision)
        return Reply(200, {"Content-Type": EVENTSTREAM, "X-Amzn-Bedrock-Content-Type":
                           "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, stream=frames)

    def _paced(self, events: Iterable[tuple[str, dict, str]], profile: ModelProfile,
               decision: faults_mod.Decision) -> Iterator[bytes]:
        """Encode events as frames, sleeping first-token then per-token latency as they go."""
        from .tokens import estimate_tokens

        first = True
        for n, (etype, payload, text) in enumerate(events):
            if decision.stream_cut_after is not None and n >= decision.stream_cut_after:
                if decision.error in STREAMABLE:
                    yield eventstream.encode_exception(lower_camel(decision.error),
                                                       decision.message or
                                                       BedrockError(decision.error).message)
                return
            if first:
                self._sleep(profile.first_token_ms)
                first = False
            if text:
                self._sleep(profile.per_token_ms * estimate_tokens(text))
            if decision.malformed and etype in ("contentBlockDelta", "chunk"):
                yield eventstream.encode_event(etype, json.dumps(payload).encode()[:-7], raw=True)
                continue
            yield eventstream.encode_event(etype, payload)


def _json_reply(payload: Any, malformed: bool) -> Reply:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    if malformed:
        data = data[: max(1, len(data) // 2)]  # cut mid-document: not valid JSON
    return Reply(200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()),
                       "Content-Length": str(len(data))}, data)


def _count_tokens_request(body: Mapping[str, Any], profile: ModelProfile) -> Mapping[str, Any]:
    inp = body.get("input") or {}
    if "converse" in inp:
        return inp["converse"]
    if "invokeModel" in inp:
        raw = base64.b64decode(inp["invokeModel"].get("body") or b"")
        try:
            inner = json.loads(raw or b"{}")
        except ValueError:
            raise validation.validation(MALFORMED)
        return providers.to_converse(inner, providers.detect(inner, profile))
    raise validation.validation("The input field must contain either converse or invokeModel.")


def _lone_surrogate(raw: bytes, parsed: Any) -> bool:
    """True when the JSON escapes a lone UTF-16 surrogate (invalid Unicode: Bedrock answers 400)."""
    if b"\\ud" not in raw.lower():  # cheap test first: only escaped surrogates can produce one
        return False
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
