"""The bulk run as a Runnable: ``bulk(chain, s3_prefix)`` takes a list of records and returns the results.

    from chains import get_chain
    from chains.bulk import bulk
    results = bulk(get_chain("qa"), "s3://my-bucket/bulk").invoke([{"input": {"question": "..."}}, ...])

``wait=False`` returns the run (its ``to_dict()``: ``run`` names it) instead of waiting; ``stream`` yields
result lines as they are collected; ``batch``/``ainvoke``/``astream`` come from langchain-core (the blocking
boto3 calls run in the executor, as langchain-aws does).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Union

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from chains.bulk.collect import collect
from chains.bulk.submit import submit
from chains.chain import step_in_executor


class BulkRun(Runnable[List[Any], Union[List[Dict[str, Any]], Dict[str, Any]]]):
    def __init__(self, chain: Any, s3_prefix: str, *, wait: bool = True, options: Optional[Dict[str, Any]] = None,
                 max_cost_usd: Optional[float] = None, role_arn: Optional[str] = None,
                 poll_seconds: Optional[float] = None, progress: bool = False) -> None:
        self.chain = chain
        self.s3_prefix = s3_prefix
        self.wait = wait
        self.options = options
        self.max_cost_usd = max_cost_usd
        self.role_arn = role_arn
        self.poll_seconds = poll_seconds
        self.progress = progress

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{getattr(self.chain, 'name', 'chain')}.bulk"

    def _submit(self, records: List[Any]) -> Any:
        return submit(self.chain, records, self.s3_prefix, options=self.options, max_cost_usd=self.max_cost_usd,
                      role_arn=self.role_arn)

    def _run(self, records: List[Any]) -> Union[List[Dict[str, Any]], Dict[str, Any]]:
        run = self._submit(records)
        if not self.wait:
            return run.to_dict()
        return list(collect(run, wait=True, poll_seconds=self.poll_seconds, progress=self.progress))

    def invoke(self, input: List[Any], config: Optional[RunnableConfig] = None, **kwargs: Any) -> Any:
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        return self._call_with_config(self._run, input, config, run_type="chain")

    def stream(self, input: List[Any], config: Optional[RunnableConfig] = None, **kwargs: Any) -> Iterator[Any]:
        """One result line per record, as collected (after the jobs finish); ``wait=False``: the run."""
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        yield from self._transform_stream_with_config(iter([input]), self._results, config, run_type="chain")

    async def astream(self, input: List[Any], config: Optional[RunnableConfig] = None,
                      **kwargs: Any) -> AsyncIterator[Any]:
        """``stream`` stepped in the executor (boto3 and the waiting are blocking, as in langchain-aws)."""
        async for item in step_in_executor(config, self.stream(input, config, **kwargs)):
            yield item

    def _results(self, inputs: Iterator[Any]) -> Iterator[Any]:
        records: List[Any] = []
        for records in inputs:
            pass
        run = self._submit(records)
        if not self.wait:
            yield run.to_dict()
            return
        yield from collect(run, wait=True, poll_seconds=self.poll_seconds, progress=self.progress)



def bulk(chain: Any, s3_prefix: str, **kwargs: Any) -> BulkRun:
    """``chain`` as a bulk Runnable over Bedrock batch inference (see ``BulkRun``)."""
    return BulkRun(chain, s3_prefix, **kwargs)
