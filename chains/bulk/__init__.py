"""Bulk runs on Bedrock batch inference: a chain over thousands of records at batch prices, resumable.

    run = submit(get_chain("qa"), records, "s3://bucket/prefix")    # plan, budget check, S3, jobs
    status(run)                                                      # jobs' states
    for result in collect(run, wait=True): ...                       # one result per record, exactly once
    retry_failed(run)                                                # failed records again, on demand
    bulk(get_chain("qa"), "s3://bucket/prefix").invoke(records)      # the same as a Runnable

docs/bulk.md explains the S3 layout, the manifest, IAM and the Step Functions state machine.
"""

from chains.bulk.cancel import cancel
from chains.bulk.collect import collect, collect_all, retry_failed
from chains.bulk.manifest import Run
from chains.bulk.runnable import BulkRun, bulk
from chains.bulk.status import status, wait
from chains.bulk.submit import submit

__all__ = ["BulkRun", "Run", "bulk", "cancel", "collect", "collect_all", "retry_failed", "status",
           "submit", "wait"]
