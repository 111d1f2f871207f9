"""A fake Lambda context: the attributes the handler and Powertools read (as Powertools' own tests do)."""

from __future__ import annotations


class FakeLambdaContext:
    """The attributes of a Lambda context object that the handler reads (as Powertools' tests do)."""

    function_name = "bedrock-chains"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-chains"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/bedrock-chains"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    def __init__(self, request_id: str = "req-0001", remaining_ms: int = 300_000) -> None:
        self.aws_request_id = request_id
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining
