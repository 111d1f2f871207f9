"""A chain as a node of a LangGraph StateGraph (offline, on bedrock_local)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Dict, List

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from chains import get_chain, load_config

CONTEXT = "Amazon Nova is Amazon's own family of foundation models. Claude models come from Anthropic."
MODEL_IDS = {m.model_id for m in load_config(env={}).models.values()}


class State(TypedDict, total=False):
    question: str
    answer: str
    model: str
    cost_usd: Annotated[float, operator.add]
    trail: Annotated[List[str], operator.add]


def build(runtime: Any, stream_node: bool = False):
    qa = get_chain("qa", runtime)

    def retrieve(state: State) -> Dict[str, Any]:
        return {"trail": ["retrieve"]}

    def answer(state: State, config) -> Dict[str, Any]:
        inputs = {"question": state["question"], "context": CONTEXT}
        if stream_node:  # the node streams; LangGraph's "messages" mode sees the model's tokens
            chunks = list(qa.stream(inputs, config))
            result = chunks[0]
            for c in chunks[1:]:
                result = result + c
        else:
            result = qa.invoke(inputs, config)
        return {"answer": result["output"], "model": result["model"], "cost_usd": result["cost_usd"],
                "trail": ["answer"]}

    graph = StateGraph(State)
    graph.add_node("retrieve", retrieve)
    graph.add_node("answer", answer)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "answer")
    graph.add_edge("answer", END)
    return graph.compile()


def test_a_chain_runs_as_a_graph_node(runtime, emulator):
    emulator.reset_calls()
    out = build(runtime).invoke({"question": "Which model family does Amazon Nova belong to?", "cost_usd": 0.0})
    assert out["trail"] == ["retrieve", "answer"]
    assert "Amazon" in out["answer"] and out["model"] in MODEL_IDS and out["cost_usd"] > 0
    assert emulator.calls and emulator.calls[-1].model_id == out["model"]  # the node's call reached Bedrock


def test_graph_config_reaches_the_chain_and_its_model(runtime):
    seen: List[Dict[str, Any]] = []
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, *, tags=None, metadata=None, **kwargs):
            seen.append({"tags": tags or [], "metadata": metadata or {}})

    build(runtime).invoke(
        {"question": "Which model family does Amazon Nova belong to?"},
        config={"tags": ["graph"], "metadata": {"user": "u1"}, "callbacks": [Recorder()]},
    )
    assert seen and "graph" in seen[0]["tags"] and seen[0]["metadata"]["user"] == "u1"
    assert seen[0]["metadata"]["langgraph_node"] == "answer"  # the call is attributed to its node


def test_graph_message_streaming_shows_the_chain_tokens(runtime):
    graph = build(runtime, stream_node=True)
    tokens = [
        (message.text, meta["langgraph_node"])
        for message, meta in graph.stream({"question": "Which model family does Amazon Nova belong to?"},
                                          stream_mode="messages")
        if message.text
    ]
    assert len(tokens) > 2 and {node for _, node in tokens} == {"answer"}
    assert "Amazon" in "".join(text for text, _ in tokens)


async def test_the_graph_runs_async_too(runtime):
    out = await build(runtime).ainvoke({"question": "Which model family does Amazon Nova belong to?"})
    assert out["model"] in MODEL_IDS and out["answer"]
