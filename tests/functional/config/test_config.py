"""config.yaml: validation errors name the key and the file; precedence is argument > environment > file."""

import textwrap

import pytest

from chains import ConfigError, load_config
from chains.config import DEFAULT_CONFIG_PATH


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """
region: eu-west-1
models:
  m:
    model_id: eu.amazon.nova-pro-v1:0
    context_window: 300000
    max_output_tokens: 5000
    price: {input_per_1k: 0.0008, output_per_1k: 0.0032}
chains:
  qa: {prompt: qa, model: m}
"""


def test_default_config_has_the_three_models_and_prices(clean_env):
    s = load_config()
    assert s.models["nova_pro"].model_id == "us.amazon.nova-pro-v1:0"
    assert s.models["claude_haiku"].model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert s.models["claude_sonnet"].model_id == "us.anthropic.claude-sonnet-5-5"
    # Figures from the model catalogue (bedrock_local/catalogue.json cites each), none in config.yaml.
    assert (s.models["nova_pro"].price.input_per_1k, s.models["nova_pro"].price.output_per_1k) == (0.0008, 0.0032)
    assert (s.models["claude_haiku"].price.input_per_1k, s.models["claude_haiku"].price.output_per_1k) == (0.001, 0.005)
    assert (s.models["claude_sonnet"].price.input_per_1k, s.models["claude_sonnet"].price.output_per_1k) == (0.002, 0.01)
    assert s.models["nova_pro"].context_window == 300000
    assert (s.models["claude_haiku"].context_window, s.models["claude_haiku"].max_output_tokens) == (200000, 64000)
    assert (s.models["claude_sonnet"].context_window, s.models["claude_sonnet"].max_output_tokens) == (1000000, 128000)
    assert s.models["claude_sonnet"].capabilities.tool_choice == ["auto"]
    assert "qa" in s.chains


def test_unknown_key_is_an_error_naming_key_and_file(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL.replace("context_window: 300000", "context_windw: 300000"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "models.m.context_windw: unknown key" in str(err.value)


def test_wrong_type_is_an_error_naming_key(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL.replace("input_per_1k: 0.0008", "input_per_1k: cheap"))
    with pytest.raises(ConfigError, match=r"models\.m\.price\.input_per_1k"):
        load_config(path)


def test_chain_naming_unconfigured_model_is_an_error(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL.replace("model: m}", "model: gpt}"))
    with pytest.raises(ConfigError, match="gpt.*not configured.*configured: m"):
        load_config(path)


def test_missing_file_and_bad_yaml(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "models: [unclosed"))


def test_model_id_env_override_and_inference_profile(clean_env):
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", "us.anthropic.claude-3-haiku-20240307-v1:0")
    s = load_config()
    assert s.models["claude_haiku"].model_id == "us.anthropic.claude-3-haiku-20240307-v1:0"


def test_model_id_env_gives_that_models_own_figures(clean_env):
    """Claude 3 Haiku by env var: its own window, output limit and prices, not those of Haiku 4.5."""
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    m = load_config().models["claude_haiku"]
    assert m.model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert (m.context_window, m.max_output_tokens) == (200000, 4096)
    assert (m.price.input_per_1k, m.price.output_per_1k) == (0.00025, 0.00125)
    assert m.capabilities.reasoning is False
    assert (m.tier, m.quality, m.params.max_tokens) == ("fast", 1, 1024)  # config.yaml's own keys stay


def test_a_model_the_catalogue_does_not_know_needs_its_figures(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL.replace("model_id: eu.amazon.nova-pro-v1:0", "model_id: acme.unknown-model-v1")
                 .replace("    context_window: 300000\n", ""))
    with pytest.raises(ConfigError, match=r"acme.unknown-model-v1' is not in the model catalogue.*context_window"):
        load_config(path)
    ok = load_config(write(tmp_path, MINIMAL.replace("model_id: eu.amazon.nova-pro-v1:0",
                                                      "model_id: acme.unknown-model-v1")))
    assert ok.models["m"].context_window == 300000


def test_config_overrides_a_catalogue_figure(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL.replace("    max_output_tokens: 5000\n", "")
                 .replace("    price: {input_per_1k: 0.0008, output_per_1k: 0.0032}\n", ""))
    m = load_config(path).models["m"]
    assert (m.context_window, m.max_output_tokens) == (300000, 5000)  # given / from the catalogue
    assert m.price.tier_multipliers == {"flex": 0.5, "priority": 1.75}
    m = load_config(write(tmp_path, MINIMAL.replace("context_window: 300000", "context_window: 1000"))).models["m"]
    assert m.context_window == 1000


def test_precedence_argument_beats_env_beats_file(clean_env, tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_config(path).region == "eu-west-1"
    clean_env.setenv("AWS_REGION", "us-west-2")
    clean_env.setenv("CHAINS_BACKEND", "local")
    s = load_config(path)
    assert (s.region, s.backend) == ("us-west-2", "local")
    s = load_config(path, region="ap-south-1", backend="bedrock")
    assert (s.region, s.backend) == ("ap-south-1", "bedrock")


def test_configuration_in_code_is_not_overridden_by_env(clean_env):
    import yaml

    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    clean_env.setenv("CHAINS_BACKEND", "bedrock")
    clean_env.setenv("AMAZON_NOVA_PRO_MODEL_ID", "amazon.nova-pro-v1:0")
    s = load_config(data)
    assert s.backend == "auto"
    assert s.models["nova_pro"].model_id == "us.amazon.nova-pro-v1:0"


def test_bad_backend_value(clean_env):
    clean_env.setenv("CHAINS_BACKEND", "azure")
    with pytest.raises(ConfigError, match="CHAINS_BACKEND"):
        load_config()


def test_adding_a_model_is_config_only(clean_env, tmp_path):
    """A new model (here an inference profile) is usable with no code change."""
    from chains import build_runtime, get_chain

    path = write(tmp_path, MINIMAL.replace("chains:", """  h:
    model_id: eu.anthropic.claude-haiku-4-5-20251001-v1:0
    context_window: 200000
    max_output_tokens: 4096
    price: {input_per_1k: 0.00025, output_per_1k: 0.00125}
chains:
  haiku_us: {prompt: qa, model: h}"""))
    rt = build_runtime(path, backend="local", notice=False)
    out = get_chain("haiku_us", rt).invoke({"question": "What is two plus two?"})
    # region eu-west-1: a us. profile is refused there (geo profiles serve their own geography only).
    assert out["model"] == "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert out["route"]["model"] == "h"
    assert out["usage"]["input_tokens"] > 0
    assert out["cost_usd"] == pytest.approx(
        (out["usage"]["input_tokens"] * 0.00025 + out["usage"]["output_tokens"] * 0.00125) / 1000, rel=1e-6
    )


def test_emulator_faults_follow_the_env_given_in_code(clean_env):
    """build_runtime(env=...) is explicit: BEDROCK_LOCAL_FAULTS comes from that mapping, not os.environ."""
    from chains import build_runtime, get_chain

    clean_env.setenv("BEDROCK_LOCAL_FAULTS", '[{"model": "*", "error": "ServiceUnavailableException"}]')
    rt = build_runtime(backend="local", env={}, notice=False)
    assert get_chain("qa", rt).invoke({"question": "q"})["output"]
    rt = build_runtime(backend="local", env={"BEDROCK_LOCAL_FAULTS": '[{"model": "*", "empty": true}]'}, notice=False)
    with pytest.raises(Exception) as err:
        get_chain("qa", rt).invoke({"question": "q"})
    assert "EmptyAnswer" in str(err.value.to_dict())
