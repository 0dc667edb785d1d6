#!/usr/bin/env python3
"""Rewrite completions/ from megallm's real command definitions.

Run it after adding or changing a command or an option; tests/test_completions.py fails until
the files match the program again.

    python scripts/gen_completions.py             # rewrite completions/
    python scripts/gen_completions.py --out DIR   # write them somewhere else
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMPLETIONS_DIR = Path(__file__).resolve().parent.parent / "completions"


def generate(out_dir: Path) -> list[Path]:
    """Render every shell's script into `out_dir`; returns the files written."""
    import typer.main

    from megallm_cli.cli import app
    from megallm_cli.completion import SCRIPT_NAMES, SHELLS, command_tree, render

    tree = command_tree(typer.main.get_command(app))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in SHELLS:
        path = out_dir / SCRIPT_NAMES[shell]
        # LF everywhere: the shells that read these choke on CR, PowerShell reads either.
        path.write_text(render(shell, tree), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=COMPLETIONS_DIR, help="target directory")
    arguments = parser.parse_args()
    for path in generate(arguments.out):
        print(path)


if __name__ == "__main__":
    main()
