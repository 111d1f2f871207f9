"""template.yaml, bulk runs (BulkBucket set): the batch service role, the function's batch permissions, and the
state machine; nothing of it without a BulkBucket. Read with the same resolver as test_sam_template.py."""

from __future__ import annotations

import pytest

from tests.e2e.test_sam_template import ACCOUNT, REGION, Resolver, as_list, function, model_ids, statements

BULK = {"BulkBucket": "my-bulk", "BulkPrefix": "runs"}
BATCH_ACTIONS = {"bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob",
                 "bedrock:StopModelInvocationJob"}


@pytest.fixture(scope="module")
def template():
    from cfnlint.decode import decode

    from tests.e2e.test_sam_template import TEMPLATE

    tpl, problems = decode(str(TEMPLATE))
    assert not problems
    return tpl


@pytest.fixture(scope="module")
def config():
    from chains.config import load_config
    from tests.e2e.test_sam_template import ROOT

    return load_config(ROOT / "config.yaml", env={})


def _resources(tpl, **params):
    r = Resolver(tpl, **params)
    return {name: res for name, res in tpl["Resources"].items()
            if "Condition" not in res or r.condition(res["Condition"])}


def _by_action(stmts, prefix):
    return [s for s in stmts if any(a.startswith(prefix) for a in as_list(s["Action"]))]


def test_nothing_for_bulk_without_a_bucket(template):
    assert not {"BulkBatchServiceRole", "BulkRunStateMachine"} & set(_resources(template))
    stmts = statements(template)
    assert not [s for s in stmts for a in as_list(s["Action"]) if "ModelInvocationJob" in a or a == "iam:PassRole"]
    env = Resolver(template).value(function(template))["Environment"]["Variables"]
    assert "BULK_ROLE_ARN" not in env


def test_batch_service_role_is_trusted_by_bedrock_for_this_accounts_jobs_only(template):
    role = Resolver(template, **BULK).value(template["Resources"]["BulkBatchServiceRole"]["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == \
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/*"
    stmts = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    objects = [s for s in stmts if "s3:GetObject" in as_list(s["Action"])]
    assert len(objects) == 1 and set(as_list(objects[0]["Action"])) == {"s3:GetObject", "s3:PutObject"}
    assert as_list(objects[0]["Resource"]) == ["arn:aws:s3:::my-bulk/runs/*"]
    listing = [s for s in stmts if "s3:ListBucket" in as_list(s["Action"])]
    assert listing[0]["Resource"] == "arn:aws:s3:::my-bulk"
    assert listing[0]["Condition"]["StringLike"]["s3:prefix"] == "runs/*"
    assert {a for s in stmts for a in as_list(s["Action"])} == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}


def test_function_may_run_batch_jobs_of_the_configured_models_and_pass_only_that_role(template, config):
    stmts = statements(template, **BULK)
    batch = [s for s in stmts if set(as_list(s["Action"])) & BATCH_ACTIONS]
    assert len(batch) == 1 and set(as_list(batch[0]["Action"])) == BATCH_ACTIONS
    assert set(batch[0]["Resource"]) == {f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/*"} | {
        f"arn:aws:bedrock:{REGION}::foundation-model/{m}" for m in model_ids(config).values()}
    (passrole,) = _by_action(stmts, "iam:")
    assert as_list(passrole["Action"]) == ["iam:PassRole"]
    assert passrole["Resource"] == "<getatt BulkBatchServiceRole.Arn>"
    assert passrole["Condition"]["StringEquals"]["iam:PassedToService"] == "bedrock.amazonaws.com"
    s3 = _by_action(stmts, "s3:")
    objects = [s for s in s3 if "s3:PutObject" in as_list(s["Action"])]
    assert [as_list(s["Resource"]) for s in objects] == [["arn:aws:s3:::my-bulk/runs/*"]]
    # On-demand model access is unchanged by bulk.
    invoke = [s for s in stmts if "bedrock:InvokeModel" in as_list(s["Action"])]
    # The default geography (us): the configured profiles, and the models only through them.
    assert [s["Sid"] for s in invoke] == ["InvokeConfiguredModels", "InvokeModelsThroughProfiles"]
    env = Resolver(template, **BULK).value(function(template))["Environment"]["Variables"]
    assert env["BULK_ROLE_ARN"] == "<getatt BulkBatchServiceRole.Arn>"
    from chains.bulk.settings import ROLE_ENV

    assert ROLE_ENV == "BULK_ROLE_ARN"


def test_state_machine_submits_waits_polls_and_collects_through_the_function(template):
    sm = Resolver(template, **BULK).value(template["Resources"]["BulkRunStateMachine"]["Properties"])
    states = sm["Definition"]["States"]
    assert sm["Definition"]["StartAt"] == "Submit"
    calls = {name: st["Parameters"]["Payload"]["bulk"] for name, st in states.items()
             if st["Type"] == "Task"}
    assert calls == {"Submit": "submit", "Status": "status", "Collect": "collect"}
    assert all(st["Parameters"]["FunctionName"] == {"Ref": "BedrockChainsFunction.Alias"} or
               st["Parameters"]["FunctionName"] for st in states.values() if st["Type"] == "Task")
    assert states["Submit"]["Parameters"]["Payload"]["s3"] == "s3://my-bulk/runs"
    assert states["Wait"]["Next"] == "Status" and states["Status"]["Next"] == "Finished"
    loop = states["Finished"]["Choices"][0]
    assert loop["StringEquals"] == "in_progress" and loop["Next"] == "Wait"
    assert states["Finished"]["Default"] == "Collect" and states["Collect"]["Next"] == "Collected"
    again = states["Collected"]["Choices"][0]  # a collect cut short by the function's deadline goes again
    assert again["BooleanEquals"] is False and again["Next"] == "Collect"
    assert states[states["Collected"]["Default"]]["Type"] == "Succeed"
    # The state machine may invoke the function and nothing else.
    assert sm["Policies"] == [{"LambdaInvokePolicy": {"FunctionName": "<ref BedrockChainsFunction>"}}]
    # The events it sends are the ones the service handles.
    from chains.bulk.events import BULK_ACTIONS

    assert set(calls.values()) <= set(BULK_ACTIONS)
