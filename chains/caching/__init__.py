"""Prompt caching, placed automatically (issue 18): one owner for where ``cachePoint`` blocks go.

- ``facts``: THE accessor of a model's caching facts (minimum tokens per checkpoint, maximum checkpoints,
  TTL, cache read / write prices), looked up by model id in ``bedrock_local.catalogue``.
- ``marks``: candidate checkpoints while a prompt is formatted (``metadata.cache_after`` says which
  variables are stable), model-independent.
- ``placement``: per model, right before the one timed call: which candidates stay (never on a model without
  caching, never below its minimum, never more than its maximum), and the prefix LRU the router reads.
"""
