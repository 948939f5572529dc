"""RFC 5545 validation by libical (the C library behind Evolution, KDE and many CalDAV servers), read
through ctypes: its parser marks what it cannot accept with X-LIC-ERROR properties, and
``icalrestriction_check`` adds one for each property a component must have once, may have at most
once, or must not have. The check is RFC 5545's own table: a calendar with a METHOD is checked
against RFC 5546's (iTIP) table for that method, so ``itip=False`` reads it without its METHOD line
(the bot's METHOD:PUBLISH says "a copy to import", and PUBLISH as an iTIP message would also want
an ORGANIZER, which a neighbourhood chat has not). The tests need the shared library (Debian:
``libical3``; ``./test`` installs it)."""

from __future__ import annotations

import ctypes
import ctypes.util
import re


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("ical") or "libical.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise RuntimeError("libical is not installed (Debian: apt-get install libical3); "
                           "the calendar tests validate with it") from exc
    lib.icalparser_parse_string.restype = ctypes.c_void_p
    lib.icalparser_parse_string.argtypes = [ctypes.c_char_p]
    lib.icalrestriction_check.argtypes = [ctypes.c_void_p]
    lib.icalcomponent_as_ical_string.restype = ctypes.c_char_p
    lib.icalcomponent_as_ical_string.argtypes = [ctypes.c_void_p]
    lib.icalcomponent_free.argtypes = [ctypes.c_void_p]
    lib.icalerror_set_errors_are_fatal.argtypes = [ctypes.c_int]
    lib.icalerror_set_errors_are_fatal(0)
    return lib


def problems(data: bytes, *, itip: bool = False) -> list[str]:
    """What libical finds wrong in the calendar (empty: valid)."""
    lib = _load()
    if not itip:
        data = re.sub(rb"(?m)^METHOD:[^\r\n]*\r?\n", b"", data)
    comp = lib.icalparser_parse_string(data)
    if not comp:
        return ["libical could not parse it at all"]
    try:
        lib.icalrestriction_check(comp)
        text = lib.icalcomponent_as_ical_string(comp).decode("utf-8", "replace")
    finally:
        lib.icalcomponent_free(comp)
    unfolded = text.replace("\r\n ", "").replace("\n ", "")
    return [line for line in unfolded.splitlines() if line.startswith("X-LIC-ERROR")]
