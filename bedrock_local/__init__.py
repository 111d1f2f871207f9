"""bedrock_local: an offline, faithful Amazon Bedrock emulator (runtime and control plane).

In-process (``Emulator().attach(boto3_client)``) or over HTTP (``python -m bedrock_local``
or ``Emulator().serve()``); see docs/bedrock_local.md.  Runtime needs: stdlib and
botocore only (PyYAML only when reading config.yaml from a path).
"""
import importlib
from typing import Any

# Names are imported on first use (PEP 562), so ``bedrock_local.catalogue`` alone (what the service reads on
# Lambda, where the emulator is not shipped) does not import the emulator.
_EXPORTS = {
    "Catalogue": "catalogue", "ModelEntry": "catalogue", "Resolved": "catalogue",
    "default_catalogue": "catalogue", "load_catalogue": "catalogue",
    "CallRecord": "emulator", "Emulator": "emulator", "Reply": "emulator",
    "BedrockError": "errors", "FaultRule": "faults",
    "DEFAULT_PROFILES": "profiles", "ModelProfile": "profiles", "load_profiles": "profiles",
    "LocalServer": "server", "count_input_tokens": "tokens", "estimate_tokens": "tokens",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bedrock_local' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BedrockError", "CallRecord", "Catalogue", "DEFAULT_PROFILES", "Emulator", "FaultRule", "LocalServer",
    "ModelEntry", "ModelProfile", "Reply", "Resolved", "count_input_tokens", "default_catalogue",
    "estimate_tokens", "load_catalogue", "load_profiles",
]
