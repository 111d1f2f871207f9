"""The ``bulk:`` section of config.yaml (validated through the config package's section helper).

    bulk:
      role_arn: arn:aws:iam::123456789012:role/bedrock-batch   # the batch service role (or --role-arn / env)
      min_records_per_job: 100        # Bedrock's default quota; smaller groups run on demand
      max_records_per_job: 50000
      max_bytes_per_file: 1000000000  # 1 GB per input file
      on_demand_concurrency: 4        # on-demand records in flight at once (Runnable.batch max_concurrency)
      poll_seconds: 30                # status polling while waiting
      timeout_hours: 24               # timeoutDurationInHours of each job (24..168)

Record quotas per model come from the model catalogue when it has them; these are the defaults.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from chains.bulk._deps import section

ROLE_ENV = "BULK_ROLE_ARN"
# Offline (bedrock_local) a role is still required by the API shape; any well-formed ARN will do.
OFFLINE_ROLE = "arn:aws:iam::123456789012:role/bedrock-chains-batch"


class BulkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_arn: Optional[str] = Field(default=None, min_length=20)
    # Quotas (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html, FACTS.md).
    min_records_per_job: int = Field(default=100, ge=1)
    max_records_per_job: int = Field(default=50_000, ge=1)
    max_bytes_per_file: int = Field(default=1_000_000_000, ge=1024)
    on_demand_concurrency: int = Field(default=4, ge=1, le=64)
    poll_seconds: float = Field(default=30.0, gt=0)
    timeout_hours: int = Field(default=24, ge=24, le=168)


def bulk_settings(settings: Any) -> BulkSettings:
    return section(settings, "bulk", BulkSettings)


def role_arn(settings: Any, given: Optional[str] = None, backend: str = "bedrock") -> Optional[str]:
    """The batch service role: the argument, then ``$BULK_ROLE_ARN``, then ``bulk.role_arn``; offline a dummy."""
    arn = given or os.environ.get(ROLE_ENV) or bulk_settings(settings).role_arn
    if not arn and backend == "local":
        arn = OFFLINE_ROLE
    return arn
