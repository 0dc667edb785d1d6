"""Minimal-edit JSON/JSONC: every byte we do not own stays identical."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from megallm_cli.formats import jsonc
from megallm_cli.formats.jsonc import JsoncSyntaxError

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

VSCODE_SETTINGS = (
    "// Place your settings in this file to overwrite the default settings\r\n"
    "{\r\n"
    '\t"editor.fontSize": 14, // my eyes\r\n'
    "\t/* block\r\n"
    "\t   comment */\r\n"
    '\t"files.exclude": {\r\n'
    '\t\t"**/.git": true,\r\n'
    "\t},\r\n"
    '\t"url": "http://example.com/*not a comment*/",\r\n'
    "}"
)


# --- parse ---------------------------------------------------------------------------------


def test_parse_strict_json() -> None:
    assert jsonc.parse('{"a": [1, 2.5, -3e2, true, false, null, "x"]}') == {
        "a": [1, 2.5, -300.0, True, False, None, "x"]
    }


def test_parse_jsonc_with_comments_everywhere_and_trailing_commas() -> None:
    text = (
        "// head\n"
        "/* before */ { // open\n"
        '  "a" /* k */ : /* v */ 1, // after a\n'
        '  "b": [ /* in */ 1, 2, // two\n'
        "  ],\n"
        "  /* last */\n"
        "} // tail\n"
        "/* end */"
    )
    assert jsonc.parse(text) == {"a": 1, "b": [1, 2]}
    assert jsonc.parse(VSCODE_SETTINGS) == {
        "editor.fontSize": 14,
        "files.exclude": {"**/.git": True},
        "url": "http://example.com/*not a comment*/",
    }


def test_parse_keeps_comment_markers_inside_strings() -> None:
    text = '{"a": "// not", "b": "/* nor */", "c": "say \\"//\\" here"}'
    assert jsonc.parse(text, allow_comments=False) == {
        "a": "// not",
        "b": "/* nor */",
        "c": 'say "//" here',
    }


def test_parse_tolerates_bom() -> None:
    assert jsonc.parse('\ufeff{"a": 1}') == {"a": 1}
    assert jsonc.parse('\ufeff// c\n{"a": 1,}') == {"a": 1}


def test_parse_rejects_what_json_does_not_allow() -> None:
    for text in ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', "{'a': 1}", '{"a": 01}']:
        with pytest.raises(JsoncSyntaxError):
            jsonc.parse(text)


@pytest.mark.parametrize(
    ("text", "line", "col", "reason"),
    [
        ('{"a": 1 "b": 2}', 1, 9, "expected ',' or '}'"),
        ('{\n  "a": [1, 2}\n', 2, 13, "expected ',' or ']'"),
        ('{\n  "a": "abc\n}', 2, 8, "unterminated string"),
        ('{"a": "x\\q"}', 1, 9, "invalid escape in string"),
        ('{"a": "x\ty"}', 1, 9, "control character in string"),
        ('{"a" 1}', 1, 6, "expected ':'"),
        ("{a: 1}", 1, 2, "expected a property name in double quotes or '}'"),
        ('{"a": 1,, }', 1, 9, "expected a property name in double quotes"),
        ('{"a": tru}', 1, 7, "expected a value"),
        ('{"a": [1,,2]}', 1, 10, "expected a value"),
        ('{"a": 1}\n}', 2, 1, "unexpected text after the end of the JSON value"),
        ('{"a": 1', 1, 8, "unexpected end of text, expected ',' or '}'"),
        ("", 1, 1, "unexpected end of text, expected a value"),
        ('{"a": 1 /* open', 1, 9, "unterminated comment"),
        ('\r\n{\r\n  "a": 1\r\n  "b": 2\r\n}', 4, 3, "expected ',' or '}'"),
        ('\ufeff{"a" 1}', 1, 6, "expected ':'"),
    ],
)
def test_parse_error_positions(text: str, line: int, col: int, reason: str) -> None:
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse(text)
    assert (caught.value.line, caught.value.col) == (line, col)
    assert caught.value.reason.startswith(reason)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == f"line {line}, column {col}: {caught.value.reason}"


def test_parse_error_offset_points_at_the_character() -> None:
    text = '{\n  "a": 1\n  "b": 2\n}'
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse(text)
    assert text[caught.value.offset] == '"'
    assert caught.value.offset == text.index('"b"')


def test_parse_strict_rejects_comments_and_trailing_commas() -> None:
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse('{\n  "a": 1 // c\n}', allow_comments=False)
    assert (caught.value.line, caught.value.col) == (2, 10)
    assert caught.value.reason == "comment not allowed in strict JSON"
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse('{\n  "a": [1,],\n}', allow_trailing_commas=False)
    assert (caught.value.line, caught.value.col) == (2, 10)
    assert caught.value.reason == "trailing comma not allowed in strict JSON"
    assert jsonc.parse('{"a": 1,}', allow_comments=False) == {"a": 1}
    assert jsonc.parse('{"a": 1 /* c */}', allow_trailing_commas=False) == {"a": 1}


def test_parse_error_in_jsonc_after_comments_is_located() -> None:
    text = '// c\n{\n  "a": 1, /* x */\n  "b": [1 2]\n}'
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse(text)
    assert (caught.value.line, caught.value.col) == (4, 11)


# --- has_comments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', False),
        ('{"a": "http://x/y"}', False),
        ('{"a": "/* no */", "b//": "x"}', False),
        ('{"a": "\\" // still a string"}', False),
        ('{"a": 1} // c', True),
        ('{"a": /* c */ 1}', True),
        ("// only\n", True),
        ('\ufeff{"a": 1,\n/* c */}', True),
        ('{"a": "unterminated\n// c\n}', True),
        ("", False),
    ],
)
def test_has_comments(text: str, expected: bool) -> None:
    assert jsonc.has_comments(text) is expected


# --- get -----------------------------------------------------------------------------------


def test_get() -> None:
    text = '{"env": {"A": "1", /* c */ "B": [10, {"x": true}]}, "n": null}'
    assert jsonc.get(text, ["env", "A"]) == "1"
    assert jsonc.get(text, ["env", "B", 1, "x"]) is True
    assert jsonc.get(text, ["env", "B", -2]) == 10
    assert jsonc.get(text, ["env"]) == {"A": "1", "B": [10, {"x": True}]}
    assert jsonc.get(text, []) == jsonc.parse(text)
    assert jsonc.get(text, ["n"], "dflt") is None
    assert jsonc.get(text, ["missing"], "dflt") == "dflt"
    assert jsonc.get(text, ["env", "A", "deeper"], "dflt") == "dflt"
    assert jsonc.get(text, ["env", "B", 5], "dflt") == "dflt"
    assert jsonc.get(text, ["env", "B", True], "dflt") == "dflt"
    assert jsonc.get(text, ["env", 0], "dflt") == "dflt"
    assert jsonc.get("", ["a"], "dflt") == "dflt"
    assert jsonc.get("  // nothing\n", ["a"], "dflt") == "dflt"


def test_get_sees_the_last_duplicate_like_json_readers() -> None:
    assert jsonc.get('{"a": 1, "a": 2}', ["a"]) == 2


def test_get_rejects_a_string_path() -> None:
    with pytest.raises(TypeError):
        jsonc.get('{"a": 1}', "a")


# --- set_value -----------------------------------------------------------------------------


def test_set_replaces_only_the_value() -> None:
    text = '{\n  "a": 1, // one\n  "b": "x" /* bee */,\n  "c": [1, 2]\n}\n'
    assert jsonc.set_value(text, ["b"], "y") == text.replace('"x"', '"y"')
    assert jsonc.set_value(text, ["a"], None) == text.replace("1, //", "null, //")


def test_set_appends_new_member_after_same_line_comment() -> None:
    text = '{\n  "a": 1,\n  "b": 2 // about b\n}'
    assert jsonc.set_value(text, ["c"], 3) == '{\n  "a": 1,\n  "b": 2, // about b\n  "c": 3\n}'


def test_set_keeps_trailing_comma_style() -> None:
    text = '{\n\t"a": 1, // c\n}\n'
    assert jsonc.set_value(text, ["b"], True) == '{\n\t"a": 1, // c\n\t"b": true,\n}\n'


def test_set_inserts_before_comments_on_following_lines() -> None:
    text = '{\n  "a": 1\n  // "b": 2,\n}'
    assert jsonc.set_value(text, ["c"], 3) == '{\n  "a": 1,\n  "c": 3\n  // "b": 2,\n}'


def test_set_keeps_multiline_block_comment_with_its_member() -> None:
    text = '{\n  "a": 1 /* about\n   a */\n}'
    assert jsonc.set_value(text, ["b"], 2) == '{\n  "a": 1, /* about\n   a */\n  "b": 2\n}'


def test_set_on_vscode_settings_keeps_crlf_tabs_comments() -> None:
    result = jsonc.set_value(VSCODE_SETTINGS, ["megallm.key"], "v")
    assert result == VSCODE_SETTINGS[:-1] + '\t"megallm.key": "v",\r\n}'
    assert "\n" not in result.replace("\r\n", "")


def test_set_nested_creates_objects_in_file_indent() -> None:
    text = '{\n    "model": "x"\n}\n'
    result = jsonc.set_value(text, ["env", "ANTHROPIC_BASE_URL"], "https://ai.megallm.io")
    assert result == (
        '{\n    "model": "x",\n    "env": {\n'
        '        "ANTHROPIC_BASE_URL": "https://ai.megallm.io"\n    }\n}\n'
    )


def test_set_nested_into_existing_object() -> None:
    text = '{\n  "env": {\n    "A": "1"\n  },\n  "z": 0\n}'
    result = jsonc.set_value(text, ["env", "B"], "2")
    assert result == '{\n  "env": {\n    "A": "1",\n    "B": "2"\n  },\n  "z": 0\n}'


def test_set_pretty_prints_objects_and_arrays_at_member_indent() -> None:
    text = '{\r\n  "a": 1\r\n}'
    result = jsonc.set_value(text, ["p"], {"allow": ["x", "y"], "deny": []})
    assert result == (
        '{\r\n  "a": 1,\r\n  "p": {\r\n    "allow": [\r\n      "x",\r\n      "y"\r\n'
        '    ],\r\n    "deny": []\r\n  }\r\n}'
    )
    assert jsonc.parse(jsonc.set_value(result, ["p"], 5)) == {"a": 1, "p": 5}
    assert jsonc.set_value(result, ["p"], 5) == '{\r\n  "a": 1,\r\n  "p": 5\r\n}'


def test_set_in_single_line_objects_stays_single_line() -> None:
    assert jsonc.set_value('{"a": 1}', ["b"], {"c": [1]}) == '{"a": 1, "b": {"c": [1]}}'
    assert jsonc.set_value('{ "a": 1, }', ["b"], 2) == '{ "a": 1, "b": 2, }'
    assert jsonc.set_value('{"x": {}}', ["x", "a"], 1) == '{"x": {"a": 1}}'
    assert jsonc.set_value('{"a": {"b": 1}}', ["a"], {"c": 2}) == '{"a": {"c": 2}}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", '{\n  "k": 1\n}'),
        ("{ }\n", '{\n  "k": 1\n}\n'),
        ("{\n}", '{\n  "k": 1\n}'),
        ('{\n  "e": {}\n}', '{\n  "e": {\n    "k": 1\n  }\n}'),
        ("{\n  // keep\n}", '{\n  // keep\n  "k": 1\n}'),
        ("{ // keep\n}", '{ // keep\n  "k": 1\n}'),
        ("{ /* keep */ }", '{ /* keep */ "k": 1 }'),
    ],
)
def test_set_into_empty_objects(text: str, expected: str) -> None:
    path = ["e", "k"] if '"e"' in text else ["k"]
    assert jsonc.set_value(text, path, 1) == expected


@pytest.mark.parametrize("text", ["", "   \n", "\n\n"])
def test_set_on_empty_text_creates_document(text: str) -> None:
    assert jsonc.set_value(text, ["key"], "v") == '{\n  "key": "v"\n}\n'
    assert jsonc.set_value(text, ["a", "b"], 1) == '{\n  "a": {\n    "b": 1\n  }\n}\n'


def test_set_on_empty_text_keeps_bom_and_crlf() -> None:
    assert jsonc.set_value("\ufeff", ["k"], 1) == '\ufeff{\n  "k": 1\n}\n'
    assert jsonc.set_value("\r\n", ["k"], 1) == '{\r\n  "k": 1\r\n}\r\n'


def test_set_on_comment_only_text_keeps_the_comments() -> None:
    assert jsonc.set_value("// settings\n", ["k"], 1) == '// settings\n{\n  "k": 1\n}\n'


def test_set_keeps_bom_and_missing_final_newline() -> None:
    text = '\ufeff{\n  "a": 1\n}'
    assert jsonc.set_value(text, ["b"], 2) == '\ufeff{\n  "a": 1,\n  "b": 2\n}'
    assert jsonc.set_value('\ufeff{"a": 1}', ["a"], 2) == '\ufeff{"a": 2}'


def test_set_does_not_confuse_similar_keys() -> None:
    text = (
        '{\n  "MY_ANTHROPIC_API_KEY": "mine",\n  "note": "ANTHROPIC_API_KEY",\n'
        '  "nested": {"ANTHROPIC_API_KEY": "deep"}\n}'
    )
    result = jsonc.set_value(text, ["ANTHROPIC_API_KEY"], "sk")
    assert jsonc.parse(result) == {
        "MY_ANTHROPIC_API_KEY": "mine",
        "note": "ANTHROPIC_API_KEY",
        "nested": {"ANTHROPIC_API_KEY": "deep"},
        "ANTHROPIC_API_KEY": "sk",
    }
    assert result.startswith(text[:-2])


def test_set_unicode_and_escaped_keys_and_values() -> None:
    text = '{"ключ": "значение", "q\\"uote": 1, "\\u0041": 2}'
    assert jsonc.set_value(text, ["ключ"], "日本 🎉") == text.replace("значение", "日本 🎉")
    assert jsonc.set_value(text, ['q"uote'], 5) == text.replace("1,", "5,")
    assert jsonc.set_value(text, ["A"], 3) == text.replace("2}", "3}")
    added = jsonc.set_value(text, ['new\n"key'], "a/*b*/c//d")
    assert jsonc.get(added, ['new\n"key']) == "a/*b*/c//d"


def test_set_comment_markers_in_strings_are_not_comments() -> None:
    text = '{\n  "url": "http://x//y", "glob": "src/**/*.ts" // real\n}'
    result = jsonc.set_value(text, ["k"], 1)
    assert result == '{\n  "url": "http://x//y", "glob": "src/**/*.ts", // real\n  "k": 1\n}'


def test_set_same_value_returns_text_unchanged() -> None:
    text = '{\n  "a": { "x": [1, 2] }, // c\n  "b": true,\n  "c": 1.0\n}'
    assert jsonc.set_value(text, ["a"], {"x": [1, 2]}) is text
    assert jsonc.set_value(text, ["b"], True) is text
    assert jsonc.set_value(text, ["c"], 1) is text
    # true is not 1 in JSON
    assert jsonc.set_value(text, ["b"], 1) != text
    assert jsonc.set_value('{"a": 1}', ["a"], True) == '{"a": true}'


def test_set_edits_the_last_duplicate() -> None:
    assert jsonc.set_value('{"a": 1, "a": 2}', ["a"], 3) == '{"a": 1, "a": 3}'


def test_set_through_non_object_raises_type_error() -> None:
    with pytest.raises(TypeError, match="env is a string, not an object"):
        jsonc.set_value('{"env": "x"}', ["env", "K"], 1)
    with pytest.raises(TypeError, match="top-level JSON value is an array"):
        jsonc.set_value("[1, 2]", ["K"], 1)
    with pytest.raises(TypeError, match="top-level JSON value is a string"):
        jsonc.set_value('"x" // c', ["K"], 1)


def test_set_rejects_bad_paths_and_values() -> None:
    with pytest.raises(ValueError):
        jsonc.set_value("{}", [], 1)
    with pytest.raises(TypeError):
        jsonc.set_value("{}", "env", 1)
    with pytest.raises(TypeError):
        jsonc.set_value("{}", ["a", 0], 1)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        jsonc.set_value("{}", ["a"], float("nan"))


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ('{"a": 1 "b": 2}', 1, 9),
        ('{"a": [1, "x\\q"], "b": 1}', 1, 13),
        ('{\n  "a": 1,, \n}', 2, 10),
        ('{"a": 1}} ', 1, 9),
        ("[1 2]", 1, 4),
        ('{"a": "open}', 1, 7),
        ('{"a": 1 /* open }', 1, 9),
        ("{a: 1}", 1, 2),
    ],
)
def test_edits_report_syntax_errors(text: str, line: int, col: int) -> None:
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.set_value(text, ["b"], 2)
    assert (caught.value.line, caught.value.col) == (line, col)


def test_set_handles_values_nested_deeper_than_the_fast_pattern() -> None:
    deep = "[" * 40 + "1" + "]" * 40
    text = '{\n  "deep": ' + deep + ',\n  "a": {"b": ' + deep + "}\n}"
    result = jsonc.set_value(text, ["z"], 1)
    assert result == text[:-2] + ',\n  "z": 1\n}'
    assert jsonc.get(result, ["a", "b"]) == json.loads(deep)
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.set_value(text.replace("1]", '"\\q"]', 1), ["z"], 1)
    assert caught.value.reason == "invalid escape in string"


# --- delete_value --------------------------------------------------------------------------


BASE = '{\n  // about a\n  "a": 1,\n  "b": {"x": 1}, // about b\n  "c": [1, 2]\n}\n'


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a", '{\n  // about a\n  "b": {"x": 1}, // about b\n  "c": [1, 2]\n}\n'),
        ("b", '{\n  // about a\n  "a": 1,\n  "c": [1, 2]\n}\n'),
        ("c", '{\n  // about a\n  "a": 1,\n  "b": {"x": 1} // about b\n}\n'),
        ("zz", BASE),
    ],
)
def test_delete(key: str, expected: str) -> None:
    assert jsonc.delete_value(BASE, [key]) == expected


def test_delete_nested_and_parent_stays() -> None:
    text = '{\r\n  "env": {\r\n    "K": "v"\r\n  },\r\n  "z": 1\r\n}'
    assert jsonc.delete_value(text, ["env", "K"]) == '{\r\n  "env": {},\r\n  "z": 1\r\n}'
    assert jsonc.delete_value(text, ["env", "nope"]) is text
    assert jsonc.delete_value(text, ["nope", "K"]) is text
    assert jsonc.delete_value(text, ["z", "K"]) is text


def test_delete_inline_members() -> None:
    assert jsonc.delete_value('{"a": 1, "b": 2}', ["a"]) == '{"b": 2}'
    assert jsonc.delete_value('{"a": 1, "b": 2}', ["b"]) == '{"a": 1}'
    assert jsonc.delete_value('{ "a": 1, "b": 2, }', ["b"]) == '{ "a": 1, }'
    assert jsonc.delete_value('{"a": 1, /* c */ "b": 2}', ["b"]) == '{"a": 1 /* c */}'
    assert jsonc.delete_value('{"a": 1}', ["a"]) == "{}"
    assert jsonc.delete_value('{\n  "a": 1\n}', ["a"]) == "{}"


def test_delete_keeps_comments_on_other_lines_of_an_emptied_object() -> None:
    text = '{\n  // keep me\n  "a": 1\n}'
    assert jsonc.delete_value(text, ["a"]) == "{\n  // keep me\n}"


def test_delete_removes_every_duplicate() -> None:
    text = '{\n  "a": 1,\n  "b": 2,\n  "a": 3\n}'
    assert jsonc.delete_value(text, ["a"]) == '{\n  "b": 2\n}'
    assert jsonc.delete_value('{"a": 1, "b": 2, "a": 3}', ["a"]) == '{"b": 2}'


def test_delete_similar_keys_untouched() -> None:
    text = '{"MY_ANTHROPIC_API_KEY": "a", "ANTHROPIC_API_KEY": "b", "ANTHROPIC_API_KEY_2": "c"}'
    result = jsonc.delete_value(text, ["ANTHROPIC_API_KEY"])
    assert result == '{"MY_ANTHROPIC_API_KEY": "a", "ANTHROPIC_API_KEY_2": "c"}'


def test_delete_on_empty_text_is_a_no_op() -> None:
    assert jsonc.delete_value("", ["a"]) == ""


def test_delete_multiline_value_removes_all_its_lines() -> None:
    text = '{\n  "a": {\n    "x": 1\n  },\n  "b": 2\n}'
    assert jsonc.delete_value(text, ["a"]) == '{\n  "b": 2\n}'


# --- arrays --------------------------------------------------------------------------------


def test_append_creates_missing_array_and_objects() -> None:
    text = '{\n  "a": 1\n}\n'
    result = jsonc.append_to_array(text, ["customApiKeyResponses", "approved"], "abc")
    assert result == (
        '{\n  "a": 1,\n  "customApiKeyResponses": {\n    "approved": [\n'
        '      "abc"\n    ]\n  }\n}\n'
    )
    assert jsonc.append_to_array("", ["x"], 1) == '{\n  "x": [\n    1\n  ]\n}\n'


def test_append_to_existing_arrays() -> None:
    text = '{\n  "r": {\n    "approved": [\n      "a", // first\n    ],\n    "rejected": []\n  }\n}'
    result = jsonc.append_to_array(text, ["r", "approved"], "b")
    assert result == text.replace('"a", // first\n', '"a", // first\n      "b",\n')
    result = jsonc.append_to_array(text, ["r", "rejected"], "b")
    assert result == text.replace('"rejected": []', '"rejected": [\n      "b"\n    ]')
    assert jsonc.append_to_array('{"x": [1, 2]}', ["x"], 3) == '{"x": [1, 2, 3]}'
    assert jsonc.append_to_array('{"x": []}', ["x"], {"a": 1}) == '{"x": [{"a": 1}]}'


def test_append_is_a_no_op_when_present() -> None:
    text = '{"x": [1, {"a": [true]}, "s"]}'
    assert jsonc.append_to_array(text, ["x"], {"a": [True]}) is text
    assert jsonc.append_to_array(text, ["x"], "s") is text
    assert jsonc.append_to_array(text, ["x"], True) == '{"x": [1, {"a": [true]}, "s", true]}'


def test_append_to_non_array_raises() -> None:
    with pytest.raises(TypeError, match="x is a string, not an array"):
        jsonc.append_to_array('{"x": "s"}', ["x"], 1)
    with pytest.raises(TypeError, match="x is a number, not an object"):
        jsonc.append_to_array('{"x": 1}', ["x", "y"], 1)


def test_remove_from_array() -> None:
    text = '{\n  "x": [\n    1,\n    "a", // the a\n    2,\n    "a"\n  ]\n}'
    assert jsonc.remove_from_array(text, ["x"], "a") == '{\n  "x": [\n    1,\n    2\n  ]\n}'
    assert jsonc.remove_from_array(text, ["x"], 9) is text
    assert jsonc.remove_from_array(text, ["nope"], 1) is text
    assert jsonc.remove_from_array(text, ["x", "y"], 1) is text
    assert jsonc.remove_from_array('{"x": [1, true]}', ["x"], True) == '{"x": [1]}'
    assert jsonc.remove_from_array('{"x": [1]}', ["x"], 1) == '{"x": []}'
    assert jsonc.remove_from_array("", ["x"], 1) == ""
    with pytest.raises(TypeError):
        jsonc.remove_from_array('{"x": {}}', ["x"], 1)


def test_append_then_remove_round_trips() -> None:
    for text in ['{"x": [1]}', '{\n  "x": [\n    1\n  ]\n}', '{\n  "x": [\n    1, // c\n  ]\n}']:
        assert jsonc.remove_from_array(jsonc.append_to_array(text, ["x"], "n"), ["x"], "n") == text


# --- layout detection ----------------------------------------------------------------------


def test_detect_indent() -> None:
    assert jsonc.detect_indent('{\n    "a": {\n        "b": 1\n    }\n}') == "    "
    assert jsonc.detect_indent('{\n\t"a": {\n\t\t"b": 1\n\t}\n}') == "\t"
    assert jsonc.detect_indent('{\n  "a": 1,\n  /*\n   * doc\n   */\n  "b": 2\n}') == "  "
    assert jsonc.detect_indent('{"a": 1}') == "  "
    assert jsonc.detect_indent("") == "  "


def test_detect_newline() -> None:
    assert jsonc.detect_newline("{\r\n}") == "\r\n"
    assert jsonc.detect_newline("{\n}") == "\n"
    assert jsonc.detect_newline("{}") == "\n"
    assert jsonc.detect_newline("\n") == "\n"


# --- a big file ----------------------------------------------------------------------------


def _claude_json(projects: int) -> dict[str, Any]:
    history = [
        {"display": 'fix the {bug} in "x" // and [y] /* z */ \\ é 日本 ' * 5, "pastedContents": {}}
        for _ in range(6)
    ]
    return {
        "numStartups": 3,
        "projects": {
            f"/home/u/p{index}": {
                "allowedTools": [],
                "history": history,
                "mcpServers": {},
                "lastCost": 0.5,
                "lastModelUsage": {"m": {"inputTokens": index, "costUSD": 0.1}},
            }
            for index in range(projects)
        },
        "userID": "abc",
        "customApiKeyResponses": {"approved": [], "rejected": ["x"]},
    }


def test_edits_on_a_few_megabyte_claude_json() -> None:
    document = _claude_json(2500)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    assert len(text) > 3_000_000
    edited = jsonc.set_value(text, ["hasCompletedOnboarding"], True)
    edited = jsonc.append_to_array(edited, ["customApiKeyResponses", "approved"], "k" * 20)
    assert edited.startswith(text[: text.index('"approved": []')])
    expected = json.loads(text)
    expected["hasCompletedOnboarding"] = True
    expected["customApiKeyResponses"]["approved"] = ["k" * 20]
    assert json.loads(edited) == expected
    assert jsonc.set_value(edited, ["hasCompletedOnboarding"], True) is edited
    assert jsonc.get(edited, ["projects", "/home/u/p2499", "lastModelUsage", "m"]) == {
        "inputTokens": 2499,
        "costUSD": 0.1,
    }
    assert not jsonc.has_comments(edited)
    assert jsonc.parse(edited, allow_comments=False) == expected
    restored = jsonc.delete_value(edited, ["hasCompletedOnboarding"])
    assert jsonc.remove_from_array(restored, ["customApiKeyResponses", "approved"], "k" * 20) == (
        text
    )


def test_error_near_the_end_of_a_big_file_is_located() -> None:
    text = json.dumps(_claude_json(300), indent=2)
    broken = text[:-2] + ",\n}"
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse(broken, allow_trailing_commas=False)
    assert caught.value.line == broken.count("\n")
    assert caught.value.col == len(broken.splitlines()[-2])


def test_an_error_in_a_value_read_for_an_edit_is_placed_in_the_whole_text() -> None:
    text = '{\n  "a": [1,\n    tru]\n}'  # the fast scan checks brackets, not scalars
    for edit in (
        lambda: jsonc.get(text, ["a"]),
        lambda: jsonc.set_value(text, ["a"], 2),
        lambda: jsonc.append_to_array(text, ["a"], 2),
    ):
        with pytest.raises(JsoncSyntaxError) as caught:
            edit()
        assert (caught.value.line, caught.value.col) == (3, 5)


# --- deep nesting --------------------------------------------------------------------------

MAX_NESTING = 512  # levels jsonc reads for sure; Python's json gives up near 1000
# Deeper than json's decoder reads on any Python (3.13 goes furthest, 10 000 levels).
TOO_DEEP = 20_000


def nested_arrays(depth: int, inner: str = "1") -> str:
    """A document whose innermost value sits `depth` containers deep, the top object included."""
    return '{"a": ' + "[" * (depth - 1) + inner + "]" * (depth - 1) + "}\n"


def test_nesting_to_the_limit_is_read() -> None:
    text = nested_arrays(MAX_NESTING)
    value = jsonc.parse(text)
    assert value == json.loads(text)
    assert jsonc.value_type(text) is dict
    assert jsonc.get(text, ["a"]) == value["a"]
    commented = text.replace("1", "1 /* the bottom */")
    assert jsonc.strip_comments(commented) == text
    assert jsonc.parse(commented) == value
    assert jsonc.set_value(text, ["a"], 2) == '{"a": 2}\n'


@pytest.mark.parametrize(
    "text",
    [
        nested_arrays(TOO_DEEP),
        '{"a": ' + '{"b": ' * TOO_DEEP + "1" + "}" * TOO_DEEP + "}",
        "// JSONC\n" + nested_arrays(TOO_DEEP).replace("1", "1,"),
        nested_arrays(TOO_DEEP, "/* a comment */"),
        '{"a": ' + "[" * TOO_DEEP,
    ],
    ids=["arrays", "objects", "jsonc", "comment-inside", "unclosed"],
)
def test_nesting_deeper_than_json_reads_is_a_syntax_error(text: str) -> None:
    reads: list[Callable[[str], object]] = [
        jsonc.parse,
        jsonc.value_type,
        jsonc.strip_comments,
        lambda text: jsonc.get(text, ["a"]),
        lambda text: jsonc.set_value(text, ["a"], 2),
    ]
    for read in reads:
        with pytest.raises(JsoncSyntaxError) as caught:
            read(text)
        error = caught.value
        assert error.reason == f"nested more than {MAX_NESTING} levels deep"
        assert text[error.offset] in "[{"
        assert error.line == text.count("\n", 0, error.offset) + 1
        opened = text.count("[", 0, error.offset + 1) + text.count("{", 0, error.offset + 1)
        # where the nesting passes the limit, give or take the containers holding the value read
        assert MAX_NESTING < opened <= MAX_NESTING + 2


def test_unclosed_deep_nesting_is_reported_at_once() -> None:
    # An edit scans values leniently; each unclosed container was scanned again to the end of
    # the text, which took quadratic time (hours for this text).
    text = '{"a": ' + "[" * TOO_DEEP
    started = time.perf_counter()
    with pytest.raises(JsoncSyntaxError, match="nested more than"):
        jsonc.set_value(text, ["b"], 1)
    assert time.perf_counter() - started < 2


def test_the_too_deep_error_points_at_the_first_container_past_the_limit() -> None:
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse("\n" + nested_arrays(TOO_DEEP))
    # line 2 opens with `{"a": ` (6 characters), then one "[" per level below the top object
    assert (caught.value.line, caught.value.col) == (2, 6 + MAX_NESTING)


def test_where_the_module_checks_syntax_itself_one_level_past_the_limit_is_refused() -> None:
    with pytest.raises(JsoncSyntaxError, match=f"nested more than {MAX_NESTING} levels deep"):
        jsonc.strip_comments(nested_arrays(MAX_NESTING + 1))


def test_json_giving_up_early_deep_in_a_call_stack_is_still_a_syntax_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def out_of_stack(*_: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", out_of_stack)
    with pytest.raises(JsoncSyntaxError) as caught:
        jsonc.parse(nested_arrays(40))
    assert (caught.value.line, caught.value.col, caught.value.reason) == (
        1,
        1,
        "nested too deep to read",
    )


def test_comment_scans_do_not_recurse_on_deep_text() -> None:
    text = nested_arrays(TOO_DEEP, "/* here */")
    assert jsonc.has_comments(text)
    assert jsonc.first_comment_position(text) == (1, 6 + TOO_DEEP)
    assert not jsonc.has_comments(nested_arrays(TOO_DEEP))


# --- properties ----------------------------------------------------------------------------

# Characters that stress the scanner: quotes, backslashes, comment and bracket lookalikes.
_TRICKY_TEXT = st.text(
    alphabet=st.sampled_from(list('ab"\\/*{}[],:é日🎉\n\t ')), min_size=0, max_size=8
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TRICKY_TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_TRICKY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
_OBJECTS = st.dictionaries(_TRICKY_TEXT, _VALUES, max_size=6)
_COMMENT_BODIES = st.text(alphabet=st.sampled_from(list('ab "{},:/[]*')), max_size=6)

Where = tuple[Any, ...]  # keys and indexes from the top


class _Renderer:
    """Renders a JSON object as JSONC in a randomly drawn style, with numbered comments.

    Every choice is remembered by where it was made, so `replay` renders another object the
    same way: what an edit of the first rendering should produce. Choices for places the
    first rendering did not have default to the plainest style.
    """

    def __init__(self, draw: st.DrawFn, *, decorate_nested: bool) -> None:
        self.draw = draw
        self.decorate_nested = decorate_nested
        self.choices: dict[tuple[str, Where], Any] = {}
        self.replaying = False
        self.comments = 0
        self.indent = draw(st.sampled_from(["  ", "    ", "\t"]))
        self.newline = draw(st.sampled_from(["\n", "\r\n"]))

    def flag(self, name: str, path: Where) -> bool:
        if self.replaying:
            return bool(self.choices.get((name, path), False))
        chosen = self.choices[(name, path)] = self.draw(st.booleans())
        return chosen

    def comment(self, name: str, path: Where) -> str | None:
        if self.replaying:
            return self.choices.get((name, path))
        chosen = None
        if self.draw(st.booleans()):
            self.comments += 1
            body = self.draw(_COMMENT_BODIES)
            if self.draw(st.booleans()):
                chosen = f"// c{self.comments}#{body}"
            else:
                chosen = f"/* c{self.comments}#{body.replace('*', '+')} */"
        self.choices[(name, path)] = chosen
        return chosen

    def value(self, value: Any, path: Where) -> str:
        if isinstance(value, (dict, list)) and value and self.decorate_nested:
            return self.container(value, path)
        rendered = json.dumps(value, ensure_ascii=False, indent=self.indent)
        return rendered.replace("\n", self.newline + self.indent * len(path))

    def container(self, value: dict[str, Any] | list[Any], path: Where) -> str:
        opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
        inner = self.indent * (len(path) + 1)
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        trailing_comma = self.flag("trailing comma", path)
        lines = [opener]
        for index, (key, item) in enumerate(items):
            item_path = (*path, key)
            before = self.comment("before", item_path)
            if before is not None:
                lines.append(inner + before)
            head = json.dumps(key, ensure_ascii=False) + ": " if isinstance(value, dict) else ""
            comma = "," if index < len(items) - 1 or trailing_comma else ""
            line = inner + head + self.value(item, item_path) + comma
            after = self.comment("after", item_path)
            lines.append(line if after is None else f"{line} {after}")
        closing = self.comment("closing", path)
        if closing is not None:
            lines.append(inner + closing)
        lines.append(self.indent * len(path) + closer)
        return self.newline.join(lines)

    def document(self, value: dict[str, Any]) -> str:
        head = self.comment("head", ())
        body = self.container(value, ()) if value else "{}"
        tail = self.comment("tail", ())
        final_newline = self.flag("final newline", ())
        bom = self.flag("bom", ())
        return "".join(
            [
                "\ufeff" if bom else "",
                "" if head is None else head + self.newline,
                body,
                "" if tail is None else " " + tail,
                self.newline if final_newline else "",
            ]
        )

    def replay(self, value: dict[str, Any]) -> str:
        self.replaying = True
        return self.document(value)


@st.composite
def _documents(
    draw: st.DrawFn, *, decorate_nested: bool = True, non_empty: bool = False
) -> tuple[dict[str, Any], str, _Renderer]:
    value = draw(_OBJECTS.filter(bool) if non_empty else _OBJECTS)
    renderer = _Renderer(draw, decorate_nested=decorate_nested)
    return value, renderer.document(value), renderer


def _comments_in_order(text: str) -> list[str]:
    return re.findall(r"c\d+#", text)


Document = tuple[dict[str, Any], str, _Renderer]


@PROPERTY_SETTINGS
@given(_documents())
def test_property_parse_reads_rendered_jsonc(document: Document) -> None:
    value, text, _ = document
    assert jsonc.parse(text) == value
    assert jsonc.has_comments(text) == bool(_comments_in_order(text))
    assert jsonc.get(text, []) == value


@PROPERTY_SETTINGS
@given(_documents(non_empty=True), _TRICKY_TEXT, _VALUES)
def test_property_set_new_key_edits_exactly_like_a_hand_edit(
    document: Document, key: str, new: Any
) -> None:
    value, text, renderer = document
    key = "new" + key
    if key in value:
        return
    edited = jsonc.set_value(text, [key], new)
    assert edited == renderer.replay({**value, key: new})
    assert jsonc.parse(edited) == {**value, key: new}
    assert jsonc.set_value(edited, [key], new) is edited
    assert jsonc.delete_value(edited, [key]) == text


@PROPERTY_SETTINGS
@given(_documents(), _TRICKY_TEXT, _TRICKY_TEXT, _VALUES)
def test_property_set_nested_new_key(document: Document, outer: str, inner: str, new: Any) -> None:
    value, text, _ = document
    outer = "outer" + outer
    if outer in value:
        return
    edited = jsonc.set_value(text, [outer, inner], new)
    assert jsonc.parse(edited) == {**value, outer: {inner: new}}
    assert _comments_in_order(edited) == _comments_in_order(text)
    assert edited.startswith("\ufeff") == text.startswith("\ufeff")
    assert edited.endswith("\n") == text.endswith("\n")
    if "\r\n" in text:
        assert "\n" not in edited.replace("\r\n", "")
    assert jsonc.set_value(edited, [outer, inner], new) is edited
    if value:
        assert jsonc.delete_value(edited, [outer]) == text


@PROPERTY_SETTINGS
@given(st.data())
def test_property_replace_value_touches_nothing_else(data: st.DataObject) -> None:
    value, text, renderer = data.draw(_documents(decorate_nested=False, non_empty=True))
    key = data.draw(st.sampled_from(sorted(value)))
    new = data.draw(_VALUES)
    edited = jsonc.set_value(text, [key], new)
    if new == value[key]:  # equal as JSON too, or 1 == 1.0 / True == 1 style near-misses
        assert edited == text or json.dumps(new) != json.dumps(value[key])
        return
    assert edited == renderer.replay({**value, key: new})
    assert jsonc.set_value(edited, [key], new) is edited


@PROPERTY_SETTINGS
@given(st.data())
def test_property_delete_keeps_everything_else(data: st.DataObject) -> None:
    value, text, renderer = data.draw(_documents(non_empty=True))
    key = data.draw(st.sampled_from(sorted(value)))
    edited = jsonc.delete_value(text, [key])
    assert jsonc.parse(edited) == {name: item for name, item in value.items() if name != key}
    kept = _comments_in_order(edited)
    assert kept == [comment for comment in _comments_in_order(text) if comment in kept]
    before = renderer.choices[("before", (key,))]
    if before is not None:
        assert before in edited
    assert jsonc.delete_value(edited, [key]) is edited


@PROPERTY_SETTINGS
@given(_documents(), _SCALARS)
def test_property_array_append_remove(document: Document, item: Any) -> None:
    value, text, _ = document
    edited = jsonc.append_to_array(text, ["new-list"], item)
    assert jsonc.parse(edited) == {**value, "new-list": [item]}
    assert jsonc.append_to_array(edited, ["new-list"], item) is edited
    other = jsonc.append_to_array(edited, ["new-list"], "other")
    assert jsonc.parse(other)["new-list"] == [item, "other"]
    assert jsonc.remove_from_array(other, ["new-list"], "other") == edited
