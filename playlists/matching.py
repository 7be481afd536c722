"""Match imported playlist entries to cached tracks, with no request to the media server.

The reference tool searched the server up to 16 times per entry (3,808 requests for a
238-track playlist, seed 004) and still matched remixes and "feat." credits wrongly.
Here the cache is read once into a dict keyed on the normalized title, and an entry is
matched only when its artist and its title both agree with a track's.

Titles agree when equal after normalize() and after dropping what marks another release
of the same recording: feat./with credits, Remaster(ed) [year], Deluxe/Bonus, Album or
Single Version, Mono/Stereo, Explicit/Clean, Live ("Song - Live at X"). Remix, Mix,
Version, Acoustic, Instrumental and Demo stay: those are other recordings.
"Radio Edit", "Single Edit" and "Edit" are dropped too: streaming playlists often list
the single edit of a song the library holds as the album cut, and the user wants the song.
When both cuts are in the library the exact title wins the tie (below).

Artists agree when the whole credits are equal, or the primary artists are: the first
name of "A feat. B", "A & B", "A, B", "A x B", "A; B", "A with B". A credit that is
itself the name of an album artist in the library ("Simon & Garfunkel", "Earth, Wind &
Fire") is not split. "Various Artists" agrees with nobody; a leading "The" is optional.

Several agreeing tracks are narrowed, each step only when it leaves someone: same album,
then same exact title, then duration within 3 s, then live agreeing with the entry's
title or album (so a studio entry gets the studio take and "Song (Live)" the live one;
with only one of them cached, that one is the match). Tracks still tied that are one
recording (same live flag, known durations within 3 s) on several albums are not a real
choice: the one on an album by the entry's artist wins over a compilation, then the
lowest rating_key (Plex hands keys out rising, so the first added); the result lists
them all as candidates. Tracks still tied that may be different recordings are
"ambiguous", with the candidates. Nothing is ever matched on the title alone.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

from library.live import is_live
from library.models import Track
from playlists.importers import Entry

_FIELDS = ("rating_key", "artist", "album_artist", "title", "album", "duration_ms", "is_live")


class CachedTrack(NamedTuple):
    rating_key: str
    artist: str
    album_artist: str
    title: str
    album: str
    duration_ms: int | None
    is_live: bool


@dataclass
class MatchResult:
    entry: Entry
    status: str  # "matched", "unmatched" or "ambiguous"
    track: CachedTrack | None = None
    candidates: list[CachedTrack] = field(default_factory=list)


# --- normalizing ---------------------------------------------------------------------------------

# Apostrophes vanish ("Don’t" = "Dont"); letters with no decomposition fold by hand.
_FOLD = str.maketrans(
    {
        "'": "",
        "’": "",
        "‘": "",
        "‛": "",
        "ʼ": "",
        "`": "",
        "´": "",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "ı": "i",
        "þ": "th",
    }
)
_ABBREVIATION = re.compile(r"\b(\w)\.(?=\w\b)")  # R.E.M. = REM
_NOT_WORD_ASCII = re.compile(r"[^a-z0-9]+")
_LATIN_END = "\u0250"  # Basic Latin to Latin Extended-B: the letters whose accents we drop


def normalize(text: str) -> str:
    """Casefolded words without punctuation, Latin accents, or the &/+/and difference."""
    if text.isascii():  # the common case, fast
        text = _ABBREVIATION.sub(r"\1", text.lower().translate(_FOLD))
        text = text.replace("&", " and ").replace("+", " and ")
        return _NOT_WORD_ASCII.sub(" ", text).strip()
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    text = _ABBREVIATION.sub(r"\1", text).replace("&", " and ").replace("+", " and ")
    chars = []
    latin = False
    for char in unicodedata.normalize("NFD", text):
        kind = unicodedata.category(char)[0]
        if kind == "M":
            # Beyoncé = Beyonce, but a kana's dakuten or a Devanagari vowel sign is part of the letter.
            if not latin:
                chars.append(char)
        elif kind in "LN":
            chars.append(char)
            latin = char < _LATIN_END
        else:
            chars.append(" ")
            latin = False
    return " ".join(unicodedata.normalize("NFC", "".join(chars)).split())


_YEAR = r"(?:19|20)\d\d"
# Bracketed or dash suffixes that name another release of the same recording.
_VERSION = re.compile(
    rf"""
    (?:feat\.?|ft\.?|featuring|with)\s.+
    | (?:{_YEAR}\s*[-/]?\s*)?(?:digital(?:ly)?\s+|mono\s+|stereo\s+)?re-?master(?:ed)?
      (?:\s+(?:version|edition))?(?:\s*[-/]?\s*{_YEAR})?(?:\s+version)?
    | (?:{_YEAR}\s+)?(?:super\s+)?(?:deluxe|expanded|special)(?:\s+(?:edition|version))?
    | (?:\d+(?:st|nd|rd|th)\s+)?anniversary(?:\s+(?:edition|version))?
    | bonus(?:\s+tracks?)?(?:\s+version)?
    | (?:album|single|lp)\s+version
    | (?:radio|single)\s+(?:edit|version) | edit | edited
    | mono | stereo | (?:mono|stereo)\s+version
    | explicit | clean | (?:explicit|clean)\s+(?:version|edit) | explicit\s+lyrics
    | (?:recorded\s+)?live(?:\s+version)?(?:\s*[-:,;/]?\s*(?:(?:at|from|in|on|@)\s.*|{_YEAR}.*))?
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "40th Anniversary Version / 2010 Remastered", "Mono; 2009 Remaster"
_VERSION_PARTS = re.compile(r"\s*[/;,]\s*")
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_BRACKETED = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]")
_DASH_TAIL = re.compile(rf"\s+[{_DASHES}]\s+((?:(?!\s[{_DASHES}]\s).)*)$")
# "Song feat. X" with no brackets: the credit runs to the end, a bracket or a dash.
_BARE_FEAT = re.compile(
    rf"\s+(?:feat\.?|ft\.|featuring)\s[^()\[\]]*?(?=\s*[(\[]|\s[{_DASHES}]\s|$)", re.IGNORECASE
)
# Words that make a suffix another recording whatever else it says ("Live at X Remix").
_OTHER_RECORDING = re.compile(
    r"\b(?:re)?mix|\b(?:acoustic|instrumental|demo|karaoke|a\s?cappella|rework|dub)\b", re.IGNORECASE
)
_MAYBE_VERSION = re.compile(rf"[(\[{_DASHES}]|\bf(?:ea)?t\b|featuring", re.IGNORECASE)


def _strip_versions(title):
    if not _MAYBE_VERSION.search(title):
        return title
    previous = None
    while title != previous:
        previous = title
        title = _BRACKETED.sub(lambda m: "" if _is_version(m[1]) else m[0], title)
        tail = _DASH_TAIL.search(title)
        if tail and _is_version(tail[1]):
            title = title[: tail.start()]
    return _BARE_FEAT.sub("", title)


def _is_version(text):
    text = text.strip()
    if _OTHER_RECORDING.search(text):
        return False
    if _VERSION.fullmatch(text):
        return True
    parts = [part for part in _VERSION_PARTS.split(text) if part]
    return len(parts) > 1 and all(_VERSION.fullmatch(part) or re.fullmatch(_YEAR, part) for part in parts)


def _title_keys(title):
    """(key for finding candidates, exact normalized title for breaking ties)."""
    exact = normalize(title)
    return normalize(_strip_versions(title)) or exact, exact


def _artist_key(name):
    key = normalize(name)
    return key[4:] if key.startswith("the ") else key


_VARIOUS = {
    "various artists",
    "various",
    "va",
    "verschiedene interpreten",
    "artistes divers",
    "varios artistas",
}
# Where a credit may join several artists; spaces around words keep "Malcolm X" whole.
_CREDIT_SPLIT = re.compile(
    r"\s*(?:[,;、]|\s(?:/|&|\+|x|×|and|with|vs\.?|feat\.?|ft\.?|featuring)\s)\s*", re.IGNORECASE
)


# --- matching ------------------------------------------------------------------------------------


class Matcher:
    def __init__(self, tracks):
        """tracks: objects or dicts with the CachedTrack fields."""
        self._by_title = {}
        self._credits = {}  # artist credit -> the keys it agrees on, filled as needed
        shared = {}  # one string object per distinct artist or album: they repeat a lot
        album_artists = set()
        for item in tracks:
            if not isinstance(item, dict):
                item = {name: getattr(item, name, None) for name in _FIELDS}
            artist, album_artist, album = (
                shared.setdefault(s, s)
                for s in (item["artist"] or "", item["album_artist"] or "", item["album"] or "")
            )
            album_artists.add(album_artist)
            track = CachedTrack(
                str(item["rating_key"]),
                artist,
                album_artist,
                item["title"] or "",
                album,
                item["duration_ms"],
                bool(item["is_live"]),
            )
            # Most titles have one track: store it bare, a list only for the rest (saves ~20%).
            key = _title_keys(track.title)[0]
            found = self._by_title.get(key)
            if found is None:
                self._by_title[key] = track
            elif isinstance(found, list):
                found.append(track)
            else:
                self._by_title[key] = [found, track]
        # Album artists' names are never split into primaries: "Simon & Garfunkel" is one act.
        self._known = {_artist_key(name) for name in album_artists} - _VARIOUS - {""}

    @classmethod
    def from_cache(cls, source="plex"):
        """A matcher over the cached tracks of one server: one query, streamed."""
        rows = Track.objects.filter(source=source).order_by().values(*_FIELDS)
        return cls(rows.iterator(chunk_size=2000))

    def match_all(self, entries) -> list[MatchResult]:
        return [self.match(entry) for entry in entries]

    def match(self, entry) -> MatchResult:
        key, exact = _title_keys(entry.title)
        names = self._names(entry.artist)
        # A title of punctuation alone has an empty key: it would agree with any other.
        rows = self._by_title.get(key, []) if key and names else []
        found = [t for t in (rows if isinstance(rows, list) else [rows]) if self._agrees(names, t)]
        if len(found) > 1:
            found = self._narrow(entry, exact, found)
        if not found:
            return MatchResult(entry, "unmatched")
        if len(found) == 1:
            return MatchResult(entry, "matched", found[0])
        if _one_recording(found):
            # Prefer the artist's own album to a compilation, then the first added.
            best = min(
                found, key=lambda t: (names.isdisjoint(self._names(t.album_artist)), _key_order(t.rating_key))
            )
            return MatchResult(entry, "matched", best, found)
        return MatchResult(entry, "ambiguous", None, found)

    def _narrow(self, entry, exact, found):
        live = is_live(entry.title, entry.album)
        album = normalize(_strip_versions(entry.album)) if entry.album else None
        duration = entry.duration_ms
        steps = [
            lambda t: album is not None and normalize(_strip_versions(t.album)) == album,
            lambda t: normalize(t.title) == exact,
            lambda t: duration and t.duration_ms is not None and abs(t.duration_ms - duration) <= 3000,
            lambda t: t.is_live == live,
        ]
        for step in steps:
            kept = [t for t in found if step(t)]
            if kept:
                found = kept
            if len(found) == 1:
                break
        return found

    def _agrees(self, names, track):
        by_artist = self._names(track.artist)
        return not (names.isdisjoint(by_artist) and names.isdisjoint(self._names(track.album_artist)))

    def _names(self, credit):
        """The keys a credit agrees on: the whole credit and its primary artist."""
        names = self._credits.get(credit)
        if names is None:
            names = self._credits[credit] = frozenset(self._split(credit))
        return names

    def _split(self, credit):
        # "Beatles, The" is The Beatles, not two artists; brackets hold feat. credits.
        credit = re.sub(r"[()\[\]]", " ", re.sub(r",\s*the\s*$", "", credit.strip(), flags=re.IGNORECASE))
        whole = _artist_key(credit)
        if not whole or whole in _VARIOUS:
            return set()
        if whole in self._known:
            return {whole}
        prefixes = [_artist_key(credit[: m.start()]) for m in _CREDIT_SPLIT.finditer(credit)]
        prefixes = [p for p in prefixes if p and p not in _VARIOUS]
        # The longest prefix that is a known album artist ("Earth, Wind & Fire with The
        # Emotions"), else the first name.
        primary = next(
            (p for p in reversed(prefixes) if p in self._known), prefixes[0] if prefixes else whole
        )
        return {whole, primary}


def _one_recording(tracks):
    """Same live flag and lengths within 3 s: the same recording, as far as we can tell.
    Without a length for every track we cannot tell."""
    durations = [t.duration_ms for t in tracks]
    if None in durations or len({t.is_live for t in tracks}) > 1:
        return False
    return max(durations) - min(durations) <= 3000


def _key_order(rating_key):
    return (0, int(rating_key), "") if rating_key.isdigit() else (1, 0, rating_key)
