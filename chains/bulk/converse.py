"""LangChain messages to a Converse-format ``modelInput``, and a batch ``modelOutput`` back to a message.

Both directions use langchain-aws's own conversion (``_messages_to_bedrock``, ``_converse_params``,
``_parse_response``: what ``ChatBedrockConverse`` sends and parses on demand), so a record in a batch job is the
request the on-demand call would have sent, and its answer is read the same way. Batch Converse records take
``messages``, ``system``, ``inferenceConfig`` ... (https://docs.aws.amazon.com/bedrock/latest/userguide/
batch-inference-data.html); ``maxTokens`` is always set (quota is reserved for input + maxTokens, FACTS.md).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping

# The request fields a batch Converse record may carry (modelId is the job's, not the record's).
RECORD_FIELDS = ("inferenceConfig", "toolConfig", "additionalModelRequestFields", "guardrailConfig",
                 "additionalModelResponseFieldPaths", "performanceConfig")


def model_input(model: Any, messages: List[Any], max_tokens: int) -> Dict[str, Any]:
    """The ``modelInput`` of one record: what ``model`` (a ChatBedrockConverse) would send for ``messages``."""
    from langchain_aws.chat_models.bedrock_converse import _messages_to_bedrock

    from chains.caching.placement import place

    # The same per-model cache checkpoints as on demand: none for a model without prompt caching (Bedrock
    # refuses a cachePoint there), none below its minimum, at most its maximum.
    messages = place(model.model_id, list(messages)).messages
    bedrock_messages, system = _messages_to_bedrock(
        messages, model.system, model_id=model._get_base_model(), provider=model.provider)
    params = model._converse_params(stream=False)
    body: Dict[str, Any] = {"messages": bedrock_messages}
    if system:
        body["system"] = system
    for key in RECORD_FIELDS:
        if params.get(key):
            body[key] = params[key]
    inference = dict(body.get("inferenceConfig") or {})
    inference["maxTokens"] = int(max_tokens)
    body["inferenceConfig"] = inference
    return body


def parse_output(model_output: Mapping[str, Any]) -> Any:
    """The AIMessage for a Converse ``modelOutput`` (text, tool calls, usage_metadata, response_metadata)."""
    from langchain_aws.chat_models.bedrock_converse import _parse_response

    return _parse_response(copy.deepcopy(dict(model_output)))
