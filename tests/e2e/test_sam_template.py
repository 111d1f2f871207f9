"""template.yaml: valid for cfn-lint (offline), and what it grants and configures is what the service needs.

cfn-lint checks the SAM schema but not a wrong runtime, Function URL auth type or IAM action, so the
template is also read here (cfn-lint's decoder keeps the intrinsic functions) and its conditions, Refs and
Subs are resolved for a given set of parameters: the tests look at the effective policy and environment a
deployment with those parameters would get.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION, ACCOUNT, PARTITION = "eu-west-1", "123456789012", "aws"
BEDROCK_ACTIONS = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


@pytest.fixture(scope="module")
def template() -> Dict[str, Any]:
    from cfnlint.decode import decode

    tpl, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return tpl


@pytest.fixture(scope="module")
def config():
    from chains.config import load_config

    return load_config(ROOT / "config.yaml", env={})


class Resolver:
    """Evaluates the intrinsic functions this template uses, for one set of parameter values."""

    def __init__(self, tpl: Dict[str, Any], **params: str) -> None:
        self.tpl = tpl
        self.params = {k: str(v["Default"]) for k, v in tpl["Parameters"].items() if "Default" in v}
        self.params.update({k: str(v) for k, v in params.items()})
        unknown = set(params) - set(tpl["Parameters"])
        assert not unknown, f"not template parameters: {unknown}"
        self.params.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION,
                            "AWS::StackName": "chains-test"})

    def condition(self, name: str) -> bool:
        return self._cond(self.tpl["Conditions"][name])

    def _cond(self, node: Any) -> bool:
        (fn, args), = node.items()
        if fn == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if fn == "Fn::Not":
            return not self._cond(args[0])
        if fn == "Condition":
            return self.condition(args)
        raise AssertionError(f"unsupported condition {fn}")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                if args == "AWS::NoValue":
                    return NO_VALUE
                if self.tpl["Parameters"].get(args, {}).get("Type") == "CommaDelimitedList":
                    return [v for v in self.params.get(args, "").split(",") if v] or [""]
                return self.params.get(args, f"<ref {args}>")
            if fn == "Fn::Join":
                return args[0].join(self.value(args[1]))
            if fn == "Fn::If":
                return self.value(args[1] if self.condition(args[0]) else args[2])
            if fn == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.params.get(m.group(1), f"<{m.group(1)}>"), args)
            if fn == "Fn::GetAtt":
                target = args if isinstance(args, str) else ".".join(args)
                return f"<getatt {target}>"
        out = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}


NO_VALUE = object()


def function(tpl: Dict[str, Any]) -> Dict[str, Any]:
    functions = [r for r in tpl["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 1
    return functions[0]["Properties"]


def statements(tpl: Dict[str, Any], **params: str) -> List[Dict[str, Any]]:
    r = Resolver(tpl, **params)
    role = r.value(tpl["Resources"]["BedrockChainsRole"]["Properties"])
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def as_list(x: Any) -> List[Any]:
    return x if isinstance(x, list) else [x]


def model_ids(config) -> Dict[str, str]:
    """env var -> the configured model's base id (config.yaml names us. profiles; the template adds the geo)."""
    from chains.catalogue import entry

    return {m.model_id_env: entry(m.model_id).id for m in config.models.values()}


# --- the linter -------------------------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert matches == [], "\n".join(str(m) for m in matches)


def test_cfn_lint_does_catch_a_broken_template(tmp_path):
    # The lint test above can fail: a reference to a resource that does not exist is an error.
    from cfnlint.api import lint_file

    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("!GetAtt BedrockChainsRole.Arn", "!GetAtt NoSuchRole.Arn"))
    assert any(m.rule.id.startswith("E") for m in lint_file(broken))


# --- the function -----------------------------------------------------------------------------------------------


def test_function_runtime_architecture_and_handler(template):
    fn = function(template)
    assert fn["Runtime"] in ("python3.12", "python3.13")
    assert fn["Architectures"] == ["arm64"]
    module, _, attr = fn["Handler"].partition(".")
    assert (ROOT / f"{module}.py").is_file()
    import handler

    assert callable(getattr(handler, attr))


def test_code_uri_is_what_the_package_builder_writes(template):
    from tools.package import BuildOptions

    fn = function(template)
    python = fn["Runtime"].removeprefix("python")
    expected = BuildOptions(arch="arm64", python=python).output_path().relative_to(ROOT)
    assert Path(fn["CodeUri"]) == expected


def test_memory_and_timeout_are_parameters_with_sensible_defaults(template):
    fn, params = function(template), template["Parameters"]
    assert fn["MemorySize"] == {"Ref": "MemorySize"} and params["MemorySize"]["Default"] == 512
    assert fn["Timeout"] == {"Ref": "Timeout"} and params["Timeout"]["Default"] == 300
    assert params["Timeout"]["MaxValue"] <= 900  # Lambda's maximum


def test_function_url_requires_iam_auth(template):
    url = function(template)["FunctionUrlConfig"]
    assert url["AuthType"] == "AWS_IAM"


def test_log_group_has_retention_and_is_the_functions(template):
    fn = function(template)
    logs = template["Resources"]["BedrockChainsLogs"]
    assert logs["Type"] == "AWS::Logs::LogGroup"
    assert logs["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert fn["LoggingConfig"]["LogGroup"] == {"Ref": "BedrockChainsLogs"}
    assert template["Parameters"]["LogRetentionDays"]["Default"] > 0


@pytest.mark.parametrize("enabled, apply_on", [("true", "PublishedVersions"), ("false", "None")])
def test_snapstart_is_optional(template, enabled, apply_on):
    fn = Resolver(template, EnableSnapStart=enabled).value(function(template))
    assert fn["SnapStart"] == {"ApplyOn": apply_on}
    assert fn["AutoPublishAlias"]  # SnapStart only applies to published versions


def test_environment_names_the_variables_the_service_reads(template, config):
    from chains.strategies.compare.storage import BUCKET_ENV

    env = Resolver(template).value(function(template))["Environment"]["Variables"]
    assert set(model_ids(config)) <= set(env), "every model_id_env of config.yaml is set"
    assert BUCKET_ENV in env
    assert env["CHAINS_BACKEND"] == "bedrock"  # on Lambda, never fall back to the emulator


def test_model_id_defaults_match_config_yaml(template, config):
    params = template["Parameters"]
    defaults = {params[p]["Default"] for p in ("NovaProModelId", "ClaudeHaikuModelId", "ClaudeSonnetModelId")}
    assert defaults == set(model_ids(config).values())
    assert params["InferenceProfileGeo"]["Default"] == "us" and config.region.startswith("us-")
    env = Resolver(template).value(function(template))["Environment"]["Variables"]
    # The function gets exactly config.yaml's default ids (us. profiles).
    assert {k: env[k] for k in model_ids(config)} == {m.model_id_env: m.model_id for m in config.models.values()}


def test_inference_profile_geo_prefixes_the_model_ids(template, config):
    env = Resolver(template, InferenceProfileGeo="eu").value(function(template))["Environment"]["Variables"]
    assert {env[k] for k in model_ids(config)} == {f"eu.{m}" for m in model_ids(config).values()}


# --- least privilege ----------------------------------------------------------------------------------------------


def _arn_fm(region: str, model: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model}"


def _arn_profile(model: str, geo: str) -> str:
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{geo}.{model}"


def test_bedrock_on_demand_only_the_configured_foundation_models(template, config):
    stmts = statements(template, InferenceProfileGeo="")
    bedrock = [s for s in stmts if any(a.startswith("bedrock:") for a in as_list(s["Action"]))]
    assert len(bedrock) == 1
    assert set(as_list(bedrock[0]["Action"])) == BEDROCK_ACTIONS
    assert set(bedrock[0]["Resource"]) == {_arn_fm(REGION, m) for m in model_ids(config).values()}
    assert "Condition" not in bedrock[0]


def test_bedrock_through_profiles_only_the_configured_profiles(template, config):
    stmts = statements(template, InferenceProfileGeo="us")
    bedrock = [s for s in stmts if any(a.startswith("bedrock:") for a in as_list(s["Action"]))]
    profiles = {_arn_profile(m, "us") for m in model_ids(config).values()}
    assert len(bedrock) == 2
    direct, routed = bedrock
    assert set(as_list(direct["Action"])) == set(as_list(routed["Action"])) == BEDROCK_ACTIONS
    assert set(direct["Resource"]) == profiles
    # The foundation models in any Region the profile routes to, but only through our profiles.
    assert set(routed["Resource"]) == {_arn_fm("*", m) for m in model_ids(config).values()}
    assert set(routed["Condition"]["ArnEquals"]["bedrock:InferenceProfileArn"]) == profiles


APP_PROFILE = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/abc123"


def test_application_profiles_grant_nothing_unless_configured(template):
    for geo in ("", "us"):
        for s in statements(template, InferenceProfileGeo=geo):
            assert "bedrock:GetInferenceProfile" not in as_list(s["Action"])
            assert not any("application-inference-profile" in str(r) for r in as_list(s["Resource"]))


def test_application_profiles_read_and_invoked_and_their_models_only_through_them(template, config):
    stmts = statements(template, ApplicationInferenceProfileArns=APP_PROFILE)
    mine = [s for s in stmts if APP_PROFILE in str(s)]
    assert len(mine) == 2
    use, through = mine
    assert set(as_list(use["Action"])) == BEDROCK_ACTIONS | {"bedrock:GetInferenceProfile"}
    assert as_list(use["Resource"]) == [APP_PROFILE] and "Condition" not in use
    assert set(as_list(through["Action"])) == BEDROCK_ACTIONS
    assert set(through["Resource"]) == {_arn_fm("*", m) for m in model_ids(config).values()}
    assert as_list(through["Condition"]["ArnEquals"]["bedrock:InferenceProfileArn"]) == [APP_PROFILE]
    # GetInferenceProfile is granted on nothing else.
    assert [s for s in stmts if "bedrock:GetInferenceProfile" in as_list(s["Action"])] == [use]


def test_s3_only_put_object_under_the_comparisons_prefix(template):
    from chains.strategies.compare.storage import PREFIX

    assert not [s for s in statements(template) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    stmts = statements(template, ComparisonsBucket="my-comparisons")
    s3 = [s for s in stmts if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert len(s3) == 1
    assert as_list(s3[0]["Action"]) == ["s3:PutObject"]
    assert as_list(s3[0]["Resource"]) == [f"arn:aws:s3:::my-comparisons/{PREFIX}/*"]


@pytest.mark.parametrize("params", [{}, {"InferenceProfileGeo": "global", "ComparisonsBucket": "b-1",
                                         "Tracing": "Active"}])
def test_no_wildcard_actions_and_star_resources_only_for_xray(template, params):
    for s in statements(template, **params):
        assert s["Effect"] == "Allow"
        for action in as_list(s["Action"]):
            assert "*" not in action, s
        if "*" in as_list(s["Resource"]):
            assert {a.split(":")[0] for a in as_list(s["Action"])} == {"xray"}, s
    logs = [s for s in statements(template, **params) if "logs:PutLogEvents" in as_list(s["Action"])]
    assert logs and all(r == "<getatt BedrockChainsLogs.Arn>" for s in logs for r in as_list(s["Resource"]))


def test_xray_permission_only_when_tracing_is_active(template):
    def xray(**p):
        return [s for s in statements(template, **p) if any(a.startswith("xray:") for a in as_list(s["Action"]))]

    assert xray() == []
    assert xray(Tracing="Active")
