"""Reading tab-separated files that may or may not use CSV-style quoting.

Two dialects reach the sentiment model, and a text column can hold tabs, quotes and
newlines:

* **quoted TSV**, as written by Python's ``csv`` module or ``pandas.to_csv(sep="\\t")``:
  a field holding a tab, newline or ``"`` is wrapped in ``"`` with inner quotes doubled;
* **plain TSV** (the research data sets): one physical line per row, fields split on tabs,
  quotes are ordinary characters (a text may even start with ``"Grexit" ...``).

Reading them with one fixed setting is wrong for one dialect or the other: ``QUOTE_NONE``
splits quoted fields at their inner tabs and keeps the quote marks; the default quoting
silently mangles plain rows whose text starts with a quote, and can swallow the following
lines. So a file is first parsed as quoted TSV in ``strict`` mode (any stray quote is an
error); if that fails, or any row's field count differs from the header's, the file is
parsed again as plain TSV, where surplus tabs are kept inside the last column. A plain
file that is also valid quoted TSV (only whole fields wrapped in quotes) is read as quoted.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path


class TsvFormatError(ValueError):
    """A file that is neither valid quoted TSV nor valid plain TSV for its header."""


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a TSV file (UTF-8, optional BOM), each row as long as the header."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        return _parse_quoted(text)
    except (csv.Error, TsvFormatError):
        return _parse_plain(text, path)


def column(header: list[str], name: str, path: Path) -> int:
    """Index of column ``name``; a clear error naming the file and the columns found."""
    if name not in header:
        raise TsvFormatError(f"{path}: no {name!r} column; columns found: {header}")
    return header.index(name)


def _parse_quoted(text: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
    header = next(reader, None)
    if header is None:
        raise TsvFormatError("empty file")
    rows = [_checked_row(row, len(header)) for row in reader]
    return header, rows


def _checked_row(row: list[str], width: int) -> list[str]:
    """A parsed quoted row; an empty line is a row of empty fields only in a one-column file."""
    if not row and width == 1:
        return [""]
    if len(row) != width:
        raise TsvFormatError(f"row has {len(row)} fields, header has {width}")
    return row


def _parse_plain(text: str, path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    if not lines:
        raise TsvFormatError(f"{path}: empty file")
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        row = line.split("\t", len(header) - 1)
        if len(row) != len(header):
            raise TsvFormatError(
                f"{path}: line {number} has {len(row)} fields, header has {len(header)}"
            )
        rows.append(row)
    return header, rows
