"""The bulk run as a Runnable: invoke, batch, stream and their async forms, and inside an LCEL pipeline."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda

from chains import get_chain
from chains.bulk import BulkRun, bulk, status
from tests.functional.bulk.conftest import create_calls, questions


def _ids(results):
    return sorted(r["record_id"] for r in results)


def test_invoke_waits_and_returns_every_result(bulk_env):
    runtime, _, prefix = bulk_env
    runnable = bulk(get_chain("qa", runtime), prefix, poll_seconds=0.05)
    assert isinstance(runnable, BulkRun) and runnable.name == "qa.bulk"
    results = runnable.invoke(questions(110))
    assert _ids(results) == _ids(questions(110)) and all(r["ok"] for r in results)
    assert {r["bulk"]["mode"] for r in results} == {"batch"}
    assert create_calls(runtime) == 1


def test_invoke_without_wait_returns_the_run(bulk_env):
    runtime, _, prefix = bulk_env
    run = bulk(get_chain("qa", runtime), prefix, wait=False).invoke(questions(105))
    assert run["run"].startswith(prefix) and run["batch"] == 105 and run["jobs"] == 1
    assert status(run["run"], runtime=runtime)["records"] == 105


def test_batch_and_stream(bulk_env):
    runtime, _, prefix = bulk_env
    runnable = bulk(get_chain("qa", runtime), prefix, poll_seconds=0.05)
    first, second = runnable.batch([questions(3), questions(4, 10)])
    assert _ids(first) == _ids(questions(3)) and _ids(second) == _ids(questions(4, 10))
    streamed = list(runnable.stream(questions(5)))
    assert _ids(streamed) == _ids(questions(5)) and all(r["ok"] for r in streamed)


async def test_ainvoke_and_astream(bulk_env):
    runtime, _, prefix = bulk_env
    runnable = bulk(get_chain("qa", runtime), prefix, poll_seconds=0.05)
    results = await runnable.ainvoke(questions(3))
    assert _ids(results) == _ids(questions(3))
    chunks = [c async for c in runnable.astream(questions(2))]
    assert _ids(chunks) == _ids(questions(2))


def test_in_an_lcel_pipeline(bulk_env):
    runtime, _, prefix = bulk_env
    to_records = RunnableLambda(lambda qs: [{"record_id": f"x{i}", "input": {"question": q}} for i, q in enumerate(qs)])
    answers = RunnableLambda(lambda results: {r["record_id"]: r["output"] for r in results})
    pipeline = to_records | bulk(get_chain("qa", runtime), prefix, poll_seconds=0.05) | answers
    out = pipeline.invoke(["What is S3?", "What is IAM?"])
    assert set(out) == {"x0", "x1"} and all("bedrock_local" in text for text in out.values())
