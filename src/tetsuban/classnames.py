"""What a class name may be: one rule for the app, imports, the command line and the store.

A class name is shown on buttons, in reports and in CSV cells, and typed by people, so it is 1 to 64 characters,
with no space at either end and nothing invisible or layout-changing in it: no line breaks, tabs or other control
characters, no bidirectional controls (which make a name read as something else), no other format characters
except the zero-width joiner that emoji sequences use.
"""

from __future__ import annotations

import unicodedata

from tetsuban.errors import ConfigError

MAX_CLASS_NAME = 64
_ALLOWED_FORMAT = {"\u200d"}  # the zero-width joiner inside emoji sequences
_CONTROLS = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL"}


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name, or None when it can."""
    if not name or not name.strip():
        return "it is empty"
    if len(name) > MAX_CLASS_NAME:
        return f"it has {len(name)} characters, more than {MAX_CLASS_NAME}"
    if name != name.strip():
        return "it begins or ends with a space"
    for position, char in enumerate(name, start=1):
        if char in _ALLOWED_FORMAT or char.isprintable():
            continue
        what = _CONTROLS.get(char) or unicodedata.name(char, "a control character")
        return f"character {position} is {what} (U+{ord(char):04X}), which is invisible or changes the text's layout"
    return None


def check_class_name(name: str) -> str:
    """``name`` when it may be a class name; else ConfigError saying why and what to do."""
    problem = class_name_problem(name)
    if problem is not None:
        raise ConfigError(
            f"{name[:80]!r} cannot be a class name: {problem}. A class name has 1 to {MAX_CLASS_NAME} characters, "
            "no space at either end, and no line breaks, tabs or control characters."
        )
    return name


def name_key(name: str) -> str:
    """What two class names are compared by: "Flags", "flags" and "FLAGS" name one class."""
    return name.casefold()
