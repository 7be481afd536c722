"""Build playlists from the track cache: filters, a preview of what they match, and the pick.

Everything here reads the cache only (SQLite, or PostgreSQL), never the media server, and
is meant to answer in well under 100 ms on a 100,000-track library. So the filters run in
SQL (genres through the database's JSON list functions, which read the list exactly: "Rock"
does not match "Indie Rock", and quotes, commas and CJK need no escaping), only the matching ids come
back to Python (in random order later, or already in the sort's order from SQL), and the
rest is read a batch at a time until the playlist is full. Whole Track rows are fetched
only for the tracks chosen.

A smart playlist stores its filters as Filters.to_query(), the builder's query string.
"""

import math
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import reduce
from itertools import chain, islice
from operator import or_
from urllib.parse import urlencode

from django.db import connection, models
from django.db.models import Count, F, Func, Lookup, Q, Window
from django.http import QueryDict
from django.utils import timezone

from library.models import SOURCES, Track, cache_version

# What a user with a 100k-track library may ask for; saving takes it in a few requests.
MAX_COUNT = 5000
# More values than anyone picks by hand; the limit keeps a crafted URL from building
# a query with more parameters than SQLite accepts.
_MAX_VALUES = 200
# Above any play count, number of days or minutes a filter needs; keeps the dates they
# make and the integers SQLite is given in range.
_MAX_NUMBER = 100_000
_SOURCES = {key for key, _ in SOURCES}
_TRUE = {"on", "1", "true", "yes"}
# Ids fetched per query while choosing: under Django's 999-parameter limit for SQLite.
_BATCH = 900
# Consecutive candidates rejected (artist full, duplicate, too long) before giving up on
# filling the playlist, so a filter that cannot be satisfied does not read the whole cache.
_PATIENCE = 2000


class Sort(models.TextChoices):
    """The order tracks are picked in, and played in unless random."""

    RANDOM = "random", "Random"
    MOST_PLAYED = "most_played", "Most played"
    LEAST_PLAYED = "least_played", "Least played"
    NEWEST = "newest", "Newest added"
    OLDEST = "oldest", "Oldest added"

    @property
    def field(self):
        """The Track field it orders by (the builder shows it beside each track); None if random."""
        return _ORDERS[self].expression.name if self in _ORDERS else None


class BadFilter(ValueError):
    """A filter value that does not parse, e.g. in a crafted URL or a stored recipe; its
    message is one line naming the filter as the builder labels it."""


@dataclass(frozen=True)
class Filters:
    genres: tuple[str, ...] = ()  # any of these (exact genre strings as cached)
    decades: tuple[int, ...] = ()  # 1990 means 1990-1999; any of these
    min_rating: int = 0  # 0-10 (1 per half star); 0 = any, including unrated; >0 excludes unrated
    max_rating: int | None = None  # 1-10; excludes unrated too
    unrated: bool = False  # only tracks with no rating
    exclude_live: bool = False
    only_live: bool = False  # live recordings only (a prompt's "live only")
    min_year: int | None = None  # released in or after (a prompt's "from 1985 to 1995")
    max_year: int | None = None  # released in or before
    artists: tuple[str, ...] = ()  # only these performers (artist or album artist, any case)
    exclude_artists: tuple[str, ...] = ()
    min_plays: int | None = None  # play count at least
    max_plays: int | None = None  # play count at most (0: never played, by the count)
    never_played: bool = False
    not_played_days: int | None = None  # not played in the last N days (never played counts)
    added_days: int | None = None  # added to the library in the last N days
    min_track_minutes: int | None = None  # each track's duration; tracks of unknown length are left out
    max_track_minutes: int | None = None
    sort: str = Sort.RANDOM
    count: int = 50  # tracks wanted, clamped 1..MAX_COUNT
    max_minutes: int | None = None  # optional cap on total duration
    max_artist_share: float = 0.25  # of the playlist from one artist (at least 1 track each)
    seed: int | None = None  # same seed + same cache -> same playlist
    source: str = "plex"

    def __post_init__(self):
        # Clamped here rather than in from_query, so filters built in code obey the same limits.
        fix = object.__setattr__
        fix(self, "genres", _texts(self.genres))
        fix(self, "decades", tuple(sorted({d - d % 10 for d in self.decades}))[:_MAX_VALUES])
        fix(self, "min_rating", min(max(self.min_rating, 0), 10))
        fix(self, "max_rating", self.max_rating if self.max_rating and 0 < self.max_rating < 10 else None)
        # Genres are picked from the cached strings, artist names may be typed.
        fix(self, "artists", _texts(self.artists, strip=True))
        fix(self, "exclude_artists", _texts(self.exclude_artists, strip=True))
        for name in ("unrated", "exclude_live", "only_live", "never_played"):
            fix(self, name, bool(getattr(self, name)))
        for name in (
            "min_year",
            "max_year",
            "min_plays",
            "not_played_days",
            "added_days",
            "min_track_minutes",
            "max_track_minutes",
        ):
            fix(self, name, _positive(getattr(self, name)))
        if self.max_plays is not None:
            # At most 0 plays is a real filter (at least 0 is none).
            fix(self, "max_plays", min(self.max_plays, _MAX_NUMBER) if self.max_plays >= 0 else None)
        fix(self, "sort", Sort(self.sort) if self.sort in Sort.values else Sort.RANDOM)
        fix(self, "count", min(max(self.count, 1), MAX_COUNT))
        fix(self, "max_minutes", _positive(self.max_minutes))
        fix(self, "max_artist_share", min(max(self.max_artist_share, 0.0), 1.0))
        if self.source not in _SOURCES:
            fix(self, "source", "plex")

    @classmethod
    def from_query(cls, params):
        """Filters from a QueryDict (GET or POST) or a query string, as to_query writes it.

        Blank values are filters left unset and numbers out of range are clamped; a value
        that is not a number (or not a sort) raises BadFilter. Unknown names are ignored."""
        if isinstance(params, str):
            params = QueryDict(params)
        read = _Reader(params)
        count = read.number(int, "count")
        max_minutes = _positive(read.number(int, "max_minutes"))
        if count is None and max_minutes and "count" in params:
            # The track count left blank beside a length: the minutes alone decide.
            count = MAX_COUNT
        default = cls()
        return cls(
            genres=params.getlist("genre"),
            decades=tuple(d for d in read.numbers("decade") if 0 <= d < 10000),
            min_rating=read.number(int, "min_rating", default.min_rating),
            max_rating=read.number(int, "max_rating"),
            unrated=read.flag("unrated"),
            exclude_live=read.flag("exclude_live"),
            only_live=read.flag("only_live"),
            min_year=read.number(int, "min_year"),
            max_year=read.number(int, "max_year"),
            artists=params.getlist("artist"),
            exclude_artists=params.getlist("exclude_artist"),
            min_plays=read.number(int, "min_plays"),
            max_plays=read.number(int, "max_plays"),
            never_played=read.flag("never_played"),
            not_played_days=read.number(int, "not_played_days"),
            added_days=read.number(int, "added_days"),
            min_track_minutes=read.number(int, "min_track_minutes"),
            max_track_minutes=read.number(int, "max_track_minutes"),
            sort=read.choice(Sort, "sort", default.sort),
            count=default.count if count is None else count,
            max_minutes=max_minutes,
            max_artist_share=read.number(float, "max_artist_share", default.max_artist_share),
            seed=read.number(int, "seed"),
            source=params.get("source", default.source),
        )

    def to_query(self):
        """The URL query string from_query reads back into these filters; defaults are left out."""
        default = Filters()
        pairs = [
            *(("genre", g) for g in self.genres),
            *(("decade", d) for d in self.decades),
            *(("artist", a) for a in self.artists),
            *(("exclude_artist", a) for a in self.exclude_artists),
        ]
        pairs += [
            (name, "1")
            for name in ("unrated", "exclude_live", "only_live", "never_played")
            if getattr(self, name)
        ]
        for name in (
            "min_year",
            "max_year",
            "min_rating",
            "max_rating",
            "min_plays",
            "max_plays",
            "not_played_days",
            "added_days",
            "min_track_minutes",
            "max_track_minutes",
            "sort",
            "count",
            "max_minutes",
            "max_artist_share",
            "seed",
            "source",
        ):
            if (value := getattr(self, name)) != getattr(default, name):
                pairs.append((name, value))
        return urlencode(pairs)

    @property
    def sorted(self):
        """Whether the pick follows a sort (and keeps its order) rather than chance."""
        return self.sort != Sort.RANDOM


@dataclass
class Preview:
    count: int  # tracks matching the filters
    sample: list[Track]  # a varied few of them, up to sample_size


def matching(filters):
    """The cached tracks the filters match, in no particular order."""
    tracks = Track.objects.filter(source=filters.source)
    if filters.decades:
        tracks = tracks.filter(reduce(or_, (Q(year__gte=d, year__lte=d + 9) for d in filters.decades)))
    if filters.unrated:
        # Plex may keep a cleared rating as 0.
        tracks = tracks.filter(Q(user_rating__isnull=True) | Q(user_rating=0))
    if filters.min_rating:
        tracks = tracks.filter(user_rating__gte=filters.min_rating)
    if filters.max_rating:
        tracks = tracks.filter(user_rating__gte=1, user_rating__lte=filters.max_rating)
    if filters.exclude_live:
        tracks = tracks.filter(is_live=False)
    if filters.only_live:
        tracks = tracks.filter(is_live=True)
    if filters.min_year:
        tracks = tracks.filter(year__gte=filters.min_year)
    if filters.max_year:
        tracks = tracks.filter(year__lte=filters.max_year)
    tracks = tracks.filter(_plays(filters), _durations(filters))
    if filters.added_days:
        tracks = tracks.filter(added_at__gte=_days_ago(filters.added_days))
    if filters.artists or filters.exclude_artists:
        tracks = tracks.alias(artist_nocase=_NoCase("artist"), album_artist_nocase=_NoCase("album_artist"))
    if filters.artists:
        tracks = tracks.filter(_by_any_of(filters.artists))
    if filters.exclude_artists:
        tracks = tracks.exclude(_by_any_of(filters.exclude_artists))
    if filters.genres:
        # Last, because SQLite tests conditions in order and this one parses JSON.
        tracks = tracks.filter(_HasAnyGenre(F("genres"), filters.genres))
    return tracks.order_by()


def preview(filters, sample_size=20):
    """How many tracks match, and a sample of them (max_minutes plays no part): a varied
    few, or the first of a sorted pick."""
    filters = _seeded(filters)
    sample = replace(filters, count=sample_size, max_minutes=None)
    if filters.sorted:
        count, ids = _sorted_ids(filters)
        return Preview(count=count, sample=_select(ids, sample))
    ids = _matching_ids(filters)
    return Preview(count=len(ids), sample=_select(ids, sample))


def pick(filters):
    """The playlist, in play order: the sort's, else shuffled with no artist twice in a row."""
    filters = _seeded(filters)
    return _select(_sorted_ids(filters)[1] if filters.sorted else _matching_ids(filters), filters)


def genre_counts(source="plex"):
    """Every genre with its number of tracks, most tracks first."""
    return _cached("genres", source, _count_genres)


def decade_counts(source="plex"):
    """(decade, number of tracks) for every decade with tracks, oldest first."""
    return _cached("decades", source, _count_decades)


def artist_names(source="plex", prefix="", limit=20):
    """Artist and album artist names starting with prefix (any case), most tracks first."""
    prefix = prefix.strip().casefold()
    names = (name for name, _ in _cached("artists", source, _count_artists))
    return list(islice((name for name in names if name.casefold().startswith(prefix)), max(limit, 0)))


# --- filtering -----------------------------------------------------------------------------------


def _elements(column, alias):
    """FROM-clause words for the strings of the JSON list in `column`, as rows whose
    `alias`.value is each string."""
    if connection.vendor == "postgresql":
        return f"jsonb_array_elements_text({column}) AS {alias}(value)"
    return f"json_each({column}) AS {alias}"


def _nocase(sql):
    """`sql`, a text, compared in any case: SQLite's NOCASE collation (ASCII letters);
    PostgreSQL has no such collation, so its lower case, with the names offered in
    lower case too (_by_any_of)."""
    return f"LOWER({sql})" if connection.vendor == "postgresql" else f"{sql} COLLATE NOCASE"


class _NoCase(Func):
    """A text column compared in any case (_nocase)."""

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return _nocase(sql), params


class _HasAnyGenre(Lookup):
    """The JSON list in lhs holds one of the strings in rhs, compared whole."""

    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        marks = ", ".join(["%s"] * len(self.rhs))
        value = self._compared("e.value")
        sql = f"EXISTS (SELECT 1 FROM {_elements(lhs, 'e')} WHERE {value} IN ({marks}))"
        return sql, [*params, *self.rhs]

    def _compared(self, value):
        return value


class _CreditsAnyOf(_HasAnyGenre):
    """The same for credited artists, in any case."""

    def _compared(self, value):
        return _nocase(value)


def _by_any_of(names):
    """Tracks whose artist, album artist or any credited artist is one of names, in any case.

    SQLite folds the case of ASCII letters only, so each name is also offered in lower
    and upper case: "BJÖRK" and "björk" then find "Björk" too (and PostgreSQL, comparing
    lower cases, finds it through the lower one)."""
    variants = sorted({v for name in names for v in (name, name.lower(), name.upper())})
    return (
        Q(artist_nocase__in=variants)
        | Q(album_artist_nocase__in=variants)
        | Q(_CreditsAnyOf(F("artists"), variants))
    )


def _plays(filters):
    q = Q()
    if filters.min_plays:
        q &= Q(play_count__gte=filters.min_plays)
    if filters.max_plays is not None:
        q &= Q(play_count__lte=filters.max_plays)
    if filters.never_played:
        q &= Q(play_count=0, last_played_at__isnull=True)
    elif filters.not_played_days:
        q &= Q(last_played_at__isnull=True) | Q(last_played_at__lt=_days_ago(filters.not_played_days))
    return q


def _durations(filters):
    q = Q()
    if filters.min_track_minutes:
        q &= Q(duration_ms__gte=filters.min_track_minutes * 60_000)
    if filters.max_track_minutes:
        q &= Q(duration_ms__lte=filters.max_track_minutes * 60_000)
    return q


def _days_ago(days):
    return timezone.now() - timedelta(days=days)


# The SQL order of each sort; ties are broken by _shuffled_ids.
_ORDERS = {
    Sort.MOST_PLAYED: F("play_count").desc(),
    Sort.LEAST_PLAYED: F("play_count").asc(),
    Sort.NEWEST: F("added_at").desc(nulls_last=True),
    Sort.OLDEST: F("added_at").asc(nulls_last=True),
}


def _matching_ids(filters):
    # In id order, so a seeded shuffle of them is the same shuffle next time.
    return list(matching(filters).order_by("id").values_list("id", flat=True))


def _sorted_ids(filters):
    """(number of matches, an iterator of their ids in the sort's order).

    The ids are read a slice at a time, each ten times the last: a pick usually needs only
    the first few hundred, and SQLite finds the top of a sort several times faster than it
    sorts every match (and Python reads 900 ids faster than 100,000). The matches are
    counted in the same pass, as a window over all of them."""
    rows = matching(filters).order_by(_ORDERS[filters.sort], _shuffled_ids(filters.seed))
    rows = rows.annotate(total=Window(Count("id"))).values_list("id", "total")
    first = list(rows[:_BATCH])

    def ids():
        chunk, start, size = first, 0, _BATCH
        while True:
            yield from (track_id for track_id, _ in chunk)
            if len(chunk) < size:
                return
            start, size = start + size, size * 10
            chunk = list(rows[start : start + size])

    return (first[0][1] if first else 0), ids()


def _shuffled_ids(seed):
    """The id scrambled by the seed, a different order for each: ties of a sort (the many
    tracks never played, an album added at once) come out varied, and the same again for
    the same seed. (id XOR seed) times an odd number, modulo 2**31, is a one-to-one map on
    ids, done in SQL in the same pass as the sort."""
    seed %= 2**31
    return ((F("id").bitor(seed) - F("id").bitand(seed)) * 1_103_515_245 % 2**31).asc()


def _seeded(filters):
    """The filters with a seed, so the shuffle and the sort's ties follow one."""
    return filters if filters.seed is not None else replace(filters, seed=random.randrange(2**31))


# --- choosing ------------------------------------------------------------------------------------


def _select(ids, filters):
    """Choose up to filters.count of ids, in random order or in the order given when
    sorted, under the variety rules, and return their tracks in play order."""
    candidates = _candidates(ids, None if filters.sorted else random.Random(filters.seed))
    head = list(islice(candidates, _BATCH))
    budget = filters.max_minutes * 60_000 if filters.max_minutes else None
    cap = _artist_cap(filters, _expected_length(filters.count, budget, head))
    chosen, per_artist, songs = [], Counter(), set()
    misses = 0
    for track_id, artist, title, duration_ms in chain(head, candidates):
        song = (_key(artist), _key(title))
        fits = budget is None or (duration_ms is not None and duration_ms <= budget)
        if per_artist[song[0]] >= cap or song in songs or not fits:
            misses += 1
            if misses >= _PATIENCE:
                break
            continue
        misses = 0
        chosen.append(track_id)
        per_artist[song[0]] += 1
        songs.add(song)
        if budget is not None:
            budget -= duration_ms
        if len(chosen) == filters.count:
            break
    rows = Track.objects.in_bulk(chosen)
    # A sync may have removed a track since its id was read.
    tracks = [rows[i] for i in chosen if i in rows]
    return tracks if filters.sorted else spread(tracks)


def _candidates(ids, rng):
    """(id, artist, title, duration_ms) of the ids, read a batch at a time: in their order,
    or in a random one given a Random."""
    order = iter(ids) if rng is None else _shuffled(list(ids), rng)
    while batch := list(islice(order, _BATCH)):
        rows = Track.objects.filter(id__in=batch).order_by()
        found = {row[0]: row for row in rows.values_list("id", "artist", "title", "duration_ms")}
        yield from (found[i] for i in batch if i in found)


def _shuffled(ids, rng):
    """The ids in random order, shuffling the list in place. A Fisher-Yates run lazily, so
    it costs only as many steps as the caller reads: usually a few hundred out of a hundred
    thousand."""
    for i in range(len(ids)):
        j = rng.randrange(i, len(ids))
        ids[i], ids[j] = ids[j], ids[i]
        yield ids[i]


def _expected_length(count, budget, sample):
    """count, or fewer when max_minutes will stop the playlist first: judged from the
    median duration of a sample, so the artist share applies to the playlist as it will be."""
    durations = sorted(row[3] for row in sample if row[3])
    if budget is None or not durations:
        return count
    return max(1, min(count, budget // durations[len(durations) // 2]))


def _artist_cap(filters, length):
    cap = math.ceil(round(filters.max_artist_share * length, 9))
    if filters.artists:
        # Asking for a few artists means wanting their tracks: each may fill an equal part.
        cap = max(cap, math.ceil(length / len(filters.artists)))
    return max(cap, 1)


def spread(tracks):
    """The tracks in their (random) order, except that an artist is not played twice in a
    row where another order avoids it."""
    left = list(tracks)
    artists = [_key(t.artist) for t in left]
    counts = Counter(artists)
    played, last = [], None
    while left:
        # An artist with more than half of what is left must go now, or two of theirs
        # will end up back to back.
        forced = None
        if (most := max(counts.values())) * 2 > len(left):
            forced = next((a for a, n in counts.items() if n == most and a != last), None)
        if forced is not None:
            i = artists.index(forced)
        else:
            i = next((i for i, a in enumerate(artists) if a != last), 0)
        last = artists.pop(i)
        played.append(left.pop(i))
        counts[last] -= 1
        if not counts[last]:
            del counts[last]
    return played


def _key(text):
    """Text compared without case or spacing differences."""
    return " ".join(text.casefold().split())


# --- counting ------------------------------------------------------------------------------------

# (what, source) -> (the cache's state when computed, the result)
_counts_cache = {}


def _cached(what, source, compute):
    """compute(source), reused until the cache changes."""
    state = cache_version(source)
    key = (what, source)
    hit = _counts_cache.get(key)
    if not hit or state is None or hit[0] != state:
        hit = _counts_cache[key] = (state, compute(source))
    return list(hit[1])  # a copy: the caller may change it


def _count_genres(source):
    table = Track._meta.db_table
    sql = (
        f"SELECT g.value, COUNT(DISTINCT t.id) AS n FROM {table} t, {_elements('t.genres', 'g')} "
        "WHERE t.source = %s GROUP BY g.value ORDER BY n DESC, g.value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [source])
        return cursor.fetchall()


def _count_decades(source):
    rows = (
        Track.objects.filter(source=source, year__gt=0)
        .values(decade=F("year") / 10 * 10)
        .annotate(n=Count("id"))
        .order_by("decade")
    )
    return [(row["decade"], row["n"]) for row in rows]


def _count_artists(source):
    """(name, tracks) for every credited artist, and every album artist ("Various
    Artists", a band whose members are credited): names the artist filters match."""
    table = Track._meta.db_table
    credited = f"SELECT 1 FROM {_elements('t.artists', 'c')} WHERE c.value = t.album_artist"
    sql = (
        # Each credited artist; a track cached before credits were kept counts its artist.
        f"SELECT COALESCE(c.value, t.artist) AS name, COUNT(*) FROM {table} t "
        f"LEFT JOIN {_elements('t.artists', 'c')} ON TRUE WHERE t.source = %s GROUP BY name "
        # Album artists, for the tracks that do not credit them already.
        f"UNION ALL SELECT t.album_artist, COUNT(*) FROM {table} t WHERE t.source = %s "
        f"AND t.album_artist NOT IN ('', t.artist) AND NOT EXISTS ({credited}) GROUP BY t.album_artist"
    )
    counts = Counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, source])
        for name, n in cursor.fetchall():
            counts[name] += n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))


# --- parsing -------------------------------------------------------------------------------------


def _texts(values, strip=False):
    """Non-blank strings, each once, in their order; at most _MAX_VALUES of them."""
    if isinstance(values, str):
        values = (values,)
    texts = (v.strip() if strip else v for v in values if isinstance(v, str) and v.strip())
    return tuple(dict.fromkeys(texts))[:_MAX_VALUES]


# The builder's words for each query name, for BadFilter's messages.
_LABELS = {
    "decade": "Decades",
    "min_rating": "Minimum rating",
    "max_rating": "Maximum rating",
    "min_plays": "Play count at least",
    "max_plays": "Play count at most",
    "not_played_days": "Not played in the last days",
    "added_days": "Added in the last days",
    "min_track_minutes": "Track length at least (minutes)",
    "max_track_minutes": "Track length at most (minutes)",
    "sort": "Sort",
    "count": "Tracks",
    "max_minutes": "At most (minutes)",
    "max_artist_share": "Most from one artist",
    "min_year": "From the year",
    "max_year": "To the year",
    "seed": "Seed",
}
_KINDS = {int: "a whole number", float: "a number"}


class _Reader:
    """Values of a QueryDict, checked: blank is unset, garbage is a BadFilter."""

    def __init__(self, params):
        self.params = params

    def number(self, kind, name, default=None):
        text = self.params.get(name, "").strip()
        return default if not text else self._parse(kind, name, text)

    def numbers(self, name):
        return [self._parse(int, name, text.strip()) for text in self.params.getlist(name) if text.strip()]

    def flag(self, name):
        return self.params.get(name, "").strip().lower() in _TRUE

    def choice(self, choices, name, default):
        text = self.params.get(name, "").strip()
        if text and text not in choices.values:
            known = ", ".join(str(label).lower() for label in choices.labels)
            raise BadFilter(f"{_LABELS[name]}: “{_shown(text)}” is not one of {known}.")
        return text or default

    @staticmethod
    def _parse(kind, name, text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (kind is float and not math.isfinite(value)):
            raise BadFilter(f"{_LABELS[name]}: “{_shown(text)}” is not {_KINDS[kind]}.")
        return value


def _shown(text):
    """A value quoted back in a message: short, on one line."""
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _positive(value):
    """value when above 0 (at most _MAX_NUMBER), else None: a filter left unset."""
    return min(value, _MAX_NUMBER) if value and value > 0 else None
