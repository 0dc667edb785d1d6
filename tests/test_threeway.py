"""Reverting one run's keys in a JSON file another program changed since."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from megallm_cli.formats import jsonc
from megallm_cli.threeway import Conflict, Reverted, revert

BEFORE = b"""{
  // the user's
  "theme": "dark",
  "env": {
    "ANTHROPIC_API_KEY": "sk-ant-user"
  },
  "permissions": {"allow": ["Bash(ls)"]}
}
"""


def run_edit(text: bytes) -> bytes:
    """What a setup does: replace one key, add an object, add a top-level key."""
    edited = jsonc.delete_value(text.decode(), ["env", "ANTHROPIC_API_KEY"])
    edited = jsonc.set_value(edited, ["env", "ANTHROPIC_BASE_URL"], "https://ai.megallm.io")
    edited = jsonc.set_value(edited, ["megallm", "note"], "ours")
    return edited.encode()


def test_the_agent_changes_are_kept_and_ours_are_undone() -> None:
    after = run_edit(BEFORE)
    agent = jsonc.set_value(after.decode(), ["theme"], "light")
    agent = jsonc.set_value(agent, ["numStartups"], 7)

    result = revert(BEFORE, after, agent.encode())

    assert isinstance(result, Reverted) and result.kept_changes
    assert result.data is not None
    text = result.data.decode()
    assert "// the user's" in text
    assert jsonc.parse(text) == {
        "theme": "light",
        "env": {"ANTHROPIC_API_KEY": "sk-ant-user"},
        "permissions": {"allow": ["Bash(ls)"]},
        "numStartups": 7,
    }


def test_without_other_changes_the_result_is_the_old_document() -> None:
    after = run_edit(BEFORE)
    result = revert(BEFORE, after, after)
    assert isinstance(result, Reverted) and not result.kept_changes
    assert result.data is not None
    assert jsonc.parse(result.data.decode()) == jsonc.parse(BEFORE.decode())


def test_a_key_of_ours_changed_by_someone_else_is_a_conflict() -> None:
    after = run_edit(BEFORE)
    changed = jsonc.set_value(after.decode(), ["env", "ANTHROPIC_BASE_URL"], "https://other")
    assert revert(BEFORE, after, changed.encode()) == Conflict(
        "env.ANTHROPIC_BASE_URL was changed since"
    )


def test_an_array_both_appended_to_loses_only_our_item() -> None:
    before = b'{"approved": ["aaaa"]}'
    after = b'{"approved": ["aaaa", "ours"]}'
    current = b'{"approved": ["aaaa", "ours", "theirs"]}'
    result = revert(before, after, current)
    assert isinstance(result, Reverted) and result.data is not None
    assert json.loads(result.data) == {"approved": ["aaaa", "theirs"]}


def test_a_file_the_run_created_goes_unless_someone_added_to_it() -> None:
    after = b'{\n  "provider": {"megallm": {"baseURL": "x"}}\n}\n'
    gone = revert(None, after, after)
    assert isinstance(gone, Reverted) and gone.data is None
    added = jsonc.set_value(after.decode(), ["permission"], {"edit": "ask"})
    kept = revert(None, after, added.encode())
    assert isinstance(kept, Reverted) and kept.data is not None
    assert jsonc.parse(kept.data.decode()) == {"permission": {"edit": "ask"}}


def test_files_that_are_not_json_objects_are_left_to_the_caller() -> None:
    not_json = Conflict("it is no longer a JSON object")
    assert revert(b"export A=1\n", b"export A=2\n", b"export A=2\nexport B=1\n") == not_json
    assert revert(b"[]", b"[1]", b"[1, 2]") == not_json


keys = st.sampled_from(["a", "b", "c", "env", "model"])
leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3))
documents = st.recursive(
    leaves,
    lambda children: st.dictionaries(keys, children, max_size=4),
    max_leaves=8,
).filter(lambda value: isinstance(value, dict))


def _disjoint_update(document: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    updated = dict(document)
    for key, value in other.items():
        updated.setdefault(f"x{key}", value)
    return updated


@given(documents, documents, documents)
def test_revert_gives_the_before_document_plus_the_other_programs_keys(
    before: dict[str, Any], after: dict[str, Any], theirs: dict[str, Any]
) -> None:
    current = _disjoint_update(after, theirs)
    result = revert(
        json.dumps(before, indent=2).encode(),
        json.dumps(after, indent=2).encode(),
        json.dumps(current, indent=2).encode(),
    )
    assert isinstance(result, Reverted)
    assert result.data is not None
    assert jsonc.parse(result.data.decode()) == _disjoint_update(before, theirs)


def test_a_blank_file_the_user_had_comes_back_blank_or_with_the_agents_key() -> None:
    after = b'{\n  "provider": {"megallm": {"baseURL": "x"}}\n}\n'
    same = revert(b"  \n", after, after)
    assert isinstance(same, Reverted) and same.data == b"  \n"
    added = jsonc.set_value(after.decode(), ["theme"], "light")
    kept = revert(b"", after, added.encode())
    assert isinstance(kept, Reverted) and kept.data is not None
    assert jsonc.parse(kept.data.decode()) == {"theme": "light"}


def test_a_document_nested_too_deep_to_compare_is_left_to_the_caller() -> None:
    deep = b'{"a": ' * 450 + b"1" + b"}" * 450
    result = revert(b"{}", b'{"x": 1}', b'{"x": 1, "deep": ' + deep + b"}")
    assert isinstance(result, Conflict)


def test_a_later_save_stamp_on_our_entry_is_not_a_conflict() -> None:
    """Cline rewrites providers.json with a new `updatedAt` on the entry megallm wrote."""
    before = b'{"providers": {}}'
    after = b'{"providers": {"openai-compatible": {"settings": {"a": 1}, "updatedAt": "T1"}}}'
    cline = b'{"providers": {"openai-compatible": {"settings": {"a": 1}, "updatedAt": "T2"}},'
    cline += b' "modes": {}}'
    result = revert(before, after, cline)
    assert isinstance(result, Reverted) and result.data is not None
    assert json.loads(result.data) == {"providers": {}, "modes": {}}


def test_a_file_the_run_created_holding_only_empty_additions_goes() -> None:
    after = b'{"version": 1, "providers": {"openai-compatible": {"updatedAt": "T1"}}}'
    cline = b'{"version": 1, "providers": {"openai-compatible": {"updatedAt": "T2"}}, "modes": {}}'
    result = revert(None, after, cline)
    assert isinstance(result, Reverted) and result.data is None


def test_a_key_of_ours_below_something_no_longer_an_object_is_a_conflict() -> None:
    before = b'{"env": {"FOO": "1"}}'
    after = b'{"env": {"FOO": "1", "ANTHROPIC_BASE_URL": "x"}}'
    replaced = Conflict("an object holding this run's keys was replaced since")
    assert revert(before, after, b'{"env": null, "theme": "dark"}') == replaced
    assert revert(before, after, b'{"env": "x"}') == replaced


def test_a_comment_added_to_a_file_the_run_created_keeps_it() -> None:
    after = b'{"version": 1}'
    result = revert(None, after, b'{\n  // mine\n  "version": 1,\n  "modes": {}\n}')
    assert isinstance(result, Reverted) and result.data is not None
    assert b"// mine" in result.data
