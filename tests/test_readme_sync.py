"""The README and docs/ stay in sync with the program.

Every `megallm …` line in a shell code block must parse with the real command definitions
(typer's click objects, the parser the program itself uses): the command exists, each option
exists on it, takes a value or not as written, and a value from a fixed set (agent ids,
levels, shells) is one of them. And every command is shown in the README at least once. The
checks know nothing about particular commands, so a command or flag added later is covered.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from megallm_cli.cli import app
from megallm_cli.completion import Command, Option, command_tree

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "shell", "zsh", "fish", "console", "powershell", "pwsh"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[\w-]*)\s*$")
SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTION = re.compile(r"^\d*[<>]")
# A value written as a placeholder (ID, SHELL) stands for any value.
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")


# A line that runs megallm (not one that merely mentions a path with megallm in it).
RUNS_MEGALLM = re.compile(r"(?:^|[\s|&;(])megallm(?:\s|$)")


@dataclass(frozen=True)
class Example:
    document: Path
    line: int
    text: str  # the shell line, continuation lines joined

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}: {self.text.strip()}"

    @property
    def invocations(self) -> list[tuple[str, ...]]:
        return invocations(self.text)


def shell_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line number of the first line, lines) of each fenced block in a shell language."""
    blocks = []
    language: str | None = None
    start = 0
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and language is None:
            language, start, lines = fence.group("language"), number + 1, []
        elif fence:
            if language in SHELL_LANGUAGES:
                blocks.append((start, lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def examples(document: Path) -> list[Example]:
    found = []
    for start, lines in shell_blocks(document.read_text(encoding="utf-8")):
        logical = ""
        for offset, line in enumerate(lines):
            if line.startswith("$ "):
                line = line[2:]
            logical += line
            if logical.endswith("\\"):
                logical = logical[:-1] + " "
                continue
            if RUNS_MEGALLM.search(logical):
                found.append(Example(document, start + offset, logical))
            logical = ""
    return found


def invocations(line: str) -> list[tuple[str, ...]]:
    """The arguments of each `megallm` command on a shell line (env prefixes, pipes, && …)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    found = []
    for index, token in enumerate(tokens):
        if token != "megallm":
            continue
        arguments = []
        skip_next = False
        for word in tokens[index + 1 :]:
            if word in SEPARATORS:
                break
            if skip_next:  # the file of a redirection
                skip_next = False
                continue
            if REDIRECTION.match(word):
                skip_next = word.rstrip("0123456789") in ("<", ">", ">>")
                continue
            arguments.append(word)
        found.append(tuple(arguments))
    return found


ALL_EXAMPLES = [example for document in DOCUMENTS for example in examples(document)]
ROOT_COMMAND = typer.main.get_command(app)
TREE = command_tree(ROOT_COMMAND)


def check_value(option: Option, value: str) -> None:
    if (
        option.value_kind == "choice"
        and value not in option.values
        and not PLACEHOLDER.match(value)
    ):
        raise ValueError(f"{option.names[0]} {value!r} is not one of {', '.join(option.values)}")


def check(arguments: tuple[str, ...]) -> None:
    """Parse like the program does, without running anything; raise on the first problem.

    Options of a command group are checked against the tree; the final command's arguments
    go through its own click parser, which rejects what the program would reject.
    """
    command: Any = ROOT_COMMAND
    node = TREE
    context = command.context_class(command, info_name="megallm", **command.context_settings)
    words = list(arguments)
    while node.subcommands:
        if not words:
            return  # a bare group shows its help
        word = words.pop(0)
        if word.startswith("-"):
            name, equals, value = word.partition("=")
            option = next((o for o in node.options if name in o.names), None)
            if option is None:
                raise ValueError(f"`megallm {node.key}` has no option {name}".replace("  ", " "))
            if option.takes_value and not equals:
                if not words:
                    raise ValueError(f"{name} needs a value")
                value = words.pop(0)
            if option.takes_value:
                check_value(option, value)
            continue
        sub = next((s for s in node.subcommands if s.path[-1] == word), None)
        if sub is None:
            raise ValueError(f"there is no command `megallm {' '.join((*node.path, word))}`")
        node, command = sub, command.get_command(context, word)
        context = command.context_class(
            command, info_name=word, parent=context, **command.context_settings
        )
    parsed = command.make_context(node.path[-1], words, parent=context.parent)
    for option in node.options:
        param = next(p for p in command.get_params(parsed) if option.names[0] in p.opts)
        value = parsed.params.get(param.name)
        if not option.takes_value or value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            check_value(option, str(item))


def test_the_documents_show_commands_at_all() -> None:
    assert len([e for e in ALL_EXAMPLES if e.document.name == "README.md"]) >= 10


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=str)
def test_every_documented_command_line_parses(example: Example) -> None:
    for arguments in example.invocations:
        try:
            check(arguments)
        except Exception as failure:  # click's UsageError, typer.Exit for --help, ValueError
            if type(failure).__name__ in ("Exit", "NoArgsIsHelpError"):
                continue  # --help, --version, or a bare group: shown, then done
            message = failure.format_message() if hasattr(failure, "format_message") else failure
            pytest.fail(f"{example}\n  {message}")


@pytest.mark.parametrize("command", list(TREE.walk())[1:], ids=lambda c: c.key)
def test_every_command_is_shown_in_the_readme(command: Command) -> None:
    readme = [
        args for e in ALL_EXAMPLES if e.document.name == "README.md" for args in e.invocations
    ]
    words = [[w for w in args if not w.startswith("-")] for args in readme]
    assert any(w[: len(command.path)] == list(command.path) for w in words), (
        f"README.md shows no `megallm {command.key}` line in a code block: add one"
    )


def test_a_wrong_flag_is_caught() -> None:
    """The checker itself: it must reject what the program rejects."""
    for wrong in [
        ("setup", "--agnet", "codex"),
        ("setup", "--level", "global"),
        ("statuz",),
        ("completion", "install", "--shell", "tcsh"),
        ("doctor", "--agent"),
    ]:
        with pytest.raises(Exception):  # noqa: B017 — click's and ours, whichever comes first
            check(wrong)
