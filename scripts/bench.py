#!/usr/bin/env python3
"""Time whole megallm processes: min, median and max over N runs after a warm-up.

Each row is a name and a measure: a function that runs one process and returns its seconds.
To add a row, append a Row to ROWS (run_process(...) covers plain commands).

    python scripts/bench.py                     # every row, 10 runs each
    python scripts/bench.py --only prompt --runs 20
    python scripts/bench.py --compare "/other/venv/bin/megallm"   # same rows, side by side

Runs happen in a throwaway HOME, so no real config is read and nothing is written anywhere else.
"wizard: first prompt" starts `megallm setup` in a pseudo-terminal (pexpect) and stops the clock
when the first question's text appears; then it sends Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# (command prefix, environment) → seconds for one run.
Measure = Callable[[Sequence[str], dict[str, str]], float]

# The wizard's first question: the install offer when an agent is missing, else the agent pick.
FIRST_PROMPT = re.compile(rb"Install missing agents\?|Which agents should use MegaLLM\?")
PROMPT_TIMEOUT = 10.0


def run_process(args: Sequence[str]) -> Measure:
    """A measure that runs `CMD ARGS` to completion with no terminal."""

    def measure(command: Sequence[str], env: dict[str, str]) -> float:
        started = time.perf_counter()
        subprocess.run(
            [*command, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return time.perf_counter() - started

    return measure


def first_prompt(command: Sequence[str], env: dict[str, str]) -> float:
    """Seconds from starting `CMD setup` in a terminal until its first question is on screen."""
    import pexpect

    started = time.perf_counter()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "setup"],
        env=env,
        dimensions=(40, 100),
        timeout=PROMPT_TIMEOUT,
    )
    try:
        child.expect(FIRST_PROMPT)
        elapsed = time.perf_counter() - started
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return elapsed


@dataclass(frozen=True)
class Row:
    name: str
    measure: Measure


ROWS: list[Row] = [
    Row("megallm --version", run_process(["--version"])),
    Row("megallm --help", run_process(["--help"])),
    Row("megallm setup --help", run_process(["setup", "--help"])),
    Row("megallm status", run_process(["status"])),
    Row("wizard: first prompt", first_prompt),
]


@dataclass(frozen=True)
class Timing:
    runs: list[float]

    @property
    def low(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def high(self) -> float:
        return max(self.runs)


def time_row(
    row: Row, commands: Sequence[Sequence[str]], env: dict[str, str], runs: int, warmup: int
) -> list[Timing]:
    """One Timing per command. Runs alternate between the commands, so load that comes and goes
    on the machine weighs on each of them alike."""
    for _ in range(warmup):
        for command in commands:
            row.measure(command, env)
    seconds: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            seconds[index].append(row.measure(command, env))
    return [Timing(runs) for runs in seconds]


def default_megallm() -> str:
    beside_python = Path(sys.executable).parent / "megallm"
    found = str(beside_python) if beside_python.exists() else shutil.which("megallm")
    if not found:
        raise SystemExit("megallm is not installed here: pass --megallm PATH")
    return found


def isolated_env(root: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "xterm-256color",
        # pexpect's terminal never answers a cursor-position request.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def print_table(results: list[tuple[str, Timing, Timing | None]], runs: int) -> None:
    header = ["row", "min ms", "median ms", "max ms"]
    if any(compared for _, _, compared in results):
        header += ["compare median ms", "ratio"]
    lines = [header]
    for name, timing, compared in results:
        line = [name, ms(timing.low), ms(timing.median), ms(timing.high)]
        if compared:
            line += [ms(compared.median), f"{timing.median / compared.median:.2f}x"]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"{runs} runs per row after a warm-up; load average {os.getloadavg()[0]:.2f}")
    for index, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per row (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--megallm", default=None, help="the megallm command to time")
    parser.add_argument("--compare", metavar="CMD", help="time the same rows with CMD too")
    parser.add_argument(
        "--only", action="append", default=[], help="rows whose name contains this (repeatable)"
    )
    options = parser.parse_args(argv)
    command = shlex.split(options.megallm) if options.megallm else [default_megallm()]
    compare = shlex.split(options.compare) if options.compare else None
    rows = [r for r in ROWS if not options.only or any(o in r.name for o in options.only)]
    results = []
    with tempfile.TemporaryDirectory(prefix="megallm-bench-") as temp:
        env = isolated_env(Path(temp))
        commands = [command, compare] if compare else [command]
        for row in rows:
            timings = time_row(row, commands, env, options.runs, options.warmup)
            results.append((row.name, timings[0], timings[1] if compare else None))
    print_table(results, options.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
