"""Shared test helpers (no tests here): imported as ``helpers.<module>``; tests/ is on sys.path (conftest)."""
