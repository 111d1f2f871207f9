"""Routing: which model answers and which stand behind it. The section (``settings``), the content signals
(``signals``), the optional LLM classifier (``classifier``) and THE decision (``decision``: ``decide``, one
``RouteDecision``, one candidates rule, one ``Candidate`` record per model, ``eligible``, ``Router``)."""
