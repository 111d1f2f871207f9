"""Every chain in config.yaml as a LangChain Runnable: invoke, batch, stream, schemas, config, as_tool, LCEL.

Parametrised over the configured chains (see runnable_cases.py), on the real langchain-aws + boto3 stack
against the in-process bedrock_local.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda
from pydantic import ValidationError
from helpers.runnable_cases import BASE_KEYS, CHAINS, SONNET_ID, input_fields, sample_input, streams, total

from chains import BadRequest, UnknownModel, get_chain

METADATA_KEYS = {"usage", "usage_by_model", "cost_usd", "latency_ms"}

pytestmark = pytest.mark.parametrize("name", CHAINS)


def assert_result(chain, result: Dict[str, Any]) -> None:
    assert BASE_KEYS <= set(result), set(result)
    assert result["output"], "an empty answer"
    assert result["usage"]["total_tokens"] > 0 and result["cost_usd"] > 0
    assert result["route"]["model"] in chain.settings.models
    chain.get_output_schema().model_validate(result)  # the output schema describes what comes back
    json.dumps(result)  # plain JSON, as the handler returns it


def test_invoke(chain, sample):
    assert_result(chain, chain.invoke(sample))


def test_batch_keeps_order_and_returns_typed_errors_in_place(chain, sample):
    bad = {"no_such_field": "x"}
    results = chain.batch([sample, bad, sample], return_exceptions=True)
    assert_result(chain, results[0])
    assert_result(chain, results[2])
    assert isinstance(results[1], BadRequest) and "no_such_field" in results[1].message


def test_stream_chunks_add_up_to_what_invoke_returns(chain, sample):
    expected = chain.invoke(sample)
    chunks = list(chain.stream(sample))
    summed = total(chunks)
    assert set(summed) == set(expected)
    assert_result(chain, summed)
    # The last chunk is the metadata the wrapper adds (or the whole result for a non-streaming strategy).
    assert METADATA_KEYS <= set(chunks[-1])
    if streams(chain):
        assert len(chunks) > 2, "text should arrive in several deltas, then the metadata"
        assert set(chunks[0]) == {"output"}
        assert summed["output"] == expected["output"]
        assert summed["usage"] == expected["usage"]
    else:
        assert len(chunks) == 1


def test_stream_rejects_bad_input_before_any_chunk(chain):
    stream = chain.stream({"no_such_field": "x"})
    with pytest.raises(BadRequest, match="no_such_field"):
        next(stream)


def test_input_schema_describes_the_prompt_variables(chain, sample):
    schema = chain.get_input_schema()
    props = schema.model_json_schema()["properties"]
    prompt = chain.prompt()
    assert set(props) == input_fields(chain)
    for var in prompt.placeholders:  # chat history is a list of messages, not a string
        assert props[var]["type"] == "array"
    assert set(schema.model_json_schema().get("required", [])) == set(prompt.required)
    schema.model_validate(sample)
    with pytest.raises(ValidationError):
        schema.model_validate({**sample, "no_such_field": "x"})
    assert "timeout_ms" in json.dumps(chain.get_input_jsonschema())  # options are described too


def test_output_schema_names_the_common_fields(chain):
    props = chain.get_output_schema().model_json_schema()["properties"]
    assert BASE_KEYS <= set(props)
    assert all(props[k].get("description") for k in BASE_KEYS)


def test_with_config_tags_metadata_and_callbacks_reach_every_model_call(chain, sample):
    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.model_starts: List[Dict[str, Any]] = []
            self.chain_starts: List[str] = []

        def on_chat_model_start(self, serialized, messages, *, tags=None, metadata=None, **kwargs):
            self.model_starts.append({"tags": tags or [], "metadata": metadata or {}})

        def on_chain_start(self, serialized, inputs, *, name=None, **kwargs):
            self.chain_starts.append(name)

    recorder = Recorder()
    configured = chain.with_config(tags=["nb-test"], metadata={"tenant": "t-42"}, callbacks=[recorder])
    result = configured.invoke(sample)
    assert recorder.chain_starts[0] == chain.name  # the run is named after the chain
    assert recorder.model_starts, "the callback did not see the model calls"
    for start in recorder.model_starts:
        assert "nb-test" in start["tags"] and start["metadata"].get("tenant") == "t-42"
    # Every model call that Bedrock counted went through the callbacks.
    assert len(recorder.model_starts) >= len(result["usage_by_model"])


def test_configurable_model_pins_the_model(chain, sample, emulator):
    if chain.cfg.strategy == "compare":
        pytest.skip("compare runs every model; options.models picks them")
    pinned = chain.with_config(configurable={"model": "claude_sonnet"})
    assert any(spec.id == "model" for spec in chain.config_specs)
    result = pinned.invoke(sample)
    assert result["route"]["model"] == "claude_sonnet"
    assert SONNET_ID in result["usage_by_model"]
    with pytest.raises(UnknownModel, match="configured models"):
        chain.with_config(configurable={"model": "gpt"}).invoke(sample)


def test_as_tool_gives_the_answer_text_and_the_full_result_as_artifact(chain, sample):
    tool = chain.as_tool()
    assert tool.name == chain.name and tool.description
    args = {k: v for k, v in sample.items() if k != "options"}
    assert set(tool.args) == set(chain.prompt().spec.input_variables)  # options are not a model's to set
    text = tool.invoke(args)
    assert isinstance(text, str) and text
    message = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call-1"
    assert_result(chain, message.artifact)
    renamed = chain.as_tool(name="ask_bedrock", description="Ask.")
    assert (renamed.name, renamed.description) == ("ask_bedrock", "Ask.")


def test_is_a_step_of_an_lcel_pipeline(chain, sample):
    pipeline = RunnableLambda(lambda x: dict(x)) | chain | RunnableLambda(lambda r: (r["model"], r["cost_usd"]))
    model, cost = pipeline.invoke(sample)
    assert model and cost > 0
