from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from megallm_cli.formats.shellblock import (
    BlockStyle,
    ShellBlockError,
    detect_newline,
    find_block,
    find_exports,
    remove_block,
    upsert_block,
)

POSIX = BlockStyle.POSIX
PS = BlockStyle.POWERSHELL
BODY = 'if [ -f "$HOME/env.sh" ]; then . "$HOME/env.sh"; fi'
BLOCK = f"# >>> megallm >>>\n{BODY}\n# <<< megallm <<<"
ALL_MARKERS = {marker for style in BlockStyle for marker in style.value}


# --- unit tests ------------------------------------------------------------------------------


def test_empty_file_gets_the_block_and_nothing_else() -> None:
    assert upsert_block("", BODY) == BLOCK + "\n"
    assert remove_block(BLOCK + "\n") == ""


def test_appends_after_a_final_newline_without_a_blank_line() -> None:
    assert upsert_block("a\nb\n", BODY) == "a\nb\n" + BLOCK + "\n"


def test_file_without_final_newline_keeps_having_none() -> None:
    inserted = upsert_block("a\nb", BODY)
    assert inserted == "a\nb\n" + BLOCK
    assert remove_block(inserted) == "a\nb"


def test_crlf_file_gets_a_crlf_block() -> None:
    inserted = upsert_block("a\r\nb\r\n", BODY)
    assert inserted == "a\r\nb\r\n" + BLOCK.replace("\n", "\r\n") + "\r\n"
    assert remove_block(inserted) == "a\r\nb\r\n"


def test_replaces_in_place_and_keeps_everything_around() -> None:
    text = "top\n# >>> megallm >>>\nold body\nmore\n# <<< megallm <<<\nbottom\n"
    assert upsert_block(text, BODY) == f"top\n{BLOCK}\nbottom\n"


def test_replacing_keeps_the_blocks_own_line_endings() -> None:
    text = "a\r\n# >>> megallm >>>\nold\n# <<< megallm <<<\n"
    assert upsert_block(text, "new") == "a\r\n# >>> megallm >>>\nnew\n# <<< megallm <<<\n"


def test_an_explicit_newline_wins_over_the_files_and_the_blocks() -> None:
    inserted = upsert_block("a\r\n", "x", newline="\n")
    assert inserted == "a\r\n# >>> megallm >>>\nx\n# <<< megallm <<<\n"
    assert remove_block(inserted) == "a\r\n"
    crlf_block = "# >>> megallm >>>\r\nx\r\n# <<< megallm <<<\r\n"
    assert (
        upsert_block(crlf_block, "y", newline="\n") == "# >>> megallm >>>\ny\n# <<< megallm <<<\r\n"
    )
    unterminated = upsert_block("a\r\nb", "x", newline="\n")
    assert unterminated == "a\r\nb\n# >>> megallm >>>\nx\n# <<< megallm <<<"
    assert remove_block(unterminated) == "a\r\nb"


def test_upsert_is_idempotent() -> None:
    once = upsert_block("x=1\n", BODY)
    assert upsert_block(once, BODY) == once


def test_markers_may_be_indented_and_have_trailing_blanks() -> None:
    text = "a\n  # >>> megallm >>>\t\nold\n\t# <<< megallm <<<  \nb\n"
    assert find_block(text) == (2, len(text) - 2)
    assert remove_block(text) == "a\nb\n"


@pytest.mark.parametrize(
    "line",
    [
        'echo "# >>> megallm >>>"',
        "echo '# <<< megallm <<<'",
        "# >>> megallm >>> old copy",
        "## >>> megallm >>>",
        "#>>> megallm >>>",
        "# >>> MEGALLM >>>",
        "#region megallm",  # a PowerShell marker is just a comment to sh
    ],
)
def test_marker_lookalikes_are_user_text(line: str) -> None:
    text = f"{line}\nx\n"
    assert find_block(text) is None
    inserted = upsert_block(text, BODY)
    assert inserted == text + BLOCK + "\n"
    assert remove_block(inserted) == text


def test_powershell_style() -> None:
    inserted = upsert_block("Set-Alias g git\n", ". 'C:/env.ps1'", PS)
    assert inserted == "Set-Alias g git\n#region megallm\n. 'C:/env.ps1'\n#endregion megallm\n"
    assert find_block(inserted, POSIX) is None
    assert remove_block(inserted, PS) == "Set-Alias g git\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a\n# >>> megallm >>>\nb\n", 2, "no end marker"),
        ("a\n# <<< megallm <<<\nb\n", 2, "without a start marker"),
        ("# <<< megallm <<<\n# >>> megallm >>>\n", 1, "without a start marker"),
        ("# >>> megallm >>>\n# >>> megallm >>>\n# <<< megallm <<<\n", 2, "second start"),
        (
            "# >>> megallm >>>\n# <<< megallm <<<\nx\n# >>> megallm >>>\n# <<< megallm <<<\n",
            4,
            "more than one",
        ),
    ],
)
def test_malformed_blocks_raise_with_the_line_instead_of_guessing(
    text: str, line: int, words: str
) -> None:
    for operation in (find_block, remove_block, lambda t: upsert_block(t, BODY)):
        with pytest.raises(ShellBlockError, match=words) as caught:
            operation(text)
        assert caught.value.line == line
        assert str(caught.value).startswith(f"line {line}:")


def test_shell_block_error_is_a_value_error() -> None:
    assert issubclass(ShellBlockError, ValueError)


def test_body_may_not_contain_a_marker() -> None:
    with pytest.raises(ValueError, match="marker"):
        upsert_block("", "x\n  # <<< megallm <<<\ny")


def test_remove_is_a_no_op_without_a_block() -> None:
    assert remove_block("a\r\nb") == "a\r\nb"


def test_remove_keeps_text_after_the_block() -> None:
    inserted = upsert_block("a", BODY) + "\nexport B=1"
    assert remove_block(inserted) == "a\nexport B=1"


@pytest.mark.parametrize(
    ("text", "newline"), [("", "\n"), ("a", "\n"), ("a\r\nb\n", "\r\n"), ("\r\n", "\r\n")]
)
def test_detect_newline(text: str, newline: str) -> None:
    assert detect_newline(text) == newline


# --- stray exports ---------------------------------------------------------------------------

NAMES = ["MEGALLM_API_KEY", "OPENAI_*", "ANTHROPIC_*"]


@pytest.mark.parametrize(
    ("line", "name", "snippet"),
    [
        ("export MEGALLM_API_KEY=sk-mega-1", "MEGALLM_API_KEY", "export MEGALLM_API_KEY=…"),
        ("  export OPENAI_API_KEY='sk 1'", "OPENAI_API_KEY", "export OPENAI_API_KEY=…"),
        ('export PATH="$PATH:/x" OPENAI_BASE_URL=u', "OPENAI_BASE_URL", "export OPENAI_BASE_URL=…"),
        ("ANTHROPIC_API_KEY=sk-ant", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY=…"),
        ("ANTHROPIC_MODEL=x claude", "ANTHROPIC_MODEL", "ANTHROPIC_MODEL=…"),
        ("if true; then export OPENAI_X=1; fi", "OPENAI_X", "export OPENAI_X=…"),
        ("[ -n x ] && export OPENAI_X=1", "OPENAI_X", "export OPENAI_X=…"),
        ("declare -x OPENAI_X=1", "OPENAI_X", "declare -x OPENAI_X=…"),
        ("typeset -gx OPENAI_X=1", "OPENAI_X", "typeset -gx OPENAI_X=…"),
        (
            "set -gx ANTHROPIC_BASE_URL http://x",
            "ANTHROPIC_BASE_URL",
            "set -gx ANTHROPIC_BASE_URL …",
        ),
        ("set -x OPENAI_API_KEY k", "OPENAI_API_KEY", "set -x OPENAI_API_KEY …"),
        ("set -Ux OPENAI_API_KEY k", "OPENAI_API_KEY", "set -Ux OPENAI_API_KEY …"),
        ("set --global --export OPENAI_X k", "OPENAI_X", "set --global --export OPENAI_X …"),
        ("setenv OPENAI_API_KEY k", "OPENAI_API_KEY", "setenv OPENAI_API_KEY …"),
        ("$env:OPENAI_API_KEY = 'k'", "OPENAI_API_KEY", "$env:OPENAI_API_KEY = …"),
        ("$Env:openai_api_key='k'", "openai_api_key", "$env:openai_api_key = …"),
        ("export OPENAI_API_KEY=k # comment", "OPENAI_API_KEY", "export OPENAI_API_KEY=…"),
    ],
)
def test_find_exports_recognises(line: str, name: str, snippet: str) -> None:
    assert [(e.line, e.name, e.snippet) for e in find_exports(f"# header\n{line}\n", NAMES)] == [
        (2, name, snippet)
    ]


@pytest.mark.parametrize(
    "line",
    [
        "# export OPENAI_API_KEY=x",
        "   # OPENAI_API_KEY=x",
        "echo hi # export OPENAI_API_KEY=x",
        "MY_OPENAI_API_KEY=x",
        "export MY_OPENAI_API_KEY=x",
        "export MEGALLM_API_KEY_OLD=x",
        "echo OPENAI_API_KEY=x",
        'echo "; export OPENAI_API_KEY=x"',
        "echo '&& OPENAI_API_KEY=x'",
        "set -g OPENAI_API_KEY x",
        "set OPENAI_API_KEY x",
        "unset OPENAI_API_KEY",
        "if ($env:OPENAI_API_KEY -eq 'x') { }",
        "$env:MEGALLM_API_KEYS = 1",
        "echo $OPENAI_API_KEY",
    ],
)
def test_find_exports_ignores(line: str) -> None:
    assert find_exports(line + "\n", NAMES) == []


def test_find_exports_never_shows_the_value() -> None:
    text = "export ANTHROPIC_API_KEY=sk-secret-1 OPENAI_API_KEY=sk-secret-2\n"
    found = find_exports(text, NAMES)
    assert {e.name for e in found} == {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}
    assert all("secret" not in e.snippet for e in found)


def test_find_exports_skips_our_block_but_not_what_surrounds_it() -> None:
    text = (
        "export OPENAI_API_KEY=a\n"
        "# >>> megallm >>>\nexport MEGALLM_API_KEY=ours\n# <<< megallm <<<\n"
        "export ANTHROPIC_API_KEY=b\n"
    )
    assert [(e.line, e.name) for e in find_exports(text, NAMES)] == [
        (1, "OPENAI_API_KEY"),
        (5, "ANTHROPIC_API_KEY"),
    ]


def test_find_exports_powershell_block() -> None:
    text = "#region megallm\n$env:OPENAI_X = 1\n#endregion megallm\n$env:OPENAI_Y = 2\n"
    assert [e.name for e in find_exports(text, NAMES, PS)] == ["OPENAI_Y"]


def test_find_exports_does_not_hide_lines_after_an_unterminated_marker() -> None:
    text = "# >>> megallm >>>\nexport OPENAI_API_KEY=x\n"
    assert [e.line for e in find_exports(text, NAMES)] == [2]


def test_find_exports_reports_crlf_lines() -> None:
    assert [e.line for e in find_exports("a\r\nexport OPENAI_X=1\r\n", NAMES)] == [2]


# --- properties ------------------------------------------------------------------------------

TRICKY_LINES = [
    "",
    "   ",
    "\t",
    "# megallm was here",
    "export MEGALLM_API_KEY=sk-mega-old",
    'echo "# >>> megallm >>>"',
    "echo '# <<< megallm <<<'",
    "# >>> megallm >>> (old)",
    "#>>> megallm >>>",
    "# <<<megallm<<<",
    "# >>> conda initialize >>>",
    "#regionmegallm",
    "#endregion",
    "[ -f ~/.bashrc ] && . ~/.bashrc",
    "caf\u00e9 \udcff",  # a non-UTF-8 byte, decoded with surrogateescape
    "stray\rcarriage",
    "ends with cr\r",
]

foreign_line = st.one_of(
    st.sampled_from(TRICKY_LINES),
    st.text(st.characters(blacklist_characters="\n"), max_size=40),
).filter(lambda line: line.strip(" \t\r") not in ALL_MARKERS)

bodies = st.lists(foreign_line, max_size=4).map("\n".join)


@st.composite
def rc_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(foreign_line, max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    final_newline = draw(st.booleans())
    return newline.join(lines) + (newline if lines and final_newline else "")


def _lines_outside_block(text: str, style: BlockStyle) -> list[str]:
    span = find_block(text, style)
    assert span is not None
    return (text[: span[0]] + text[span[1] :]).split("\n")


styles = st.sampled_from(list(BlockStyle))


newlines = st.sampled_from([None, "\n", "\r\n"])


@given(rc_texts(), bodies, styles, newlines)
def test_insert_then_remove_is_identity(
    text: str, body: str, style: BlockStyle, newline: str | None
) -> None:
    inserted = upsert_block(text, body, style, newline)
    assert remove_block(inserted, style) == text
    assert upsert_block(inserted, body, style, newline) == inserted


@given(rc_texts(), bodies, bodies, styles)
def test_upsert_is_idempotent_and_replacing_changes_only_the_block(
    text: str, body: str, other_body: str, style: BlockStyle
) -> None:
    once = upsert_block(text, body, style)
    assert upsert_block(once, body, style) == once
    replaced = upsert_block(once, other_body, style)
    assert remove_block(replaced, style) == text
    assert upsert_block(replaced, body, style) == once


@given(rc_texts(), bodies, styles)
def test_foreign_lines_stay_intact_and_in_order(text: str, body: str, style: BlockStyle) -> None:
    inserted = upsert_block(text, body, style)
    outside = _lines_outside_block(inserted, style)
    original = text.split("\n")
    # Only the separator line break may be added when the file had no final newline.
    assert outside in (original, [*original[:-1], original[-1] + "\r", ""], [*original, ""])
    assert inserted.startswith(text)


@st.composite
def texts_with_block(draw: st.DrawFn) -> tuple[str, str, str, BlockStyle]:
    """(text with a block, text before it, text after it, style)."""
    style = draw(styles)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    before = draw(st.lists(foreign_line, max_size=6))
    after = draw(st.lists(foreign_line, max_size=6))
    indent = draw(st.sampled_from(["", "  ", "\t"]))
    block = [indent + style.start_marker, *draw(st.lists(foreign_line, max_size=3))]
    block.append(style.end_marker + draw(st.sampled_from(["", " ", "\t"])))
    head = "".join(line + newline for line in before)
    final_newline = draw(st.booleans())
    tail = newline.join(after) + (newline if after and final_newline else "")
    return head + newline.join(block) + newline + tail, head, tail, style


@given(texts_with_block(), bodies)
def test_existing_block_is_replaced_where_it_stands(
    case: tuple[str, str, str, BlockStyle], body: str
) -> None:
    text, head, tail, style = case
    replaced = upsert_block(text, body, style)
    assert replaced.startswith(head)
    assert replaced.endswith(tail)
    assert remove_block(replaced, style) == head + tail
    assert remove_block(text, style) == head + tail


@given(texts_with_block(), st.integers(min_value=0))
def test_a_second_block_is_refused(case: tuple[str, str, str, BlockStyle], where: int) -> None:
    text, _head, _tail, style = case
    lines = text.split("\n")
    position = where % (len(lines) + 1)
    doubled = "\n".join(
        [*lines[:position], style.start_marker, style.end_marker, *lines[position:]]
    )
    with pytest.raises(ShellBlockError):
        upsert_block(doubled, "x", style)
    with pytest.raises(ShellBlockError):
        remove_block(doubled, style)


@given(rc_texts(), styles)
def test_exports_inside_our_block_are_never_reported(text: str, style: BlockStyle) -> None:
    inserted = upsert_block(text, "export OPENAI_API_KEY=ours\n$env:OPENAI_API_KEY = 'ours'", style)
    assert find_exports(inserted, ["OPENAI_API_KEY"], style) == find_exports(
        text, ["OPENAI_API_KEY"], style
    )
