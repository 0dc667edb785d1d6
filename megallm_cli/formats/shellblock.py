"""Marked blocks in shell startup files, and stray exports found around them. Pure text, no I/O.

A block is the lines from a start marker to an end marker, both inclusive:

    # >>> megallm >>>          (PowerShell: #region megallm)
    ...body...
    # <<< megallm <<<          (PowerShell: #endregion megallm)

Everything outside the block belongs to the user and must survive every edit byte for byte, so
a marker counts only when it is a whole line on its own (surrounding blanks allowed): a marker
inside a string, an echo or a longer comment is the user's text, not ours. When the markers do
not pair up cleanly we raise instead of guessing which lines are ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

# What may surround a marker on its line; "\r" is there because lines are split on "\n" only,
# which leaves the CR of a CRLF line ending on the line itself.
_MARKER_LINE_BLANKS = " \t\r"


class BlockStyle(Enum):
    """Marker flavour: POSIX for sh, bash, zsh and fish (all use # comments), and PowerShell.

    The completion styles mark the block `megallm completion install` adds. They are a block
    of their own, not part of the env block, so either can be added or removed without the
    other, and one file may hold both (a marker must match a whole line, so neither pair
    mistakes the other's lines for its own).
    """

    POSIX = ("# >>> megallm >>>", "# <<< megallm <<<")
    POWERSHELL = ("#region megallm", "#endregion megallm")
    POSIX_COMPLETION = ("# >>> megallm completion >>>", "# <<< megallm completion <<<")
    POWERSHELL_COMPLETION = ("#region megallm completion", "#endregion megallm completion")

    @property
    def start_marker(self) -> str:
        return self.value[0]

    @property
    def end_marker(self) -> str:
        return self.value[1]


class ShellBlockError(ValueError):
    """The markers are present but do not form exactly one well-formed block."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based
    start: int  # offset of the first character
    content_end: int  # offset just past the text, before the line ending
    end: int  # offset just past the line ending ("\n" or "\r\n"), == content_end at EOF
    text: str  # the whole line, line ending included

    @property
    def content(self) -> str:
        return self.text[: self.content_end - self.start]

    @property
    def newline(self) -> str:
        return self.text[self.content_end - self.start :]


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        stop = offset + len(raw)
        has_newline = stop < len(text)
        content_end = stop - 1 if has_newline and raw.endswith("\r") else stop
        end = stop + 1 if has_newline else stop
        line = _Line(number, offset, content_end, end, raw + ("\n" if has_newline else ""))
        lines.append(line)
        offset = end
    return lines


def _is_marker(line: _Line, marker: str) -> bool:
    return line.content.strip(_MARKER_LINE_BLANKS) == marker


@dataclass(frozen=True)
class _Block:
    start: _Line
    end: _Line


def _marker_lines(text: str, style: BlockStyle) -> list[tuple[_Line, bool]]:
    """Every whole-line marker in order, paired with True for a start marker."""
    found = []
    for line in _lines(text):
        if _is_marker(line, style.start_marker):
            found.append((line, True))
        elif _is_marker(line, style.end_marker):
            found.append((line, False))
    return found


def _find(text: str, style: BlockStyle) -> _Block | None:
    markers = _marker_lines(text, style)
    if not markers:
        return None
    first, first_is_start = markers[0]
    if not first_is_start:
        raise ShellBlockError(first.number, f"{style.end_marker!r} without a start marker above it")
    if len(markers) == 1:
        raise ShellBlockError(first.number, f"{style.start_marker!r} has no end marker below it")
    second, second_is_start = markers[1]
    if second_is_start:
        raise ShellBlockError(
            second.number, f"a second start marker before the block from line {first.number} ends"
        )
    if len(markers) > 2:
        extra = markers[2][0]
        raise ShellBlockError(
            extra.number, f"more than one megallm block (the first is at line {first.number})"
        )
    return _Block(first, second)


def find_block(text: str, style: BlockStyle = BlockStyle.POSIX) -> tuple[int, int] | None:
    """The span of our block: from its start marker to past its end marker's line ending.

    None when there is no block; ShellBlockError when the markers are malformed.
    """
    block = _find(text, style)
    return None if block is None else (block.start.start, block.end.end)


def detect_newline(text: str) -> str:
    """The file's line ending, judged by its first line; LF for a file with no line break."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _render(body: str, style: BlockStyle, newline: str) -> str:
    """The block without a line ending after the end marker (the caller decides on that)."""
    body_lines = body.replace("\r\n", "\n").removesuffix("\n").split("\n") if body else []
    for line in body_lines:
        stripped = line.strip(_MARKER_LINE_BLANKS)
        if stripped in (style.start_marker, style.end_marker):
            raise ValueError(f"the block body must not contain a marker line: {line!r}")
    return newline.join([style.start_marker, *body_lines, style.end_marker])


def upsert_block(
    text: str, body: str, style: BlockStyle = BlockStyle.POSIX, newline: str | None = None
) -> str:
    """`text` with our block holding `body`: replaced where it stands, else appended.

    The block's line ending is `newline` when given (a shell that chokes on CR needs "\\n" even
    in a CRLF file), else the existing block's own, else the file's. Appending never changes
    whether the file ends with a line break: a file without one gets newline + block with no
    break after it, which is exactly how remove_block knows to take that break away again.
    """
    block = _find(text, style)
    if block is not None:
        # Keeping the block's own line ending means a re-run never flips it. Only the
        # marker-to-marker text is replaced: the end marker's line ending (or its absence)
        # stays, so replacing and removing compose.
        rendered = _render(body, style, newline or block.start.newline)
        return text[: block.start.start] + rendered + text[block.end.content_end :]
    newline = newline or detect_newline(text)
    rendered = _render(body, style, newline)
    if not text:
        return rendered + newline
    if text.endswith("\n"):
        return text + rendered + newline
    return text + newline + rendered


def remove_block(text: str, style: BlockStyle = BlockStyle.POSIX) -> str:
    """`text` without our block and the line break upsert_block added for it. No-op if absent."""
    block = _find(text, style)
    if block is None:
        return text
    head = text[: block.start.start]
    tail = text[block.end.end :]
    at_end_without_newline = not tail and not block.end.newline
    separator = block.start.newline
    if at_end_without_newline and separator and head.endswith(separator):
        # upsert_block appended to a file that had no final line break: give it back that way.
        head = head[: -len(separator)]
    return head + tail


# --- stray exports -------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """A line that sets one of the watched variables.

    `snippet` is a normalised form of the setting that ends before the value (`export NAME=…`),
    so a key in the user's file never reaches the screen through it.
    """

    line: int  # 1-based
    name: str
    snippet: str


# Where a shell command can begin on a line: the start, or after a separator or keyword.
_COMMAND_START = r"(?:^|[;&|({]|\b(?:then|do|else|and|or|begin)\b)\s*"
_SHELL_WORD_END = r"(?=\s|$)"


def _name_pattern(names: Iterable[str]) -> str:
    alternatives = []
    for name in names:
        if name.endswith("*"):
            alternatives.append(re.escape(name[:-1]) + r"\w*")
        else:
            alternatives.append(re.escape(name) + r"(?!\w)")
    return "(?P<name>" + "|".join(alternatives) + ")"


@dataclass(frozen=True)
class _ExportForm:
    pattern: re.Pattern[str]
    snippet: str  # format string over the match's named groups
    # For commands that take several assignments (export A=1 B=2): finds the names in `args`.
    argument: re.Pattern[str] | None = None


def _export_forms(names: Iterable[str]) -> list[_ExportForm]:
    name = _name_pattern(names)
    return [
        # sh/bash/zsh: export A=1 NAME=2, declare -x NAME=, typeset -gx NAME=
        _ExportForm(
            re.compile(
                _COMMAND_START
                + r"(?P<command>export|(?:declare|typeset)\s+-\w*x\w*)(?P<args>(?:\s+[^\s;&|)]+)+)"
            ),
            "{command} {name}=…",
            argument=re.compile(r"(?<!\S)" + name + "="),
        ),
        # a plain assignment at a command start: NAME=value, or NAME=value cmd
        _ExportForm(re.compile(_COMMAND_START + name + "="), "{name}=…"),
        # fish: set -gx NAME value, set --export NAME, set -Ux NAME (the x is checked apart)
        _ExportForm(
            re.compile(
                _COMMAND_START + r"set\s+(?P<flags>(?:-[-\w]+\s+)+)" + name + _SHELL_WORD_END
            ),
            "set {flags}{name} …",
        ),
        # csh/tcsh
        _ExportForm(
            re.compile(_COMMAND_START + r"setenv\s+" + name + _SHELL_WORD_END), "setenv {name} …"
        ),
        # PowerShell, whose variable names are case-insensitive
        _ExportForm(
            re.compile(r"(?<![\w$])\$env:" + name + r"\s*=(?!=)", re.IGNORECASE),
            "$env:{name} = …",
        ),
    ]


def _fish_flags_export(flags: str) -> bool:
    return any(
        flag == "--export" or (not flag.startswith("--") and "x" in flag) for flag in flags.split()
    )


# Quoted text is replaced by this character, neither a word character nor a blank: an
# `export` inside a string cannot match, and a quoted value with spaces stays one word.
_MASK = "\0"


def _code_part(line: str) -> str:
    """The line with quoted text masked and a trailing comment cut off.

    A per-line approximation of sh quoting that is good enough for rc files: a string that
    spans lines or a heredoc is not tracked, and fish/PowerShell escapes inside quotes differ
    slightly; the cost of a miss is one missed or one extra doctor hint, never an edit.
    """
    code: list[str] = []
    quote = ""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line) and quote != "'":
            code.append(_MASK * 2)
            index += 2
            continue
        if quote:
            if char == quote:
                quote = ""
                code.append(char)
            else:
                code.append(_MASK)
        elif char in "'\"":
            quote = char
            code.append(char)
        elif char == "#" and (index == 0 or line[index - 1] in " \t;&|()"):
            break
        else:
            code.append(char)
        index += 1
    return "".join(code)


def _block_line_numbers(lines: list[_Line], style: BlockStyle) -> set[int]:
    """Lines inside our blocks, leniently: every start marker paired with the next end marker.

    Lenient because a doctor scan must not fail on a malformed block: an unpaired marker
    hides nothing, and the malformed block itself is reported through find_block.
    """
    inside: set[int] = set()
    open_at: int | None = None
    for line in lines:
        if _is_marker(line, style.start_marker):
            open_at = line.number
        elif _is_marker(line, style.end_marker) and open_at is not None:
            inside.update(range(open_at, line.number + 1))
            open_at = None
    return inside


def find_exports(
    text: str, names: Iterable[str], style: BlockStyle = BlockStyle.POSIX
) -> list[Export]:
    """Lines outside our block that set one of `names` (a trailing * matches a prefix).

    Recognises `export NAME=`, `NAME=` at a command start, `declare/typeset -x NAME=`,
    fish `set -gx/-x/-Ux NAME`, csh `setenv NAME` and PowerShell `$env:NAME =`; not in
    comments, not in strings, and not `MY_NAME=` (the name must start where the command does).
    """
    forms = _export_forms(names)
    lines = _lines(text)
    ours = _block_line_numbers(lines, style)
    found: list[Export] = []
    for line in lines:
        if line.number in ours:
            continue
        code = _code_part(line.content)
        seen: set[str] = set()
        for form in forms:
            for match in form.pattern.finditer(code):
                groups = match.groupdict()
                flags = groups.get("flags")
                if flags is not None and not _fish_flags_export(flags):
                    continue
                if form.argument is None:
                    hits = [groups]
                else:
                    arguments = form.argument.finditer(groups["args"])
                    hits = [{**groups, **argument.groupdict()} for argument in arguments]
                for hit in hits:
                    if hit["name"] not in seen:
                        seen.add(hit["name"])
                        snippet = form.snippet.format(**hit)
                        found.append(Export(line.number, hit["name"], snippet))
    return found
