"""Plain export formats: spreadsheet-safe CSV, JSON, Markdown helpers, and scrubbing of
personal data for public (open data) exports. No knowledge of features here."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

#: version of the digest export document (docs/digest.schema.json); bump the major on breaking changes
DIGEST_SCHEMA_VERSION = "1.0"
#: version of raw-record export documents
RECORDS_SCHEMA_VERSION = "1.0"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HELSINKI = ZoneInfo("Europe/Helsinki")

#: CSV field separators offered. Finnish and Swedish Excel (whose decimal separator is a comma)
#: splits a double-clicked CSV on ";"; English Excel and most tools on ",". The default follows
#: the export's language (``separator_for``); decimals in a ";" file are written with a comma.
SEPARATORS = (";", ",")


def separator_for(lang: str) -> str:
    return "," if lang == "en" else ";"


def safe_cell(value: Any, separator: str = ",") -> Any:
    """A CSV cell that Excel/LibreOffice will not run as a formula: text starting with
    = + - @ tab or CR gets a leading apostrophe. Numbers stay numbers (with a decimal comma in a
    ";" file); nested data (lists, dicts) is one JSON text, never Python's repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value).replace(".", ",") if separator == ";" else value
    if isinstance(value, datetime):
        value = local_iso(value)
    elif isinstance(value, list | tuple | dict):
        value = json.dumps(local_times(value), ensure_ascii=False, sort_keys=isinstance(value, dict))
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


_ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)$")


def local_iso(value: datetime) -> str:
    """A moment as ISO 8601 in Europe/Helsinki with its offset ("2026-11-23T14:00:00+02:00")."""
    return value.astimezone(HELSINKI).isoformat()


def local_times(value: Any) -> Any:
    """A copy in which every moment (a datetime, or an ISO text in UTC) is in Europe/Helsinki
    with its offset, at any depth. Dates and other texts are left as they are."""
    if isinstance(value, datetime):
        return local_iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, str) and _ISO_UTC.match(value):
        return local_iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    if isinstance(value, dict):
        return {k: local_times(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [local_times(v) for v in value]
    return value


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


def to_csv(rows: list[dict], columns: list[str] | None = None, separator: str = ",") -> bytes:
    """UTF-8 with BOM (Excel detects the encoding), CRLF rows, every field quoted when needed,
    fields separated by ``separator`` (see SEPARATORS), moments in Europe/Helsinki."""
    if separator not in SEPARATORS:
        raise ValueError(f"CSV separator must be one of {SEPARATORS}")
    columns = columns or columns_of(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=separator, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(c, separator) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(local_times(row.get(col)), separator) for col in columns])
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
        lines.append("| " + " | ".join(md_escape(_md_cell(row.get(c))) for c in columns) + " |")
    return lines


def _md_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):  # nested data as JSON, never Python's repr
        return json.dumps(local_times(value), ensure_ascii=False)
    return local_times(value)


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
