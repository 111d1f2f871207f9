"""The ``bedrock`` control plane: foundation models, inference profiles and prompt routers.

Paths, methods and member names follow botocore's service model
(botocore/data/bedrock/2023-04-20/service-2.json): REST-JSON, errors as status +
``x-amzn-ErrorType`` + ``{"message": ...}``.  Everything is derived from the catalogue for
the caller's region; application inference profiles (CreateInferenceProfile) live in this
object, one per Emulator, and are what the runtime resolves application-profile ARNs with.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Mapping

from .catalogue import (END_OF_LIFE, Catalogue, ModelEntry, PromptRouter, geos_for_region)
from .catalogue_errors import INVALID_MODEL
from .errors import BedrockError

# Invoking a model id unknown in the region (recorded on InvokeModel and GetFoundationModel:
# e.g. github aws-samples bedrock examples quoting "ResourceNotFoundException ... Could not resolve
# the foundation model from the provided model identifier.").
UNKNOWN_FOUNDATION_MODEL = "Could not resolve the foundation model from the provided model identifier."
# estimate: no recorded texts found for these two; worded like Bedrock's other not-found answers.
UNKNOWN_PROFILE = "The specified inference profile {id} does not exist."
UNKNOWN_ROUTER = "The specified prompt router {id} does not exist."
DUPLICATE_PROFILE = "An inference profile with the name {name} already exists."

_GEO_LABEL = {"us": "US", "eu": "EU", "apac": "APAC", "global": "Global", "ca": "CA", "jp": "JP",
              "au": "AU", "sa": "SA", "us-gov": "US-GOV"}
_GEO_REGIONS = {"us": ("us-",), "eu": ("eu-",), "apac": ("ap-",), "ca": ("ca-",), "jp": ("ap-northeast-1",),
                "au": ("ap-southeast-2",), "sa": ("sa-",), "us-gov": ("us-gov-",), "global": ("",)}


def _iso(day: _dt.date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00Z" if day else None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _bounded(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


@dataclass
class ApplicationProfile:
    arn: str
    profile_id: str
    name: str
    description: str | None
    copy_from: str           # the system profile id or model id it copies (resolvable by the catalogue)
    models: list[str]        # foundation-model ARNs
    tags: list[dict[str, str]] = field(default_factory=list)
    created_at: str = field(default_factory=_now)


class ControlPlane:
    """Answers control-plane requests for one Emulator (thread-safe)."""

    def __init__(self, catalogue: Catalogue, account_id: str = "123456789012"):
        self.catalogue = catalogue
        self.account_id = account_id
        self._apps: dict[str, ApplicationProfile] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ used by the runtime
    def application_profiles(self) -> dict[str, str]:
        """ARN -> the profile/model id it copies, for Catalogue.resolve."""
        with self._lock:
            return {a.arn: a.copy_from for a in self._apps.values()}

    def router_arn(self, router: PromptRouter, region: str) -> str:
        return router.arn(region, self.account_id)

    # ------------------------------------------------------------------ dispatch
    ROUTES = (
        ("GET", re.compile(r"^/foundation-models$"), "ListFoundationModels"),
        ("GET", re.compile(r"^/foundation-models/(?P<id>[^/]+)$"), "GetFoundationModel"),
        ("GET", re.compile(r"^/inference-profiles$"), "ListInferenceProfiles"),
        ("POST", re.compile(r"^/inference-profiles$"), "CreateInferenceProfile"),
        ("GET", re.compile(r"^/inference-profiles/(?P<id>[^/]+)$"), "GetInferenceProfile"),
        ("DELETE", re.compile(r"^/inference-profiles/(?P<id>[^/]+)$"), "DeleteInferenceProfile"),
        ("GET", re.compile(r"^/prompt-routers$"), "ListPromptRouters"),
        ("GET", re.compile(r"^/prompt-routers/(?P<id>[^/]+)$"), "GetPromptRouter"),
        ("POST", re.compile(r"^/listTagsForResource$"), "ListTagsForResource"),
        ("POST", re.compile(r"^/tagResource$"), "TagResource"),
        ("POST", re.compile(r"^/untagResource$"), "UntagResource"),
    )

    @classmethod
    def match(cls, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        for verb, pattern, op in cls.ROUTES:
            m = pattern.match(path)
            if m and verb == method:
                return op, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        return None

    def handle(self, operation: str, params: Mapping[str, str], query: Mapping[str, list[str]],
               body: bytes, region: str) -> tuple[int, Any]:
        """(status, JSON payload) for one control-plane operation; raises BedrockError."""
        q = {k: v[0] for k, v in query.items() if v}
        data: dict[str, Any] = {}
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise BedrockError("ValidationException", "Malformed request body.")
        handler = getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())
        return handler(params, q, data, region)

    # ------------------------------------------------------------------ foundation models
    def _listed(self, region: str) -> list[ModelEntry]:
        """Models listed in ``region``: offered there and not at end of life there."""
        out = []
        for e in self.catalogue.entries():
            if e.regions and region not in e.regions:
                continue
            if e.lifecycle_in(region).status == END_OF_LIFE:
                continue
            out.append(e)
        return out

    def model_summary(self, e: ModelEntry, region: str) -> dict[str, Any]:
        lc = e.lifecycle_in(region)
        lifecycle: dict[str, Any] = {"status": lc.status}
        for key, day in (("startOfLifeTime", e.launch_date), ("legacyTime", lc.legacy_date),
                         ("endOfLifeTime", lc.eol_date)):
            if day:
                lifecycle[key] = _iso(day)
        return {
            "modelArn": model_arn(region, e.id), "modelId": e.id, "modelName": e.name,
            "providerName": e.provider, "inputModalities": list(e.capabilities.input_modalities),
            "outputModalities": list(e.capabilities.output_modalities),
            "responseStreamingSupported": e.capabilities.streaming, "customizationsSupported": [],
            "inferenceTypesSupported": self._inference_types(e, region), "modelLifecycle": lifecycle,
        }

    @staticmethod
    def _inference_types(e: ModelEntry, region: str) -> list[str]:
        types = []
        if e.on_demand_in(region):
            types.append("ON_DEMAND")
        if e.profile_for(region):
            types.append("INFERENCE_PROFILE")
        return types or ["PROVISIONED"]

    def _list_foundation_models(self, params, q, data, region):
        out = []
        for e in self._listed(region):
            s = self.model_summary(e, region)
            if "byProvider" in q and q["byProvider"].lower() not in (e.provider.lower(), e.provider_key):
                continue
            if "byOutputModality" in q and q["byOutputModality"] not in s["outputModalities"]:
                continue
            if "byInferenceType" in q and q["byInferenceType"] not in s["inferenceTypesSupported"]:
                continue
            if "byCustomizationType" in q and q["byCustomizationType"] not in s["customizationsSupported"]:
                continue
            out.append(s)
        return 200, {"modelSummaries": out}

    def _get_foundation_model(self, params, q, data, region):
        ident = params["id"]
        m = re.match(r"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:foundation-model/(.+)$", ident)
        e = self.catalogue.get(m.group(1) if m else ident)
        if e is None or e not in self._listed(region):
            raise BedrockError("ResourceNotFoundException", UNKNOWN_FOUNDATION_MODEL)
        return 200, {"modelDetails": self.model_summary(e, region)}

    # ------------------------------------------------------------------ inference profiles
    def _system_profiles(self, region: str) -> list[dict[str, Any]]:
        geos = geos_for_region(region)
        out = []
        for e in self._listed(region):
            for geo in geos:
                pid = e.profiles.get(geo)
                if pid:
                    out.append(self._system_profile(e, geo, pid, region))
        return out

    def _system_profile(self, e: ModelEntry, geo: str, pid: str, region: str) -> dict[str, Any]:
        prefixes = _GEO_REGIONS.get(geo, ("",))
        dests = [r for r in (e.regions or (region,)) if any(r.startswith(p) for p in prefixes)] or [region]
        label = _GEO_LABEL.get(geo, geo.upper())
        return {
            "inferenceProfileName": f"{label} {e.provider} {e.name}",
            "description": f"Routes requests to {e.name} in {', '.join(dests)}.",
            "createdAt": _iso(e.launch_date) or _now(), "updatedAt": _iso(e.launch_date) or _now(),
            "inferenceProfileArn": f"arn:aws:bedrock:{region}:{self.account_id}:inference-profile/{pid}",
            "models": [{"modelArn": model_arn(r, e.id)} for r in dests],
            "inferenceProfileId": pid, "status": "ACTIVE", "type": "SYSTEM_DEFINED",
        }

    def _app_summary(self, a: ApplicationProfile) -> dict[str, Any]:
        out = {"inferenceProfileName": a.name, "createdAt": a.created_at, "updatedAt": a.created_at,
               "inferenceProfileArn": a.arn, "models": [{"modelArn": m} for m in a.models],
               "inferenceProfileId": a.profile_id, "status": "ACTIVE", "type": "APPLICATION"}
        if a.description:
            out["description"] = a.description
        return out

    def _list_inference_profiles(self, params, q, data, region):
        kind = q.get("type")
        items: list[dict[str, Any]] = []
        if kind in (None, "SYSTEM_DEFINED"):
            items += self._system_profiles(region)
        if kind in (None, "APPLICATION"):
            with self._lock:
                items += [self._app_summary(a) for a in self._apps.values()]
        return 200, _page(items, q, "inferenceProfileSummaries")

    def _find_app(self, ident: str) -> ApplicationProfile | None:
        with self._lock:
            for a in self._apps.values():
                if ident in (a.arn, a.profile_id):
                    return a
        return None

    def _get_inference_profile(self, params, q, data, region):
        ident = params["id"]
        app = self._find_app(ident)
        if app is not None:
            return 200, self._app_summary(app)
        m = re.match(r"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:inference-profile/(.+)$", ident)
        pid = m.group(1) if m else ident
        for p in self._system_profiles(region):
            if p["inferenceProfileId"] == pid:
                return 200, p
        raise BedrockError("ResourceNotFoundException", UNKNOWN_PROFILE.format(id=_bounded(ident)))

    def _create_inference_profile(self, params, q, data, region):
        name = str(data.get("inferenceProfileName") or "")
        source = str((data.get("modelSource") or {}).get("copyFrom") or "")
        if not name or not source:
            raise BedrockError("ValidationException", "inferenceProfileName and modelSource.copyFrom are required.")
        m = re.match(r"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(foundation-model|inference-profile)/(.+)$", source)
        if not m:
            raise BedrockError("ValidationException", INVALID_MODEL)
        kind, ident = m.groups()
        if kind == "foundation-model":
            entry = self.catalogue.get(ident)
            models = [model_arn(region, ident)] if entry else []
        else:
            sys = next((p for p in self._system_profiles(region) if p["inferenceProfileId"] == ident), None)
            entry = self.catalogue.base_of(ident) if sys else None
            models = [x["modelArn"] for x in sys["models"]] if sys else []
        if entry is None or entry not in self._listed(region):
            raise BedrockError("ResourceNotFoundException", UNKNOWN_FOUNDATION_MODEL)
        with self._lock:
            if any(a.name == name for a in self._apps.values()):
                raise BedrockError("ConflictException", DUPLICATE_PROFILE.format(name=_bounded(name)), status=400)
            pid = secrets.token_hex(6)[:12]
            arn = f"arn:aws:bedrock:{region}:{self.account_id}:application-inference-profile/{pid}"
            self._apps[arn] = ApplicationProfile(arn, pid, name, data.get("description"), ident, models,
                                                 list(data.get("tags") or []))
        return 201, {"inferenceProfileArn": arn, "status": "ACTIVE"}

    def _delete_inference_profile(self, params, q, data, region):
        app = self._find_app(params["id"])
        if app is None:
            raise BedrockError("ResourceNotFoundException", UNKNOWN_PROFILE.format(id=_bounded(params["id"])))
        with self._lock:
            self._apps.pop(app.arn, None)
        return 200, {}

    # ------------------------------------------------------------------ tags
    def _tagged(self, data: Mapping[str, Any]) -> ApplicationProfile:
        app = self._find_app(str(data.get("resourceARN") or ""))
        if app is None:
            raise BedrockError("ResourceNotFoundException",
                               UNKNOWN_PROFILE.format(id=_bounded(str(data.get("resourceARN")))))
        return app

    def _list_tags_for_resource(self, params, q, data, region):
        return 200, {"tags": list(self._tagged(data).tags)}

    def _tag_resource(self, params, q, data, region):
        app = self._tagged(data)
        with self._lock:
            new = {t["key"]: t["value"] for t in data.get("tags") or []}
            app.tags = [t for t in app.tags if t["key"] not in new] + [{"key": k, "value": v} for k, v in new.items()]
        return 200, {}

    def _untag_resource(self, params, q, data, region):
        app = self._tagged(data)
        drop = set(data.get("tagKeys") or [])
        with self._lock:
            app.tags = [t for t in app.tags if t["key"] not in drop]
        return 200, {}

    # ------------------------------------------------------------------ prompt routers
    def _routers(self, region: str) -> list[dict[str, Any]]:
        out = []
        listed = {e.id for e in self._listed(region)}
        for r in self.catalogue.routers.values():
            if not all(m in listed for m in r.models):
                continue
            out.append(self._router_summary(r, region))
        return out

    def _router_summary(self, r: PromptRouter, region: str) -> dict[str, Any]:
        def target(mid: str) -> dict[str, str]:
            e = self.catalogue.get(mid)
            pid = e.profile_for(region) if e else None
            if pid:
                return {"modelArn": f"arn:aws:bedrock:{region}:{self.account_id}:inference-profile/{pid}"}
            return {"modelArn": model_arn(region, mid)}

        return {
            "promptRouterName": r.name,
            "routingCriteria": {"responseQualityDifference": r.response_quality_difference},
            "description": f"Routes requests among models in the {r.name.split()[0]} family",
            "createdAt": "2024-11-07T00:00:00Z", "updatedAt": "2024-11-07T00:00:00Z",
            "promptRouterArn": self.router_arn(r, region),
            "models": [target(m) for m in r.models], "fallbackModel": target(r.fallback),
            "status": "AVAILABLE", "type": "default",
        }

    def _list_prompt_routers(self, params, q, data, region):
        items = self._routers(region) if q.get("type") in (None, "default") else []
        return 200, _page(items, q, "promptRouterSummaries")

    def _get_prompt_router(self, params, q, data, region):
        arn = params["id"]
        for r in self._routers(region):
            if r["promptRouterArn"] == arn:
                return 200, r
        raise BedrockError("ResourceNotFoundException", UNKNOWN_ROUTER.format(id=_bounded(arn)))


def _page(items: list[dict[str, Any]], q: Mapping[str, str], key: str) -> dict[str, Any]:
    """maxResults / nextToken paging (the token is the next offset)."""
    try:
        start = int(q.get("nextToken") or 0)
        size = int(q.get("maxResults") or 1000)
    except ValueError:
        raise BedrockError("ValidationException", "Invalid pagination token.")
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out
