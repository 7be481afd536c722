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
When both cuts are in the library the title naming the same cut wins the tie (below).

Artists agree when the entry's whole credit or its primary artist is one of the track's
credited artists (Track.artists: Jellyfin credits every artist, so "Tim Wheeler - Zombie
Christmas" finds the track credited to Emmy the Great and Tim Wheeler), its display artist
or its album artist, whole or primary. The primary artist is the first name of "A feat.
B", "A & B", "A, B", "A x B", "A; B", "A with B"; so an entry naming several artists
agrees through its first. A name the library knows as one artist (an album artist, or
one of several credited artists: "Simon & Garfunkel", "Earth, Wind & Fire") is not split,
and a featured artist inside a single display credit ("Santana feat. Rob Thomas") is not
a credited artist. "Various Artists" agrees with nobody; a leading "The" is optional.

Several agreeing tracks are narrowed, each step only when it leaves someone: same album,
then the same cut (titles equal but for remaster, deluxe, album-version and feat. tags:
a radio edit, mono or clean title picks that cut), then duration within 3 s, then live
agreeing with the entry's title or album (so a studio entry gets the studio take and
"Song (Live)" the live one; with only one of them cached, that one is the match).

Tracks still tied that are one recording (same lead artist, all studio, known durations
within 3 s: the album track and its best-of, soundtrack or "Now That's..." copies) are
not a real choice. One is matched, by this preference: the artist's own album before a
compilation (Various Artists or another album artist, or an album called a best of,
greatest hits, hits, anthology, essential, collection, singles, soundtrack, music from
the motion picture, OST or "Now That's What I Call..."); then the earliest year (unknown
last); then the lowest rating_key (Plex hands keys out rising, so the first added). That
choice is MatchResult.track, which importplaylist and any other unattended use take; the
result lists every copy as candidates, preferred first, so the web import can offer the
others. Tracks still tied that may be different recordings (live takes, lengths further
apart, an unknown length, another lead artist) are "ambiguous", with the candidates.
Nothing is ever matched on the title alone.

An entry carrying a MusicBrainz recording id (JSPF, ListenBrainz) that a cached track
also has (Track.recording_mbid, from Plex Guid tags or Jellyfin ProviderIds) is matched
to that track before any of the above, whatever its texts say: the id names the
recording. Copies of one recording id are ordered by the same preference. An id no
cached track has falls back to the texts.
"""

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection

from library.live import is_live
from library.models import Track, cache_version
from library.sources.base import recording_id
from playlists.importers import Entry

log = logging.getLogger(__name__)

_FIELDS = (
    "rating_key",
    "artist",
    "album_artist",
    "title",
    "album",
    "duration_ms",
    "is_live",
    "artists",
    "year",
    "recording_mbid",
)


class CachedTrack(NamedTuple):
    rating_key: str
    artist: str
    album_artist: str
    title: str
    album: str
    duration_ms: int | None
    is_live: bool
    artists: tuple[str, ...] = ()  # every credited artist; empty means just `artist`
    year: int | None = None


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
# Bracketed or dash suffixes that name another release of the same recording: packaging
# (the same cut, repackaged or credited differently) and other cuts (edits, mixes down to
# mono, clean lyrics, live).
_PACKAGING = rf"""
    (?:feat\.?|ft\.?|featuring|with)\s.+
    | (?:{_YEAR}\s*[-/]?\s*)?(?:digital(?:ly)?\s+|mono\s+|stereo\s+)?re-?master(?:ed)?
      (?:\s+(?:version|edition))?(?:\s*[-/]?\s*{_YEAR})?(?:\s+version)?
    | (?:{_YEAR}\s+)?(?:super\s+)?(?:deluxe|expanded|special)(?:\s+(?:edition|version))?
    | (?:\d+(?:st|nd|rd|th)\s+)?anniversary(?:\s+(?:edition|version))?
    | bonus(?:\s+tracks?)?(?:\s+version)?
    | (?:album|lp)\s+version
"""
_CUT = rf"""
    (?:radio|single)\s+(?:edit|version) | edit | edited
    | mono | stereo | (?:mono|stereo)\s+version
    | explicit | clean | (?:explicit|clean)\s+(?:version|edit) | explicit\s+lyrics
    | (?:recorded\s+)?live(?:\s+version)?(?:\s*[-:,;/]?\s*(?:(?:at|from|in|on|@)\s.*|{_YEAR}.*))?
"""
_VERSION = re.compile(f"{_PACKAGING}|{_CUT}", re.IGNORECASE | re.VERBOSE)
_PACKAGING_ONLY = re.compile(_PACKAGING, re.IGNORECASE | re.VERBOSE)
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


def _strip_versions(title, version=_VERSION):
    if not _MAYBE_VERSION.search(title):
        return title
    previous = None
    while title != previous:
        previous = title
        title = _BRACKETED.sub(lambda m: "" if _is_version(m[1], version) else m[0], title)
        tail = _DASH_TAIL.search(title)
        if tail and _is_version(tail[1], version):
            title = title[: tail.start()]
    return _BARE_FEAT.sub("", title)


def _is_version(text, version):
    text = text.strip()
    if _OTHER_RECORDING.search(text):
        return False
    if version.fullmatch(text):
        return True
    parts = [part for part in _VERSION_PARTS.split(text) if part]
    return len(parts) > 1 and all(version.fullmatch(part) or re.fullmatch(_YEAR, part) for part in parts)


def _title_key(title):
    """The key for finding candidates: the title without any version tag."""
    return normalize(_strip_versions(title)) or normalize(title)


def _cut_key(title):
    """The title without packaging tags: equal for copies of the same cut, not for a
    radio edit and the album cut, or a mono and a stereo mix."""
    return normalize(_strip_versions(title, _PACKAGING_ONLY)) or normalize(title)


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


# Albums that collect recordings first released elsewhere (matched on normalize()d titles).
_COMPILATION = re.compile(
    r"\b(?:best of|the best|greatest hits|hits|anthology|essentials?|collection|singles"
    r"|soundtrack|motion picture|music from|ost|now thats what i call)\b"
)


# --- matching ------------------------------------------------------------------------------------


class Matcher:
    def __init__(self, tracks):
        """tracks: objects or dicts with the CachedTrack fields (artists and year optional)."""
        self._by_title = {}
        self._by_mbid = {}  # recording id -> the track, or a list of its copies
        self._credits = {}  # artist credit -> the keys it agrees on, filled as needed
        shared = {}  # one object per distinct artist, album, credit list, year: they repeat a lot
        known = set()
        for item in tracks:
            if not isinstance(item, dict):
                item = {name: getattr(item, name, None) for name in _FIELDS}
            artist, album_artist, album = (
                shared.setdefault(s, s)
                for s in (item["artist"] or "", item["album_artist"] or "", item["album"] or "")
            )
            artists = tuple(shared.setdefault(s, s) for s in item.get("artists") or () if s)
            # Several credits are several single artists: none of them is to be split.
            known.update(artists if len(artists) > 1 else ())
            known.add(album_artist)
            track = CachedTrack(
                str(item["rating_key"]),
                artist,
                album_artist,
                item["title"] or "",
                album,
                item["duration_ms"],
                bool(item["is_live"]),
                shared.setdefault(artists, artists),
                shared.setdefault(item.get("year"), item.get("year")),
            )
            _index(self._by_title, _title_key(track.title), track)
            if mbid := item.get("recording_mbid"):
                _index(self._by_mbid, mbid, track)
        # Known artists' names are never split into primaries: "Simon & Garfunkel" is one act.
        self._known = {_artist_key(name) for name in known} - _VARIOUS - {""}

    @classmethod
    def from_cache(cls, source="plex"):
        """A matcher over the cached tracks of one server: one query, streamed."""
        rows = Track.objects.filter(source=source).order_by().values(*_FIELDS)
        return cls(rows.iterator(chunk_size=2000))

    @classmethod
    def for_source(cls, source="plex"):
        """The matcher over the cache as it is now, built once per cache state (each
        sync makes a new one) and kept by this process: building it reads the whole
        cache (seconds at 100k tracks), matching a playlist with it takes milliseconds.
        Concurrent callers wait for one build instead of each making their own."""
        version = cache_version(source)
        with _built_lock:
            built = _built.get(source)
            if built is None or version is None or built[0] != version:
                built = _built[source] = (version, cls.from_cache(source))
            return built[1]

    @classmethod
    def warm(cls, source="plex"):
        """Build the matcher in the background unless it is current, so that the
        user's first import after a sync does not wait for it."""
        built = _built.get(source)
        if built is None or built[0] != cache_version(source):
            threading.Thread(target=_build_in_background, args=(cls, source), daemon=True).start()

    def match_all(self, entries) -> list[MatchResult]:
        return [self.match(entry) for entry in entries]

    def match(self, entry) -> MatchResult:
        copies = self._by_mbid.get(recording_id(entry.mbid), []) if self._by_mbid else []
        if copies:
            # The same recording, whatever the texts say: its copies are no real choice.
            copies = sorted(copies, key=self._preference) if isinstance(copies, list) else [copies]
            return MatchResult(entry, "matched", copies[0], copies if len(copies) > 1 else [])
        key = _title_key(entry.title)
        names = self._names(entry.artist)
        # A title of punctuation alone has an empty key: it would agree with any other.
        rows = self._by_title.get(key, []) if key and names else []
        found = [t for t in (rows if isinstance(rows, list) else [rows]) if self._agrees(names, t)]
        if len(found) > 1:
            found = sorted(self._narrow(entry, found), key=self._preference)
        if not found:
            return MatchResult(entry, "unmatched")
        if len(found) == 1:
            return MatchResult(entry, "matched", found[0])
        if self._one_recording(found):
            return MatchResult(entry, "matched", found[0], found)
        return MatchResult(entry, "ambiguous", None, found)

    def _narrow(self, entry, found):
        live = is_live(entry.title, entry.album)
        album = normalize(_strip_versions(entry.album)) if entry.album else None
        cut = _cut_key(entry.title)
        duration = entry.duration_ms
        steps = [
            lambda t: album is not None and normalize(_strip_versions(t.album)) == album,
            lambda t: _cut_key(t.title) == cut,
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

    def _one_recording(self, tracks):
        """Same lead artist, all studio, lengths within 3 s: the same recording, as far as
        we can tell. Two live takes are two concerts; without every length we cannot tell."""
        durations = [t.duration_ms for t in tracks]
        if None in durations or any(t.is_live for t in tracks):
            return False
        leads = frozenset.intersection(*(self._names(_lead(t)) for t in tracks))
        return bool(leads) and max(durations) - min(durations) <= 3000

    def _preference(self, track):
        """Sort key among copies of one recording: own album, earliest year, first added."""
        return (
            self._on_compilation(track),
            track.year is None,
            track.year or 0,
            _key_order(track.rating_key),
        )

    def _on_compilation(self, track):
        if _COMPILATION.search(normalize(track.album)):
            return True
        # Various Artists, or another artist's album (a soundtrack under its composer);
        # an album with no album artist at all is given the benefit of the doubt. Any
        # name of a joint album artist ("Emmy the Great & Tim Wheeler") makes it theirs.
        album_by = self._names(track.album_artist) | {
            _artist_key(name) for name in _CREDIT_SPLIT.split(track.album_artist)
        }
        return bool(track.album_artist.strip()) and album_by.isdisjoint(self._track_names(track))

    def _agrees(self, names, track):
        return not (
            names.isdisjoint(self._track_names(track)) and names.isdisjoint(self._names(track.album_artist))
        )

    def _track_names(self, track):
        """Every name a track's own credits agree on: display artist and each credited one."""
        names = self._names(track.artist)
        for credit in track.artists:
            names = names | self._names(credit)
        return names

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
        # The longest prefix that is a known artist ("Earth, Wind & Fire with The
        # Emotions"), else the first name.
        primary = next(
            (p for p in reversed(prefixes) if p in self._known), prefixes[0] if prefixes else whole
        )
        return {whole, primary}


def _index(index, key, track):
    """Add a track under a key: bare, a list only for the keys several tracks share
    (most titles have one track: this saves ~20% of a matcher's memory)."""
    found = index.get(key)
    if found is None:
        index[key] = track
    elif isinstance(found, list):
        found.append(track)
    else:
        index[key] = [found, track]


# --- entry keys ----------------------------------------------------------------------------------

_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}\d{7}")
# A featured artist named in the credit ("A feat. B"): the same entry as "A".
_FEATURING = re.compile(r"\s*[(\[]?\s*\b(?:feat\.?|ft\.|featuring)\s.*$", re.IGNORECASE)


def _isrc(entry):
    isrc = re.sub(r"[\s-]", "", entry.isrc).upper()
    return isrc if _ISRC.fullmatch(isrc) else ""


def entry_key(entry) -> str:
    """What identifies a source entry across playlists and runs, for remembering how it
    was matched: its recording id, else its ISRC, else its artist, title and album as
    matching compares them (case, accents, "feat." credits and version tags apart)."""
    if mbid := recording_id(entry.mbid):
        return f"mbid:{mbid}"
    if isrc := _isrc(entry):
        return f"isrc:{isrc}"
    artist = _artist_key(_FEATURING.sub("", entry.artist)) or _artist_key(entry.artist)
    album = normalize(_strip_versions(entry.album)) if entry.album else ""
    return f"text:{artist}|{_title_key(entry.title)}|{album}"


_built = {}  # source -> (cache version, Matcher)
_built_lock = threading.Lock()


def _build_in_background(cls, source):
    try:
        cls.for_source(source)
    except Exception:
        log.exception("could not prepare the %s matcher; the next import builds it", source)
    finally:
        connection.close()  # this thread's own connection


def _lead(track):
    """The first credited artist (the display artist when no credits are cached)."""
    return track.artists[0] if track.artists else track.artist


def _key_order(rating_key):
    return (0, int(rating_key), "") if rating_key.isdigit() else (1, 0, rating_key)
