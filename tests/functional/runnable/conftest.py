"""Fixtures of the Runnable suites that run on every configured chain (``pytestmark`` parametrises ``name``)."""

from __future__ import annotations

import pytest

from chains import get_chain
from helpers.runnable_cases import sample_input


@pytest.fixture
def chain(runtime, name):
    return get_chain(name, runtime)


@pytest.fixture
def sample(runtime, name):
    return sample_input(runtime, name)
