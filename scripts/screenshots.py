#!/usr/bin/env python3
"""Render the README's screenshots from the real program into docs/images/*.svg.

The installed `megallm` (the one next to this Python) runs in a throwaway HOME against the
stand-in gateway (scripts/fake_gateway.py) on 127.0.0.1, with stub `claude` and `codex`
programs on PATH so that there is something to detect. Each command runs in a tmux pane the
size of a terminal, and what the pane shows at the end (its colours included) is recorded
with rich's Console(record=True) and saved as SVG: spinners and redrawn prompts end up as a
person saw them, not as the raw stream of escapes. The wizard is driven with key presses.

    python scripts/screenshots.py             # rewrite docs/images/
    python scripts/screenshots.py --out DIR   # somewhere else

Needs tmux. Nothing outside the throwaway directory is read or written, and nothing but
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
DEMO_KEY = "sk-mega-demo-0123456789abcdef0123456789"
COLUMNS = 100
PREFERRED_PORT = 8787  # the port the docs use; any free one when it is taken
STEP_TIMEOUT = 30.0


def load_fake_gateway() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fake_gateway", ROOT / "scripts" / "fake_gateway.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit("cannot load scripts/fake_gateway.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_gateway"] = module  # its dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@dataclass
class Demo:
    """A throwaway machine: HOME, a project in it, stub agents, and the stand-in gateway."""

    root: Path
    gateway_url: str
    tmux: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def project(self) -> Path:
        return self.home / "src" / "app"

    def prepare(self) -> None:
        self.project.mkdir(parents=True)
        stubs = self.root / "bin"
        stubs.mkdir()
        for name, version in (("claude", "2.1.332 (Claude Code)"), ("codex", "codex-cli 0.171.0")):
            stub = stubs / name
            stub.write_text(f"#!/bin/sh\necho '{version}'\n")
            stub.chmod(0o755)
        (self.home / ".bashrc").write_text("# ~/.bashrc\nalias ll='ls -l'\n")
        megallm = Path(sys.executable).parent / "megallm"
        if not megallm.exists():
            raise SystemExit(f"no megallm next to {sys.executable}: pip install -e .")
        self.env = {
            "HOME": str(self.home),
            "PATH": f"{stubs}:{megallm.parent}:/usr/bin:/bin",
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "LANG": "C.UTF-8",
            "SHELL": "/bin/bash",
            "MEGALLM_SHELL": "bash",
            "MEGALLM_BASE_URL": self.gateway_url,
            "MEGALLM_API_KEY": DEMO_KEY,
        }

    def run_quietly(self, *arguments: str) -> None:
        """A step that prepares the machine; its output is not part of any picture."""
        subprocess.run(
            ["megallm", *arguments],
            env=self.env,
            cwd=self.project,
            capture_output=True,
            check=True,
            timeout=120,
        )

    def screen(
        self, arguments: Sequence[str], keys: Sequence[tuple[str, str]] = (), rows: int = 50
    ) -> tuple[str, dict[str, str]]:
        """Run megallm in a terminal; press each key once its text is on screen.

        Returns the final screen, and the screen as it was when each key's text appeared.
        """
        socket = str(self.root / "tmux.sock")
        tmux = [self.tmux, "-S", socket, "-f", "/dev/null"]
        environment = [f"{name}={value}" for name, value in self.env.items()]
        # `exec sleep` keeps the pane open once megallm is done, so its last screen stays.
        command = ["env", "-i", *environment, "sh", "-c", 'megallm "$@"; exec sleep 600', "sh"]
        session = ["new-session", "-d", "-s", "demo", "-c", str(self.project)]
        size = ["-x", str(COLUMNS), "-y", str(rows)]
        subprocess.run(
            [*tmux, *session, *size, *command, *arguments],
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin"},
            check=True,
        )
        seen: dict[str, str] = {}
        try:
            for text, key in keys:
                seen[text] = self._wait(tmux, lambda screen, text=text: text in screen, repr(text))
                subprocess.run([*tmux, "send-keys", "-t", "demo", key], check=True)
            finished = self._wait(tmux, lambda _: self._finished(tmux), "megallm to finish")
        finally:
            subprocess.run([*tmux, "kill-server"], check=False)
        return finished, seen

    def _capture(self, tmux: list[str]) -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-t", "demo"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def _finished(self, tmux: list[str]) -> bool:
        current = subprocess.run(
            [*tmux, "display-message", "-p", "-t", "demo", "#{pane_current_command}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return current == "sleep"

    def _wait(self, tmux: list[str], done: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            screen = self._capture(tmux)
            if done(screen):
                time.sleep(0.3)  # let the terminal finish drawing
                return self._capture(tmux)
            time.sleep(0.1)
        raise SystemExit(f"waited {STEP_TIMEOUT:.0f}s for {what}; last screen:\n{screen}")

    def anonymise(self, screen: str) -> str:
        """Throwaway paths read as the home they stand for."""
        return screen.replace(str(self.home), "~").replace(str(self.root / "bin"), "/usr/local/bin")


def save_svg(screen: str, command: str, title: str, path: Path) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True,
        width=COLUMNS,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    console.print(Text.from_markup(f"[bold green]$[/] {command}"))
    console.print(Text.from_ansi(screen.rstrip("\n")))
    path.parent.mkdir(parents=True, exist_ok=True)
    console.save_svg(str(path), title=title)
    print(path)


def render(out: Path) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        raise SystemExit("tmux is needed: apt-get install tmux")
    fake_gateway = load_fake_gateway()
    try:
        gateway = fake_gateway.FakeGateway(port=PREFERRED_PORT, keys={DEMO_KEY})
        gateway.start()
    except OSError:
        gateway = fake_gateway.FakeGateway(keys={DEMO_KEY})
        gateway.start()
    try:
        with tempfile.TemporaryDirectory(prefix="megallm-screens-") as directory:
            demo = Demo(Path(directory), gateway.url, tmux)
            demo.prepare()
            _wizard(demo, out)
            _doctor_and_status(demo, out)
    finally:
        gateway.stop()


def _wizard(demo: Demo, out: Path) -> None:
    picker = "Which agents should use MegaLLM?"
    final, seen = demo.screen(
        ["setup"],
        keys=[
            ("Install missing agents?", "Enter"),
            (picker, "Enter"),
            ("Where should the settings go?", "Enter"),
            ("Use the key in MEGALLM_API_KEY", "Enter"),
            ("Default models?", "Enter"),
            ("Apply ", "Enter"),
            ("Run `megallm doctor` now?", "Enter"),
        ],
        rows=72,
    )
    save_svg(demo.anonymise(seen[picker]), "megallm setup", "megallm setup", out / "wizard.svg")
    save_svg(demo.anonymise(final), "megallm setup", "megallm setup", out / "wizard-done.svg")
    demo.run_quietly("restore", "--latest")


def _doctor_and_status(demo: Demo, out: Path) -> None:
    demo.run_quietly("setup", "--agent", "claude-code", "--agent", "codex", "--yes")
    doctor, _ = demo.screen(["doctor", "--online"])
    save_svg(
        demo.anonymise(doctor), "megallm doctor --online", "megallm doctor", out / "doctor.svg"
    )
    status, _ = demo.screen(["status"], rows=20)
    save_svg(demo.anonymise(status), "megallm status", "megallm status", out / "status.svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="target directory")
    render(parser.parse_args().out)


if __name__ == "__main__":
    main()
