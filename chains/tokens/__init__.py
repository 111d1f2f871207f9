"""Tokens: the local estimator and window checks, the ``tokens:`` section, input optimisation, the report."""
