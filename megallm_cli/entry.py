"""The console script: `--version` answers before typer and rich load, so it is instant."""

from __future__ import annotations

import sys

VERSION_FLAGS = ("--version", "-V")
VERBOSE_FLAGS = ("--verbose", "-v")


def version_text(verbose: bool) -> str:
    """`megallm X.Y.Z`; verbose adds what a bug report needs: the Python and the platform."""
    from megallm_cli import __version__

    lines = [f"megallm {__version__}"]
    if verbose:
        import platform

        lines.append(
            f"Python {platform.python_version()} ({platform.python_implementation()})"
            f" at {sys.executable}"
        )
        lines.append(f"platform {platform.platform()}")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = sys.argv[1:]
    asks_version = any(arg in VERSION_FLAGS for arg in args)
    if asks_version and all(arg in VERSION_FLAGS + VERBOSE_FLAGS for arg in args):
        sys.stdout.write(version_text(verbose=any(arg in VERBOSE_FLAGS for arg in args)))
        return
    from megallm_cli.cli import run

    run()
