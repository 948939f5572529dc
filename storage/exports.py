"""Plain export formats: spreadsheet-safe CSV, JSON, Markdown helpers, and scrubbing of
personal data for public (open data) exports. No knowledge of features here."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from typing import Any

#: version of the digest export document (docs/digest.schema.json); bump the major on breaking changes
DIGEST_SCHEMA_VERSION = "1.0"
#: version of raw-record export documents
RECORDS_SCHEMA_VERSION = "1.0"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that Excel/LibreOffice will not run as a formula: text starting with
    = + - @ tab or CR gets a leading apostrophe. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def columns_of(rows: Iterable[dict], first: Iterable[str] = ()) -> list[str]:
    """Union of the rows' keys, ``first`` ones first, then in first-seen order."""
    cols = list(first)
    seen = set(cols)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                cols.append(key)
    return cols


def to_csv(rows: list[dict], columns: list[str] | None = None) -> bytes:
    """UTF-8 with BOM (Excel detects the encoding), CRLF rows, every field quoted when needed."""
    columns = columns or columns_of(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(col)) for col in columns])
    return buf.getvalue().encode("utf-8-sig")


def to_json(document: Any) -> bytes:
    # no indent: the C encoder is ~10x faster on year-long exports; pretty-print with `jq` if needed
    return (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!])")


def md_escape(text: Any) -> str:
    """Text safe inside a Markdown line or table cell (one line, specials backslashed)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_table(rows: list[dict], columns: list[str] | None = None) -> list[str]:
    columns = columns or columns_of(rows)
    lines = ["| " + " | ".join(md_escape(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(md_escape("" if row.get(c) is None else row.get(c)) for c in columns) + " |")
    return lines


#: keys that can carry personal data or platform ids; dropped from public exports at any depth
_PERSONAL = re.compile(
    r"(^|_)(key|keys|name|names|user|users|author|person|people_ids|sender|voter|voters|id|ids|chat|"
    r"message|mxid|email|phone|organizer|attendees|rsvps_by)$",
    re.I,
)


def scrub(value: Any) -> Any:
    """A copy without personal keys (see _PERSONAL) at any depth."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not _PERSONAL.search(str(k))}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
