"""bedrock_local: an offline, faithful Amazon Bedrock emulator (runtime and control plane).

In-process (``Emulator().attach(boto3_client)``) or over HTTP (``python -m bedrock_local``
or ``Emulator().serve()``); see docs/bedrock_local.md.  Runtime needs: stdlib and
botocore only (PyYAML only when reading config.yaml from a path).
"""
from .catalogue import Catalogue, ModelEntry, Resolved, default_catalogue, load_catalogue
from .emulator import CallRecord, Emulator, Reply
from .errors import BedrockError
from .faults import FaultRule
from .profiles import DEFAULT_PROFILES, ModelProfile, load_profiles
from .server import LocalServer
from .tokens import count_input_tokens, estimate_tokens

__all__ = [
    "BedrockError", "CallRecord", "Catalogue", "DEFAULT_PROFILES", "Emulator", "FaultRule", "LocalServer",
    "ModelEntry", "ModelProfile", "Reply", "Resolved", "count_input_tokens", "default_catalogue",
    "estimate_tokens", "load_catalogue", "load_profiles",
]
