"""The console script: `--version` answers before typer and rich load, so it is instant."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from megallm_cli import __version__

        sys.stdout.write(f"megallm {__version__}\n")
        return
    from megallm_cli.cli import run

    run()
