"""The model catalogue: which Bedrock models exist, how they are addressed, and what each accepts.

The data lives in ``catalogue.json`` next to this module (one entry per foundation model, with
a cited source per fact).  This module loads it into frozen dataclasses and answers the one
question every layer asks: *what does this modelId mean, called from this region?*

    cat = default_catalogue()
    r = cat.resolve("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us-east-1")
    r.entry.context_window, r.addressed_as, r.entry.price.cost(1000, 200)

``resolve`` raises the typed errors Bedrock answers with (see ``catalogue_errors``), so the
emulator renders them as they are and the service can classify them by class.

Stdlib only (the service and the emulator both import it; no network, no PyYAML).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from .catalogue_errors import (EndOfLife, InvalidModelIdentifier, OnDemandNotSupported)

DATA_FILE = Path(__file__).with_name("catalogue.json")

ACTIVE, LEGACY, END_OF_LIFE = "ACTIVE", "LEGACY", "END_OF_LIFE"

# How a request named its model (Resolved.addressed_as).
BARE = "bare"
SYSTEM_PROFILE = "system_profile"
APPLICATION_PROFILE = "application_profile"
PROMPT_ROUTER = "prompt_router"
FOUNDATION_MODEL_ARN = "foundation_model_arn"

_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:(?P<region>[^:]*):(?P<account>[^:]*):"
                  r"(?P<kind>foundation-model|inference-profile|application-inference-profile|"
                  r"default-prompt-router|prompt-router)/(?P<rest>.+)$")
_GEO = re.compile(r"^(us-gov|us|eu|apac|ca|jp|au|sa|global)\.")


def geos_for_region(region: str) -> tuple[str, ...]:
    """Geo prefixes of the system inference profiles a caller in ``region`` may use, best first.

    Geo profiles are served from the source regions of their geography only; ``global.`` from
    any commercial region (https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html).
    """
    r = (region or "").lower()
    if r.startswith("us-gov-"):
        return ("us-gov",)
    if r.startswith("us-"):
        return ("us", "global")
    if r.startswith("ca-"):
        return ("ca", "us", "global")
    if r.startswith("eu-"):
        return ("eu", "global")
    if r == "ap-northeast-1":
        return ("jp", "apac", "global")
    if r == "ap-southeast-2":
        return ("au", "apac", "global")
    if r.startswith("ap-"):
        return ("apac", "global")
    if r.startswith("sa-"):
        return ("sa", "us", "global")
    return ("global",)


_CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")
_HOST_REGION = re.compile(r"^bedrock(?:-runtime)?(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")


def region_from_headers(headers: Mapping[str, str], default: str = "us-east-1") -> str:
    """The caller's region: the SigV4 credential scope, else the Host, else ``default``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    m = _CREDENTIAL_REGION.search(lowered.get("authorization", ""))
    if m:
        return m.group("region")
    m = _HOST_REGION.match(lowered.get("host", ""))
    return m.group("region") if m else default


def _date(value: Any) -> _dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Lifecycle:
    status: str
    legacy_date: _dt.date | None = None
    eol_date: _dt.date | None = None

    def on(self, day: _dt.date) -> "Lifecycle":
        """The status on ``day``: with dates, they decide; without, the recorded status stands."""
        if self.eol_date is None and self.legacy_date is None:
            return self
        if self.eol_date is not None and day >= self.eol_date:
            status = END_OF_LIFE
        elif self.legacy_date is not None and day >= self.legacy_date:
            status = LEGACY
        else:
            status = ACTIVE
        return replace(self, status=status)


@dataclass(frozen=True)
class Price:
    """USD per 1K tokens (on-demand, us-east-1)."""
    input: float
    output: float
    batch_input: float | None = None
    batch_output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    tier_multipliers: Mapping[str, float] = field(default_factory=dict)

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0, tier: str = "default", batch: bool = False,
             cache_write_1h: bool = False) -> float:
        """What a call costs; ``input_tokens`` excludes the cached part, as Bedrock's usage does;
        ``cache_write_1h``: the writes had the 1-hour TTL (``cache_write_1h`` price, 2x input on Claude)."""
        if batch:
            i = self.batch_input if self.batch_input is not None else self.input / 2
            o = self.batch_output if self.batch_output is not None else self.output / 2
        else:
            mult = 1.0 if tier in ("default", "standard", None) else self.tier_multipliers.get(tier, 1.0)
            i, o = self.input * mult, self.output * mult
        read = self.cache_read if self.cache_read is not None else self.input
        write = self.cache_write if self.cache_write is not None else self.input
        if cache_write_1h and self.cache_write_1h is not None:
            write = self.cache_write_1h
        return (input_tokens * i + output_tokens * o + cache_read_tokens * read
                + cache_write_tokens * write) / 1000.0


@dataclass(frozen=True)
class PromptCaching:
    min_tokens: int
    max_checkpoints: int = 4
    ttls: tuple[str, ...] = ("5m",)
    fields: tuple[str, ...] = ("system", "messages", "tools")


@dataclass(frozen=True)
class Capabilities:
    text: bool = True
    vision: bool = False
    documents: bool = False
    tools: bool = True
    tool_choice: tuple[str, ...] = ("auto", "any", "tool")
    prompt_caching: PromptCaching | None = None
    reasoning: bool = False
    citations: bool = False
    guardrails: bool = True
    service_tiers: tuple[str, ...] = ("default",)
    latency_optimized: tuple[str, ...] = ()  # regions where performanceConfig latency=optimized is offered
    batch: bool = True
    count_tokens: bool = False
    streaming: bool = True
    input_modalities: tuple[str, ...] = ("TEXT",)
    output_modalities: tuple[str, ...] = ("TEXT",)


@dataclass(frozen=True)
class Overheads:
    """Input tokens Bedrock adds that the text of a request does not show."""
    tool_system_prompt: Mapping[str, int] = field(default_factory=dict)  # per toolChoice mode
    per_tool: int = 0            # on top of the tool's JSON definition
    image_constant: int | None = None
    image_formula: str | None = None  # "width*height/750"
    image_max_long_edge: int | None = None
    image_max_tokens: int | None = None
    document_per_page: int = 0   # binary documents (pdf, docx, ...); text formats count as text

    def tool_prompt(self, mode: str) -> int:
        return int(self.tool_system_prompt.get(mode, self.tool_system_prompt.get("auto", 0)))

    def image_tokens(self, width: int | None, height: int | None) -> int:
        if self.image_formula and width and height:
            w, h = width, height
            edge = self.image_max_long_edge
            if edge and max(w, h) > edge:  # resized to fit, keeping the aspect ratio
                scale = edge / max(w, h)
                w, h = max(1, int(w * scale)), max(1, int(h * scale))
            tokens = -(-w * h // 750)
            return min(tokens, self.image_max_tokens) if self.image_max_tokens else tokens
        if self.image_constant is not None:
            return self.image_constant
        return self.image_max_tokens or 0

    def document_tokens(self, pages: int) -> int:
        return self.document_per_page * max(1, pages)


@dataclass(frozen=True)
class ModelEntry:
    id: str
    provider: str
    name: str
    family: str
    context_window: int
    max_output_tokens: int
    capabilities: Capabilities
    overheads: Overheads
    price: Price
    lifecycle: Mapping[str, Lifecycle]            # "default" plus per-region overrides
    profiles: Mapping[str, str] = field(default_factory=dict)  # geo -> system profile id
    on_demand_regions: tuple[str, ...] = ()       # regions where the bare id may be invoked; "*" = all
    regions: tuple[str, ...] = ()                 # regions where the model is listed
    launch_date: _dt.date | None = None
    successor: str | None = None
    first_token_ms: float = 0.0
    per_token_ms: float = 0.0
    alias: str | None = None                      # config.yaml key that configured it, if any
    sources: Mapping[str, str] = field(default_factory=dict)

    # -------------------------------------------------------------- derived facts
    @property
    def model_id(self) -> str:  # the name ModelProfile callers know
        return self.id

    @property
    def provider_key(self) -> str:
        """'anthropic', 'amazon', ... : decides the InvokeModel body format."""
        return self.id.split(".", 1)[0]

    def lifecycle_in(self, region: str, on: _dt.date | None = None) -> Lifecycle:
        lc = self.lifecycle.get(region) or self.lifecycle.get("default") or Lifecycle(ACTIVE)
        return lc.on(on or _dt.date.today())

    def profile_for(self, region: str) -> str | None:
        """The system inference profile a caller in ``region`` would use (geo first, then global)."""
        for geo in geos_for_region(region):
            if geo in self.profiles:
                return self.profiles[geo]
        return None

    def on_demand_in(self, region: str) -> bool:
        return "*" in self.on_demand_regions or region in self.on_demand_regions

    def latency_ms(self, output_tokens: int) -> float:
        return self.first_token_ms + self.per_token_ms * output_tokens

    def inference_types(self) -> list[str]:
        types = []
        if self.on_demand_regions:
            types.append("ON_DEMAND")
        if self.profiles:
            types.append("INFERENCE_PROFILE")
        return types or ["PROVISIONED"]


@dataclass(frozen=True)
class PromptRouter:
    id: str                 # "anthropic.claude:1"
    name: str
    family: str
    models: tuple[str, str]  # (cheaper, stronger) base ids
    fallback: str
    response_quality_difference: float
    source: str = ""

    def arn(self, region: str, account: str) -> str:
        return f"arn:aws:bedrock:{region}:{account}:default-prompt-router/{self.id}"


@dataclass(frozen=True)
class Resolved:
    entry: ModelEntry
    addressed_as: str            # BARE | SYSTEM_PROFILE | APPLICATION_PROFILE | PROMPT_ROUTER | FOUNDATION_MODEL_ARN
    requested: str               # the modelId as the caller sent it (URL-decoded)
    region: str
    profile_id: str | None = None  # the system profile, when one was used
    router: PromptRouter | None = None
    application_profile_arn: str | None = None

    @property
    def base_id(self) -> str:
        return self.entry.id


# ---------------------------------------------------------------------- parsing the data file
def _lifecycles(raw: Mapping[str, Any]) -> dict[str, Lifecycle]:
    def one(d: Mapping[str, Any]) -> Lifecycle:
        return Lifecycle(str(d.get("status", ACTIVE)), _date(d.get("legacy_date")), _date(d.get("eol_date")))

    out = {"default": one(raw.get("default") or {})}
    for region, d in (raw.get("regions") or {}).items():
        out[region] = one(d)
    return out


def _capabilities(raw: Mapping[str, Any]) -> Capabilities:
    pc = raw.get("prompt_caching")
    caching = None
    if pc:
        caching = PromptCaching(int(pc["min_tokens"]), int(pc.get("max_checkpoints", 4)),
                                tuple(pc.get("ttls", ("5m",))), tuple(pc.get("fields", ("system", "messages", "tools"))))
    tuples = ("tool_choice", "service_tiers", "latency_optimized", "input_modalities", "output_modalities")
    kwargs = {k: (tuple(v) if k in tuples else v) for k, v in raw.items()
              if k in Capabilities.__dataclass_fields__ and k != "prompt_caching"}
    return Capabilities(prompt_caching=caching, **kwargs)


def _overheads(raw: Mapping[str, Any]) -> Overheads:
    img = raw.get("image") or {}
    return Overheads(tool_system_prompt=dict(raw.get("tool_system_prompt") or {}),
                     per_tool=int(raw.get("per_tool", 0)),
                     image_constant=img.get("constant"), image_formula=img.get("formula"),
                     image_max_long_edge=img.get("max_long_edge"), image_max_tokens=img.get("max_tokens"),
                     document_per_page=int((raw.get("document") or {}).get("per_page", 0)))


def _price(raw: Mapping[str, Any]) -> Price:
    return Price(float(raw["input"]), float(raw["output"]), raw.get("batch_input"), raw.get("batch_output"),
                 raw.get("cache_read"), raw.get("cache_write"), raw.get("cache_write_1h"),
                 dict(raw.get("tier_multipliers") or {}))


def entry_from_dict(raw: Mapping[str, Any]) -> ModelEntry:
    """A ModelEntry from one catalogue.json record (also the format config.yaml may use with ``id``)."""
    lat = raw.get("latency") or {}
    return ModelEntry(
        id=str(raw["id"]), provider=str(raw.get("provider", raw["id"].split(".", 1)[0])),
        name=str(raw.get("name", raw["id"])), family=str(raw.get("family", raw["id"].split("-", 1)[0])),
        context_window=int(raw["context_window"]), max_output_tokens=int(raw["max_output_tokens"]),
        capabilities=_capabilities(raw.get("capabilities") or {}),
        overheads=_overheads(raw.get("overheads") or {}),
        price=_price(raw.get("prices") or {"input": 0.0, "output": 0.0}),
        lifecycle=_lifecycles(raw.get("lifecycle") or {}),
        profiles=dict(raw.get("profiles") or {}),
        on_demand_regions=tuple(raw.get("on_demand_regions") or ()),
        regions=tuple(raw.get("regions") or ()),
        launch_date=_date(raw.get("launch_date")), successor=raw.get("successor"),
        first_token_ms=float(lat.get("first_token_ms", 0)), per_token_ms=float(lat.get("per_token_ms", 0)),
        alias=raw.get("alias"), sources=dict(raw.get("sources") or {}),
    )


def _router_from_dict(raw: Mapping[str, Any]) -> PromptRouter:
    return PromptRouter(str(raw["id"]), str(raw["name"]), str(raw["family"]), tuple(raw["models"]),
                        str(raw["fallback"]), float(raw.get("response_quality_difference", 0.25)),
                        str(raw.get("source", "")))


# ---------------------------------------------------------------------- the catalogue
class Catalogue:
    """Immutable after construction; safe to share between threads."""

    def __init__(self, entries: Iterable[ModelEntry], routers: Iterable[PromptRouter] = ()):
        self._entries: dict[str, ModelEntry] = {}
        for e in entries:
            self._entries[e.id] = e
        self._profiles: dict[str, tuple[ModelEntry, str]] = {}
        for e in self._entries.values():
            for geo, pid in e.profiles.items():
                self._profiles[pid] = (e, geo)
        self.routers: dict[str, PromptRouter] = {r.id: r for r in routers}

    # ------------------------------------------------------------------ lookups
    def get(self, base_id: str) -> ModelEntry | None:
        return self._entries.get(base_id)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def by_alias(self, alias: str) -> ModelEntry | None:
        for e in self._entries.values():
            if e.alias == alias:
                return e
        return None

    def system_profiles(self) -> dict[str, tuple[ModelEntry, str]]:
        """Every system-defined inference profile id -> (model, geo)."""
        return dict(self._profiles)

    def base_of(self, model_id: str) -> ModelEntry | None:
        """The entry behind a bare id, a system profile id or an ARN of either; no checks."""
        mid = urllib.parse.unquote(model_id or "")
        m = _ARN.match(mid)
        if m and m.group("kind") in ("foundation-model", "inference-profile"):
            mid = m.group("rest")
        if mid in self._entries:
            return self._entries[mid]
        hit = self._profiles.get(mid)
        return hit[0] if hit else None

    # ------------------------------------------------------------------ resolve
    def resolve(self, model_id: str, region: str = "us-east-1", *,
                application_profiles: Mapping[str, str] | None = None,
                lifecycle: bool = True, on: _dt.date | None = None) -> Resolved:
        """What ``model_id`` names when called from ``region``; raises Bedrock's error otherwise.

        Accepts a bare id, a system inference profile id (``us.``, ``eu.``, ``apac.``, ``global.``,
        ...), URL-encoded forms, foundation-model / inference-profile ARNs, application inference
        profile ARNs (looked up in ``application_profiles``: ARN -> the profile or model id it
        copies) and prompt router ARNs.  ``lifecycle=False`` skips the end-of-life check.
        """
        requested = urllib.parse.unquote(model_id or "")
        resolved = self._address(requested, region, application_profiles or {})
        if lifecycle:
            state = resolved.entry.lifecycle_in(region, on)
            if state.status == END_OF_LIFE:
                raise EndOfLife()
        if resolved.addressed_as in (BARE, FOUNDATION_MODEL_ARN) and not resolved.entry.on_demand_in(region):
            raise OnDemandNotSupported(resolved.entry.id)
        return resolved

    def _address(self, mid: str, region: str, apps: Mapping[str, str]) -> Resolved:
        m = _ARN.match(mid)
        if m:
            kind, rest = m.group("kind"), m.group("rest")
            if kind == "foundation-model":
                entry = self._entries.get(rest)
                if entry is None:
                    raise InvalidModelIdentifier()
                return Resolved(entry, FOUNDATION_MODEL_ARN, mid, region)
            if kind == "inference-profile":
                inner = self._address(rest, region, {})
                if inner.addressed_as != SYSTEM_PROFILE:
                    raise InvalidModelIdentifier()
                return replace(inner, requested=mid)
            if kind == "application-inference-profile":
                source = apps.get(mid)
                if source is None:
                    raise InvalidModelIdentifier()
                inner = self._address(source, region, {})
                # An application profile copies a system profile or a model; calls through it
                # are always allowed (on-demand or not) and billed as the model.
                return Resolved(inner.entry, APPLICATION_PROFILE, mid, region, inner.profile_id,
                                application_profile_arn=mid)
            router = self.routers.get(rest)
            if router is None:
                raise InvalidModelIdentifier()
            entry = self._entries[router.fallback]
            return Resolved(entry, PROMPT_ROUTER, mid, region, router=router)
        if mid in self._entries:
            return Resolved(self._entries[mid], BARE, mid, region)
        hit = self._profiles.get(mid)
        if hit is not None:
            entry, geo = hit
            # A geo profile is only served to callers in its geography (global: everywhere).
            if geo not in geos_for_region(region):
                raise InvalidModelIdentifier()
            return Resolved(entry, SYSTEM_PROFILE, mid, region, profile_id=mid)
        raise InvalidModelIdentifier()

    # ------------------------------------------------------------------ extension
    def extended(self, extra: Mapping[str, Any] | None) -> "Catalogue":
        """A new catalogue with config.yaml ``models:`` entries added or overriding."""
        if not extra:
            return self
        entries = dict(self._entries)
        for alias, raw in extra.items():
            if not isinstance(raw, Mapping):
                continue
            if "id" in raw:  # a full catalogue-format record
                e = entry_from_dict({**raw, "alias": raw.get("alias", alias)})
                entries[e.id] = e
                continue
            if "model_id" not in raw:
                continue
            e = _apply_config(str(alias), raw, self.base_of(str(raw["model_id"])))
            entries[e.id] = e
        cat = Catalogue(entries.values(), self.routers.values())
        return cat


def _apply_config(alias: str, raw: Mapping[str, Any], base: ModelEntry | None) -> ModelEntry:
    """Merge one config.yaml model entry (model_id, context_window, capabilities, latency, price)."""
    caps = raw.get("capabilities") or {}
    lat = raw.get("latency") or {}
    price = raw.get("price") or {}
    if base is None:
        # A model the catalogue does not know: configured explicitly, so it is callable
        # everywhere by its own id (an id in neither the catalogue nor the config is invalid).
        mid = _GEO.sub("", str(raw["model_id"]), count=1)
        base = ModelEntry(
            id=mid, provider=mid.split(".", 1)[0], name=alias, family=mid.split("-", 1)[0],
            context_window=int(raw.get("context_window", 128_000)),
            max_output_tokens=int(raw.get("max_output_tokens", 4096)),
            capabilities=Capabilities(vision=True, documents=True), overheads=Overheads(),
            price=Price(0.0, 0.0), lifecycle={"default": Lifecycle(ACTIVE)},
            profiles={g: f"{g}.{mid}" for g in ("us", "eu", "apac", "global")},
            on_demand_regions=("*",), sources={"origin": "config.yaml"})
    cap_over = {k: bool(caps[k]) for k in ("vision", "tools", "documents", "batch", "reasoning", "citations")
                if k in caps}
    changes: dict[str, Any] = {"alias": alias}
    if cap_over:
        changes["capabilities"] = replace(base.capabilities, **cap_over)
    if "context_window" in raw:
        changes["context_window"] = int(raw["context_window"])
    if "max_output_tokens" in raw:
        changes["max_output_tokens"] = int(raw["max_output_tokens"])
    if "first_token_ms" in lat:
        changes["first_token_ms"] = float(lat["first_token_ms"])
    if "per_token_ms" in lat:
        changes["per_token_ms"] = float(lat["per_token_ms"])
    if "input_per_1k" in price or "output_per_1k" in price:
        changes["price"] = replace(base.price, input=float(price.get("input_per_1k", base.price.input)),
                                   output=float(price.get("output_per_1k", base.price.output)))
    return replace(base, **changes)


def _load_data(path: Path = DATA_FILE) -> Catalogue:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return Catalogue((entry_from_dict(r) for r in doc["models"]),
                     (_router_from_dict(r) for r in doc.get("prompt_routers") or ()))


_DEFAULT: Catalogue | None = None
_LOCK = threading.Lock()


def default_catalogue() -> Catalogue:
    """The shipped catalogue, parsed once per process (on first use, not at import)."""
    global _DEFAULT
    if _DEFAULT is not None:  # parsed already: no lock (read on every model look-up of every request)
        return _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = _load_data()
        return _DEFAULT


def load_catalogue(extra: Mapping[str, Any] | None = None) -> Catalogue:
    """The shipped catalogue plus config.yaml ``models:`` entries (``extra``) that add or override.

    ``extra`` may be the ``models:`` mapping itself or a whole config dict with a ``models`` key.
    """
    if extra is not None and "models" in extra and isinstance(extra.get("models"), Mapping):
        extra = extra["models"]
    return default_catalogue().extended(extra)
