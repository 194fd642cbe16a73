"""The property sheet's definitions: kinds, value checks, and rules that bucket survey measurements."""

from __future__ import annotations

import csv
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tetsuban.errors import ConfigError, SourceError
from tetsuban.params import check_choice

KINDS = ("bool", "choice", "number", "text")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RULE = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_TRUE, _FALSE = ("true", "yes", "1", "y"), ("false", "no", "0", "n")
Value = bool | str | float | None


@dataclass(frozen=True)
class Property:
    """One field of the sheet. With a ``rule`` it is a bool computed from a survey measurement."""

    name: str
    kind: str
    choices: tuple[str, ...] = ()
    rule: str | None = None

    def parse(self, text: str | bool | float | None) -> Value:
        """The value ``text`` stands for, checked against the kind ("" and None clear the value)."""
        if text is None or text == "":
            return None
        if self.kind == "bool":
            if isinstance(text, bool):
                return text
            lowered = str(text).strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ConfigError(f"The property '{self.name}' is yes/no: give true or false. Got {text!r}.")
        if self.kind == "choice":
            return check_choice(self.name, str(text).strip(), self.choices)
        if self.kind == "number":
            try:
                return float(text)
            except ValueError:
                raise ConfigError(f"The property '{self.name}' is a number. Got {text!r}.") from None
        return str(text)


def define(
    name: str, kind: str, choices: Sequence[str] = (), rule: str | None = None, known: Sequence[str] = ()
) -> Property:
    """A checked definition; ``known`` are the survey columns a rule may use."""
    if not _NAME.match(name):
        raise ConfigError(f"A property name is lower case letters, digits and _ (a letter first). Got {name!r}.")
    check_choice("kind", kind, KINDS)
    cleaned = tuple(c.strip() for c in choices if c.strip())
    if kind == "choice" and len(cleaned) < 2:
        raise ConfigError(f"A choice property needs at least two values (--values a,b). Got {list(choices)!r}.")
    if kind != "choice" and cleaned:
        raise ConfigError(f"Only a choice property has values; '{name}' is {kind}.")
    if rule is not None:
        if kind != "bool":
            raise ConfigError(f"A rule makes a yes/no property: use --kind bool for '{name}'.")
        parse_rule(rule, known)
    return Property(name, kind, cleaned, rule)


def parse_rule(rule: str, known: Sequence[str]) -> tuple[str, Callable[[float, float], bool], float]:
    """(column, comparison, threshold) of a rule such as ``brightness < 40``."""
    found = _RULE.match(rule)
    if found is None or found.group(1) not in known:
        raise ConfigError(
            f"A rule compares a survey measurement with a number, like 'brightness < 40'. Got {rule!r}. "
            f"Measurements: {', '.join(known)}."
        )
    return found.group(1), _OPS[found.group(2)], float(found.group(3))


def read_values_csv(path: Path) -> list[tuple[str, str]]:
    """(image path, value) rows of a CSV with ``path`` and ``value`` columns; relative paths are from its folder."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"path", "value"} <= set(reader.fieldnames):
                raise SourceError(f"The CSV {path} needs 'path' and 'value' columns; it has: {reader.fieldnames}.")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"The CSV {path} cannot be read: {exc}.") from exc
    base = path.resolve().parent
    return [(str((base / (r["path"] or "").strip()).resolve()), (r["value"] or "").strip()) for r in rows]
