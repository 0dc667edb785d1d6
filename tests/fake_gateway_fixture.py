"""The ``fake_gateway`` pytest fixture: a started stand-in MegaLLM gateway on loopback.

The implementation lives in ``scripts/fake_gateway.py`` so that it also runs as a program (for
real agents in e2e runs); it is loaded here by path because ``scripts/`` is not a package.

Use it from a test module with ``from tests.fake_gateway_fixture import fake_gateway``, or for
every test with ``pytest_plugins = ["tests.fake_gateway_fixture"]`` in ``tests/conftest.py``.
The fixture is typed ``Any`` because the class lives outside a package.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GATEWAY_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fake_gateway.py"
MODULE_NAME = "megallm_fake_gateway"

# A key with the gateway's prefix and a recognisable body; valid only for the stand-in.
TEST_KEY = "sk-mega-test-0123456789abcdef0123456789"
REVOKED_TEST_KEY = "sk-mega-revoked-0123456789abcdef01234567"


def load_fake_gateway_module() -> ModuleType:
    """Import scripts/fake_gateway.py once per process, under a stable module name."""
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(MODULE_NAME, GATEWAY_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the stand-in gateway from {GATEWAY_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses resolve their module through sys.modules.
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_gateway() -> Iterator[Any]:
    """A started FakeGateway accepting TEST_KEY (REVOKED_TEST_KEY gets 403); stopped after."""
    module = load_fake_gateway_module()
    gateway = module.FakeGateway(keys={TEST_KEY}, revoked_keys={REVOKED_TEST_KEY})
    with gateway:
        yield gateway
