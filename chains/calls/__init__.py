"""Model calls: one timed call (``call``), bounded calls (``bounded``), the stream loop (``stream``), the
cooldown breaker (``cooldown``), the ``resilience:`` section (``settings``) and the fallback run (``fallback``)."""
