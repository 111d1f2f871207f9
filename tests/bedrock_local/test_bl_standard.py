"""langchain-tests' standard suites for ChatBedrockConverse against bedrock_local over HTTP.

Run once for Claude 3 Haiku and once for Nova Pro, with capability flags set to what
those models really support on Bedrock (Converse API):

* images: yes (both); image URLs: no (Bedrock takes bytes or S3, never fetches URLs)
* PDF inputs: yes (both take Converse document blocks); PDFs inside tool results: not
  claimed (not documented for these two models), so test_pdf_tool_message skips
* Anthropic-native input blocks: no: that flag is about the integration class, and
  ChatBedrockConverse does not claim it (its default, False)
* audio: no (neither model takes audio); JSON mode: no (no such Bedrock option)
* tool calling + tool_choice (auto/any/tool): yes (both, per langchain-aws's
  supports_tool_choice_values); structured output: yes
* images inside tool results: Claude yes (Anthropic supports image tool_result);
  Nova Pro: no (not flagged), so that test skips
* usage metadata: yes
* model override at invoke time: no: ChatBedrockConverse has no per-call ``model``
  kwarg (its _converse_params rejects it), a property of the class, not of the emulator
* VCR cassettes: not used (test_stream_time skips with "VCR not set up")

Deselected by name in conftest.py, because they download their picture or PDF from the
internet, which our machines cannot reach: test_image_inputs, test_image_tool_message and
test_pdf_inputs.  They are covered with locally generated files in test_bl_langchain.py
(test_converse_image_input, test_image_in_tool_message, test_pdf_and_text_documents).
"""
from __future__ import annotations

import atexit

import pytest
from bl_helpers import HAIKU, NOVA, make_client
from langchain_aws import ChatBedrockConverse
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from bedrock_local import Emulator

# Unit tests never send a request; the endpoint only has to be stable because
# test_serdes compares the serialized model with the committed snapshot.
UNIT_ENDPOINT = "http://127.0.0.1:8599"

_state: dict = {}


def _server():
    """One HTTP emulator for the whole session (started on first use)."""
    if "server" not in _state:
        # Claude 3 Haiku is at end of life in us-east-1; these suites test the integration, not
        # lifecycle (test_bl_lifecycle.py does), so lifecycle is off for this shared server.
        _state["emu"] = Emulator(seed=0, lifecycle=False)
        _state["server"] = _state["emu"].serve()
        atexit.register(_state["server"].shutdown)
    return _state["server"]


def _clients(url):
    """Prebuilt clients (as the service does): model construction then costs ~0.1 ms, not ~0.2 s."""
    if url not in _state:
        _state[url] = (make_client(url, config=None), _bedrock_control(url))
    return _state[url]


def _bedrock_control(url):
    from bl_helpers import _SESSION

    return _SESSION.client("bedrock", endpoint_url=url)


@pytest.fixture(scope="session", autouse=True)
def standard_server():
    yield _server()


class _Flags:
    """Capability flags shared by both models (see module docstring)."""

    model_id = HAIKU

    @property
    def chat_model_class(self):
        return ChatBedrockConverse

    @property
    def standard_chat_model_params(self) -> dict:
        return {"temperature": 0, "max_tokens": 100, "stop": []}

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return self.model_id == HAIKU

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False


class _Unit(_Flags, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict:
        client, control = _clients(UNIT_ENDPOINT)
        return {"model": self.model_id, "region_name": "us-east-1", "endpoint_url": UNIT_ENDPOINT,
                "client": client, "bedrock_client": control}

    @property
    def init_from_env_params(self):
        env = {"AWS_ACCESS_KEY_ID": "env-key-id", "AWS_SECRET_ACCESS_KEY": "env-secret"}
        return (env, {"model": self.model_id, "region_name": "us-east-1"},
                {"aws_access_key_id": "env-key-id", "aws_secret_access_key": "env-secret"})


class _Integration(_Flags, ChatModelIntegrationTests):
    @property
    def chat_model_params(self) -> dict:
        url = _server().url
        client, control = _clients(url)
        return {"model": self.model_id, "region_name": "us-east-1", "endpoint_url": url,
                "client": client, "bedrock_client": control}


class TestHaikuUnit(_Unit):
    model_id = HAIKU


class TestNovaProUnit(_Unit):
    model_id = NOVA


class TestHaikuIntegration(_Integration):
    model_id = HAIKU


class TestNovaProIntegration(_Integration):
    model_id = NOVA
