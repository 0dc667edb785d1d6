"""Undo one run's edits of a JSON file that another program has changed since, key by key.

Agents rewrite their own files (Claude Code all of ~/.claude.json, Kilo adds `permission`,
Cline bumps `updatedAt`), so by the time a user restores, the file is rarely what the run
wrote. Overwriting it with the old bytes would lose the agent's changes. Instead: diff the run's
pre-image and post-image key by key, and revert exactly those keys in the current file through
the minimal JSONC edits, as long as each still holds the value the run gave it. Any key that
someone else changed since is a conflict, named, and the caller reports the file as drift.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from megallm_cli.formats import jsonc

# Keys agents stamp on every save of an entry (Cline's providers.json stamps `updatedAt` on each
# provider it writes back): a later stamp on one of the run's entries is bookkeeping, not an edit
# to keep, so it does not make that entry a conflict.
BOOKKEEPING_KEYS = frozenset({"updatedAt"})


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The value of a key that is absent."""


@dataclass(frozen=True)
class KeyEdit:
    """The run changed the value at `path` from `before` to `after` (either may be MISSING).

    `container` marks an object the run added (before MISSING) or removed (after MISSING)
    whole; its members come as edits of their own, listed before it.
    """

    path: tuple[str, ...]
    before: Any
    after: Any
    container: bool = False


@dataclass(frozen=True)
class Reverted:
    """The current file with the run's keys put back; `data` None: delete the file."""

    data: bytes | None
    kept_changes: bool


@dataclass(frozen=True)
class Conflict:
    """Why the run's keys cannot be taken out of the current file, for the user."""

    reason: str


def key_edits(before: Any, after: Any, prefix: tuple[str, ...] = ()) -> list[KeyEdit]:
    """What changed from `before` to `after`, as edits of leaves; objects are descended into,
    also where one side lacks them (an object the run added is a set of added keys)."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        return [] if jsonc.same_json(before, after) else [KeyEdit(prefix, before, after)]
    if not isinstance(before, dict) and before is not MISSING:
        return [KeyEdit(prefix, before, after)]
    if not isinstance(after, dict) and after is not MISSING:
        return [KeyEdit(prefix, before, after)]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    edits = []
    for key in [*old, *(k for k in new if k not in old)]:
        edits += key_edits(old.get(key, MISSING), new.get(key, MISSING), (*prefix, key))
    if before is MISSING or after is MISSING:
        edits.append(KeyEdit(prefix, before, after, container=True))
    return edits


def lookup(document: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return MISSING
        document = document[key]
    return document


def revert(before: bytes | None, after: bytes, current: bytes) -> Reverted | Conflict:
    """`current` with the edits that turned `before` into `after` undone, or the Conflict that
    prevents it: a file that is not a JSON object, or a key changed by someone else."""
    try:
        return _revert(before, after, current)
    except (ValueError, UnicodeDecodeError):
        return Conflict("it is no longer a JSON object")
    except (TypeError, AttributeError):
        # A key of the run's now below something that is no longer an object (jsonc raises
        # TypeError there, _assign AttributeError).
        return Conflict("an object holding this run's keys was replaced since")
    except RecursionError:
        return Conflict("it is nested too deep to compare")


def _revert(before: bytes | None, after: bytes, current: bytes) -> Reverted | Conflict:
    old = _object(before) if before is not None and not _blank(before) else {}
    new = _object(after)
    now = _object(current)
    text = current.decode("utf-8")
    expected = copy.deepcopy(now)
    emptied_objects: list[tuple[str, ...]] = []
    for edit in key_edits(old, new):
        if edit.container and edit.before is MISSING:
            emptied_objects.append(edit.path)
            continue
        if edit.container:  # an object the run removed: back, even if it had no members
            if lookup(expected, edit.path) is MISSING:
                text = jsonc.set_value(text, edit.path, {})
                _assign(expected, edit.path, {})
            continue
        wanted = _reverted_value(edit, lookup(now, edit.path))
        if wanted is None:
            return Conflict(f"{_dotted(edit.path)} was changed since")
        if wanted[0] is MISSING:
            text = jsonc.delete_value(text, edit.path)
        else:
            text = jsonc.set_value(text, edit.path, wanted[0])
        _assign(expected, edit.path, wanted[0])
    for path in sorted(emptied_objects, key=len, reverse=True):
        if lookup(expected, path) == {}:
            text = jsonc.delete_value(text, path)
            _assign(expected, path, MISSING)
    if not jsonc.same_json(jsonc.parse(text), expected):
        # The edits did not do what they should: never write a guess.
        return Conflict("this run's keys could not be taken out exactly")
    if (
        _blank(before)
        and all(value in ({}, [], None) for value in expected.values())
        and not jsonc.has_comments(text)
    ):
        # No file, or the user's blank one, as it was: what an agent added to the run's file
        # holds nothing (Cline's `"modes": {}`), and left alone it would be a file the agent
        # rejects (Cline requires `version` and `providers`).
        return Reverted(before, False)
    kept = not jsonc.same_json(expected, old)
    return Reverted(text.encode("utf-8"), kept)


def _dotted(path: Sequence[str]) -> str:
    """`env.ANTHROPIC_BASE_URL`; a key with a dot or a space in it is quoted."""
    return ".".join(
        key if key and all(c.isalnum() or c in "_-" for c in key) else f'"{key}"' for key in path
    )


def _blank(data: bytes | None) -> bool:
    """No file, or one holding only whitespace: agents read both as no settings."""
    return data is None or not data.decode("utf-8", "replace").strip("\ufeff \t\r\n")


def _object(data: bytes) -> dict[str, Any]:
    value = jsonc.parse(data.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _reverted_value(edit: KeyEdit, value: Any) -> tuple[Any] | None:
    """(the value to put at edit.path,), or None when the current value is not the run's."""
    if _same(value, edit.before):
        return (value,)
    if isinstance(edit.before, list) and isinstance(edit.after, list) and isinstance(value, list):
        return _reverted_list(edit.before, edit.after, value)
    if _same(value, edit.after) or edit.path[-1] in BOOKKEEPING_KEYS:
        return (edit.before,)
    return None


def _reverted_list(before: list[Any], after: list[Any], now: list[Any]) -> tuple[Any] | None:
    """An array both sides appended to (Claude Code's approved keys): take out the items the
    run added and put back the ones it removed, keeping the others' items."""
    added = [item for item in after if not _contains(before, item)]
    removed = [item for item in before if not _contains(after, item)]
    if not added and not removed:
        return None  # reordered: nothing to go by
    kept = [item for item in now if not _contains(added, item)]
    return (kept + [item for item in removed if not _contains(kept, item)],)


def _contains(items: list[Any], wanted: Any) -> bool:
    return any(jsonc.same_json(item, wanted) for item in items)


def _same(left: Any, right: Any) -> bool:
    if left is MISSING or right is MISSING:
        return left is right
    return jsonc.same_json(left, right)


def _assign(document: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    if value is MISSING:
        document.pop(path[-1], None)
    else:
        document[path[-1]] = value
