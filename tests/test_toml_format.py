"""The TOML editor: deleting what an edit added gives back the old bytes, blank lines included."""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from megallm_cli.formats import toml

PROVIDER = ("model_providers", "megallm")
PROVIDER_KEYS = {"name": "MegaLLM", "base_url": "https://ai.megallm.io/v1", "wire_api": "responses"}


def codex_setup(text: str, *, model: bool) -> str:
    """What `megallm setup` writes into Codex's config.toml."""
    editor = toml.Editor(text)
    editor.set((), "model_provider", "megallm")
    if model:
        editor.set((), "model", "gpt-5")
    for key, value in PROVIDER_KEYS.items():
        editor.set(PROVIDER, key, value)
    return editor.text()


def codex_remove(
    text: str, *, model: bool, model_first: bool = False, table_first: bool = False
) -> str:
    """What `megallm remove` takes out of it again (table last, as Codex does, or first)."""
    editor = toml.Editor(text)
    if table_first:
        editor.delete_table(PROVIDER)
    keys = ["model_provider", "model"] if model else ["model_provider"]
    for key in reversed(keys) if model_first else keys:
        editor.delete((), key)
    if not table_first:
        editor.delete_table(PROVIDER)
    return editor.text()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "\r\n",
        "\ufeff\n",
        "  \n\n",
        "\t\n  \n",
        "# mine\n",
        "# mine\n\n",
        "\n[tui]\nnotifications = true\n",
        "  \n[tui]\n",  # the blank line above the key is the user's, with its spaces
        "# top\n\n# about tui\n[tui]\n",
        "approval_policy = 'never'\n\n[tui]\n",
        '[model_providers.azure]\nname = "Azure"\n[[skills.entries]]\nname = "a"',
        '[model_providers.azure]\nname = "Azure"\n# next\n[tui]\n',
        '[model_providers.azure]\r\nname = "Azure"\r\n\r\n[tui]\r\n',
    ],
)
@pytest.mark.parametrize("model", [False, True])
@pytest.mark.parametrize("model_first", [False, True])
def test_remove_gives_back_the_bytes_before_setup(
    text: str, model: bool, model_first: bool
) -> None:
    done = codex_setup(text, model=model)
    assert toml.parse(done)["model_provider"] == "megallm"
    assert codex_remove(done, model=model, model_first=model_first) == text


def test_the_blank_line_a_table_was_inserted_with_goes_with_it() -> None:
    text = '[model_providers.azure]\nname = "Azure"\n[[skills.entries]]\nname = "a"\n'
    editor = toml.Editor(text)
    editor.set(PROVIDER, "name", "MegaLLM")
    inserted = editor.text()
    assert inserted == text.replace("[[", '\n[model_providers.megallm]\nname = "MegaLLM"\n[[')
    undo = toml.Editor(inserted)
    undo.delete_table(PROVIDER)
    assert undo.text() == text


def test_a_key_appended_to_blank_lines_leaves_them_all() -> None:
    editor = toml.Editor("# mine\n\n")
    editor.set((), "model_provider", "megallm")
    added = editor.text()
    assert added == '# mine\n\nmodel_provider = "megallm"\n'
    undo = toml.Editor(added)
    undo.delete((), "model_provider")
    assert undo.text() == "# mine\n\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[model_providers.megallm]\nname = "M"\n\n[tui]\n', "[tui]\n"),
        ('[tui]\n\n[model_providers.megallm]\nname = "M"\n\n[b]\n', "[tui]\n\n[b]\n"),
        ('[tui]\n\n[model_providers.megallm]\nname = "M"\n', "[tui]\n"),
        (
            '# about tui\n[tui]\n[model_providers.megallm]\nname = "M"\n[b]\n',
            "# about tui\n[tui]\n[b]\n",
        ),
    ],
    ids=["first", "between blank lines", "last", "no blank lines"],
)
def test_a_table_the_user_wrote_leaves_no_gap(text: str, expected: str) -> None:
    editor = toml.Editor(text)
    editor.delete_table(PROVIDER)
    assert editor.text() == expected


def test_a_key_written_twice_in_a_table_is_a_toml_error() -> None:
    # tomlkit reports this one as KeyAlreadyPresent, with no position: it used to escape.
    with pytest.raises(toml.TomlError, match='Key "x" already exists') as caught:
        toml.parse("[tui]\nx = 1\nx = 2\n")
    if sys.version_info >= (3, 11):  # tomllib says where; tomlkit alone (3.10) cannot
        assert (caught.value.line, caught.value.col) == (3, 6)


# Layouts the Codex config files of real users have: blank lines holding spaces, runs of them,
# comments above tables, tables with and without a blank line between them.
_BLANK = st.sampled_from(["", "  ", "\t"])
_FILLER = st.lists(st.one_of(_BLANK, st.just("# note")), max_size=3)


@st.composite
def config_files(draw: st.DrawFn) -> str:
    lines = draw(_FILLER)
    lines += draw(st.lists(st.sampled_from(["approval_policy = 'never'", "x = 1"]), unique=True))
    tables = ["tui", "model_providers.azure", "profiles.fast", "[skills.entries]"]
    for name in draw(st.lists(st.sampled_from(tables), unique=True, max_size=3)):
        lines += draw(_FILLER)
        lines.append(f"[{name}]")
        lines += draw(st.lists(st.sampled_from(["y = 1", "z = 2"]), unique=True))
    lines += draw(_FILLER)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_files(), st.booleans(), st.booleans(), st.booleans())
def test_property_remove_gives_back_the_bytes_before_setup(
    text: str, model: bool, model_first: bool, table_first: bool
) -> None:
    done = codex_setup(text, model=model)
    undone = codex_remove(done, model=model, model_first=model_first, table_first=table_first)
    assert undone == text
