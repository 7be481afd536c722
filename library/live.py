"""Is a track a live recording? Decided once at sync time from title and album.

A bare keyword match on "live" gets studio songs wrong ("Live and Let Die",
"Live Forever"), so a title counts as live only where "live" is a marker: in
brackets, after a dash, or "live at/from". Albums are read more loosely,
because an album titled "Live at ..." or "... in Concert" is a live album.
"""

import re

_FLAGS = re.IGNORECASE
# A show date: 1994-05-12, 1977.06.07, 1969/08/17
_DATE = r"\b(?:19|20)\d\d([-./])(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])\b"
_WORDS = r"(?:live|concert|in concert|sbd|bootleg|unplugged|en vivo|ao vivo|en directo|en concierto)"
# "live" (or another live word) inside brackets, or after a dash or colon
_MARKER = rf"[(\[][^)\]]*\b{_WORDS}\b|\s[-\u2013\u2014:]\s*{_WORDS}\b"
_LIVE_AT = r"\blive\s+(?:at|from)\b"

_TITLE = re.compile(rf"{_MARKER}|{_LIVE_AT}|{_DATE}", _FLAGS)
_ALBUM = re.compile(
    rf"{_MARKER}|{_LIVE_AT}|{_DATE}"
    r"|\blive\s+(?:in|on)\b"
    r"|^\s*live(?:\s*[!:.]|\s*$)"
    r"|\b(?:concert|sbd|bootleg|unplugged|en vivo|ao vivo|en directo)\b",
    _FLAGS,
)


def is_live(title, album, album_is_live=False):
    """True for a live recording. album_is_live is the server's own word for
    the album (Plex's "Live" subformat), when it has one."""
    return bool(album_is_live or _TITLE.search(title or "") or _ALBUM.search(album or ""))
