"""Strategies: how a chain runs. Each module defines one ``chains.chain.StrategySpec`` (named in
``chains.registry.STRATEGIES``): ``single``, ``routed`` (and ``fallback``), ``map_reduce``, ``chat``,
``agent``, and ``compare`` (with its judge, S3 storage and table report)."""
