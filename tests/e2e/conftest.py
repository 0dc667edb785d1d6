"""Gates and fixtures for the end-to-end tests.

`e2e`-marked tests (here and elsewhere) run only when asked for — `pytest -m e2e` or
MEGALLM_E2E=1 — so the README's test command stays fast and needs neither npm nor the agents.
They also need a network namespace with nothing but loopback, because the agents try vendor
hosts; scripts/run_e2e.sh provides one (MEGALLM_E2E_NETWORK=allow waives that where a
namespace cannot be made, as in some CI containers).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Home
from tests.e2e.agents import AgentSpec, InstallFailed, cache_dir, install, installed_binary


def e2e_requested(config: pytest.Config) -> bool:
    markexpr = str(config.getoption("markexpr", "") or "")
    return os.environ.get("MEGALLM_E2E") == "1" or "e2e" in markexpr.replace("not e2e", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if e2e_requested(config):
        return
    skip = pytest.mark.skip(
        reason="end-to-end: run `scripts/run_e2e.sh` (or pytest -m e2e, or MEGALLM_E2E=1)"
    )
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def only_loopback() -> bool:
    """True in a network namespace whose one interface is lo: nothing can leave the machine."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture(autouse=True)
def _isolated_network(request: pytest.FixtureRequest) -> None:
    if "e2e" not in request.node.keywords:
        return
    if not only_loopback() and os.environ.get("MEGALLM_E2E_NETWORK") != "allow":
        pytest.skip(
            "not in a loopback-only network namespace: run scripts/run_e2e.sh "
            "(or set MEGALLM_E2E_NETWORK=allow to let the agents reach the network)"
        )


def agent_binary(spec: AgentSpec) -> Path:
    """The installed agent, installing it if needed; skips only when npm is absent outside CI."""
    from megallm_cli.agents import AGENT_IDS

    if spec.agent not in AGENT_IDS:
        pytest.skip(f"agent {spec.agent} not registered yet")
    cache = cache_dir()
    found = installed_binary(spec, cache)
    if found:
        return found
    if shutil.which("npm") is None and not os.environ.get("CI"):
        pytest.skip(f"npm is not installed, so {spec.requirement} cannot be installed")
    try:
        return install(spec, cache)
    except InstallFailed as error:
        pytest.fail(str(error))


@pytest.fixture
def leftovers(home: Home) -> Iterator[None]:
    """Afterwards, end every process still running with this test's HOME (by PID)."""
    yield
    import psutil

    mine = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.environ().get("HOME") == str(home.home):
                mine.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for process in mine:
        process.terminate()
    _, alive = psutil.wait_procs(mine, timeout=5)
    for process in alive:
        process.kill()
