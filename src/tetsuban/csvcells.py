"""CSV cells that a spreadsheet will not run: a text cell that begins like a formula (``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) is written with a leading apostrophe, as OWASP advises for CSV injection, and that one
apostrophe is taken off again when tetsuban reads its own CSV back, so a label survives the round trip."""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as it may go into a CSV cell: text that starts like a formula gets a leading apostrophe; numbers
    (whose minus sign is no formula) are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    return [safe_cell(v) for v in values]


def unquote_cell(text: str) -> str:
    """A cell read from a CSV, with the apostrophe that safe_cell put before a formula start taken off."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
