"""The preview before asking retries a parse error only for a file that is being rewritten."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from megallm_cli import operations
from megallm_cli.errors import ConfigParseError


def flaky_build(path: Path, failures: int) -> tuple[list[int], Callable[[], operations.Plan]]:
    calls: list[int] = []
    plan = operations.Plan([])

    def build() -> operations.Plan:
        calls.append(1)
        if len(calls) <= failures:
            raise ConfigParseError(path, 523, 2, "unexpected end of input")
        return plan

    return calls, build


def test_a_file_caught_halfway_through_a_rewrite_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / ".claude.json"
    path.write_text("{}")  # modified just now, as by an agent's in-place rewrite
    calls, build = flaky_build(path, failures=2)

    assert operations.preview(build).agent_plans == []
    assert len(calls) == 3


def test_a_malformed_file_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{")
    an_hour_ago = path.stat().st_mtime - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    calls, build = flaky_build(path, failures=99)

    with pytest.raises(ConfigParseError, match=r"settings\.json:523:2"):
        operations.preview(build)
    assert len(calls) == 1


def test_a_file_that_never_settles_fails_after_a_few_tries(tmp_path: Path) -> None:
    path = tmp_path / ".claude.json"
    path.write_text("{")
    calls, build = flaky_build(path, failures=99)

    with pytest.raises(ConfigParseError):
        operations.preview(build)
    assert len(calls) == operations.PREVIEW_ATTEMPTS
