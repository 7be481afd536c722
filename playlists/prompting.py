"""Playlists from a sentence: "rainy Sunday jazz, nothing live, about an hour".

    rules = read_rules("only the beatles, 20 tracks", "plex")   # hard rules -> Filters
    result = generate(rules)                                    # LLMError on failure

The sentence's hard rules (artists, genres, decades and years, live or not, length, no
artist twice in a row) are found against the cache's real artists and genres and
become the builder's Filters, so the counts the page shows are real. Everything else
(mood, occasion) is left to the model. The model sees only a bounded pool of those
tracks (at most POOL_MAX candidates and LLM_CANDIDATE_TOKENS tokens, whatever the library's
size), sampled across artists and albums, and its answer is checked: ids it invented
are dropped and counted, duplicates dropped, the rules re-checked, no artist over a
quarter unless the sentence asked for artists, no artist twice in a row, and the
length met by filling from the pool or cutting.
"""

import json
import logging
import math
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from library.models import Track, cache_version
from library.sources import get_source
from playlists import llm, saving
from playlists.generate import Filters, artist_names, genre_counts, matching, spread
from playlists.matching import normalize
from playlists.vocab import PromptPhase

log = logging.getLogger(__name__)

# The most tracks a prompt playlist holds: the model writes a line for each.
MAX_TRACKS = 100
MAX_MINUTES = 6 * 60
DEFAULT_TRACKS = 25
# The candidate pool's budget: at most POOL_MAX lines and LLM_CANDIDATE_TOKENS tokens
# (12k by default: about 230 lines of a typical library, ~50 tokens each, which fits
# small local models such as Llama 3.1 8B with room for the answer, once Ollama's
# default window is raised: see README). Short lines reach POOL_MAX first.
POOL_MAX = 300
# Tracks read to sample the pool from when the filters leave more: enough for variety
# across artists, bounded so a 100k library costs the same as a 2k one.
_SAMPLE = POOL_MAX * 4
_BATCH = 900  # ids per query: under SQLite's parameter limit
# Words before a name that make it an artist rule ("by X", "only X", "just X").
_ARTIST_CUES = frozenset(("by", "only", "just", "all", "artist", "from", "featuring", "of"))
_JOINERS = frozenset(("and", "or"))
# How people write genres that the cache spells otherwise.
_GENRE_SYNONYMS = {
    "hiphop": "hip hop",
    "rap": "hip hop",
    "rnb": "r and b",
    "rhythm and blues": "r and b",
    "dnb": "drum and bass",
    "drum n bass": "drum and bass",
    "electronica": "electronic",
    "edm": "electronic",
    "rock n roll": "rock and roll",
    "classical music": "classical",
}
_LONGEST_NAME = 6  # words in the longest artist or genre name looked for
_YEARS = r"((?:19|20)\d\d)"
_YEAR_RANGE = re.compile(rf"\b(?:from|between)\s+{_YEARS}\s*(?:to|and|until|till|through|-|–)\s*{_YEARS}\b")
_YEAR_DASH = re.compile(rf"\b{_YEARS}\s*[-–]\s*{_YEARS}\b")
_ONE_YEAR = re.compile(rf"\b(before|after|since|until|in|from)\s+{_YEARS}\b(?!s)")
_DECADE = re.compile(r"(?<![\w-])(?:(1[89]|20)(\d)0|'?(\d)0)'?s\b")
_NO_LIVE = re.compile(
    r"\b(no|not|nothing|without|zero|skip)\s+(any\s+)?live\b|\bstudio (only|recordings|versions)\b"
)
_LIVE_ONLY = re.compile(
    r"\blive (only|recordings|versions|tracks|albums?|performances?|sets?)\b|\bonly live\b"
)
_TRACKS = re.compile(r"\b(\d{1,4})[\s-]*(?:tracks?|songs?)\b")
_MINUTES = re.compile(r"\b(\d{1,3})[\s-]*(?:minutes?|mins?)\b")
_HOURS = re.compile(r"\b(\d+(?:\.\d+)?|an|a|one|two|three|four|half an)[\s-]*hours?\b")
_NO_REPEAT = re.compile(r"\b(no|never|not|without)\b.{0,30}\b(twice|in a row|back to back)")
_NUMBER_WORDS = {"an": 1, "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "half an": 0.5}

_SYSTEM = (
    "You make playlists from the user's own music library. Choose only from the candidate "
    "tracks given, naming each by its id; never invent a track. Use each track once, in the "
    "order they should play. Answer with only this JSON object: "
    '{"title": "a short playlist title", "description": "two sentences about the playlist", '
    '"tracks": [{"id": <candidate id>, "reason": "one line: why this track fits"}]}'
)


@dataclass(frozen=True)
class Rules:
    """What a sentence asks for: hard filters, a length, and the words left to the model."""

    text: str
    filters: Filters
    found: tuple[str, ...] = ()  # the rules understood, in words, for the page
    tracks: int | None = None
    minutes: int | None = None
    seed_track: int | None = None  # "More like this": the cached track's id

    @property
    def target_tracks(self):
        """Tracks to ask the model for: the count asked, or enough for the minutes."""
        if self.minutes:
            return min(MAX_TRACKS, max(1, math.ceil(self.minutes / 4)))
        return self.tracks or DEFAULT_TRACKS

    @property
    def length_label(self):
        return f"about {self.minutes} minutes" if self.minutes else f"{self.target_tracks} tracks"


@dataclass
class Pool:
    tracks: list[Track]  # the candidates, in the order the model sees them
    matching: int  # tracks the filters leave in the whole cache
    block: str  # the candidates as the model reads them (llm.candidates_block)

    @property
    def tokens(self):
        return llm.estimate_tokens(self.block)


@dataclass
class Pick:
    track: Track
    reason: str
    filled: bool = False  # added from the pool, not chosen by the model


@dataclass
class Checked:
    picks: list[Pick] = field(default_factory=list)
    invented: int = 0  # ids that were no candidate
    duplicates: int = 0
    broke_rules: int = 0
    over_cap: int = 0  # dropped: their artist already had a quarter
    filled: int = 0
    cut: int = 0


@dataclass
class Result:
    rules: Rules
    pool: Pool
    checked: Checked
    title: str
    description: str
    model: str
    tokens_sent: int  # the request's estimate, before asking
    prompt_tokens: int  # what the endpoint counted
    completion_tokens: int
    model_seconds: float
    app_seconds: float  # MediaSage's own time: everything but waiting on the model


class NothingMatches(ValueError):
    """The sentence's rules leave no track; the message names them."""


# --- reading the sentence ------------------------------------------------------------------------


def read_rules(text, source="plex", tracks=None, minutes=None):
    """The hard rules in `text`, checked against `source`'s cache. `tracks`/`minutes`
    (the page's or command's length) win over a length in the sentence."""
    text = " ".join((text or "").split())
    lowered = text.lower()
    found = []
    decades, min_year, max_year = _years(lowered, found)
    exclude_live, only_live = _live(lowered, found)
    said_tracks, said_minutes = _length(lowered)
    if tracks or minutes:
        said_tracks, said_minutes = tracks, minutes
    said_tracks = min(max(said_tracks, 1), MAX_TRACKS) if said_tracks else None
    said_minutes = min(max(said_minutes, 1), MAX_MINUTES) if said_minutes else None
    if said_minutes:
        said_tracks = None
        found.append(f"Length: about {said_minutes} minutes")
    elif said_tracks:
        found.append(f"Length: {said_tracks} tracks")
    artists, genres = _names(text, source)
    found[:0] = [f"Artist: {a}" for a in artists] + [f"Genre: {g}" for g in genres]
    if _NO_REPEAT.search(lowered):
        found.append("No artist twice in a row")  # the checks keep to it whether said or not
    filters = Filters(
        genres=genres,
        decades=decades,
        min_year=min_year,
        max_year=max_year,
        exclude_live=exclude_live,
        only_live=only_live,
        artists=artists,
        count=said_tracks or MAX_TRACKS,
        max_minutes=said_minutes,
        source=source,
    )
    return Rules(text, filters, tuple(found), said_tracks, said_minutes)


def rules_for_track(track, tracks=None, minutes=None):
    """ "More like this": tracks sharing the track's genres, in words the model reads."""
    # No "by": kept as a weekly recipe, this text is read again, and its genres are
    # the rule, not the artist.
    about = "; ".join(filter(None, [track.artist, ", ".join(track.genres[:3]), str(track.year or "")]))
    text = f"Tracks like “{track.title}” ({about})"
    found = [f"Genre: {g}" for g in track.genres[:3]]
    count = min(max(tracks or DEFAULT_TRACKS, 1), MAX_TRACKS) if not minutes else None
    filters = Filters(
        genres=tuple(track.genres[:3]), count=count or MAX_TRACKS, max_minutes=minutes, source=track.source
    )
    return Rules(text, filters, tuple(found), count, minutes, seed_track=track.pk)


def _years(lowered, found):
    decades = []
    min_year = max_year = None
    if m := _YEAR_RANGE.search(lowered) or _YEAR_DASH.search(lowered):
        min_year, max_year = sorted((int(m[1]), int(m[2])))
    elif m := _ONE_YEAR.search(lowered):
        year = int(m[2])
        min_year, max_year = {
            "before": (None, year - 1),
            "until": (None, year),
            "after": (year + 1, None),
            "since": (year, None),
            "from": (year, year),
            "in": (year, year),
        }[m[1]]
    for m in _DECADE.finditer(lowered):
        if m[1]:
            decades.append(int(m[1]) * 100 + int(m[2]) * 10)
        else:
            digit = int(m[3])
            decades.append((2000 if digit <= 2 else 1900) + digit * 10)
    decades = tuple(dict.fromkeys(decades))
    if decades:
        found.append("Decades: " + ", ".join(f"{d}s" for d in decades))
    if min_year and max_year:
        found.append(f"Years: {min_year} to {max_year}" if min_year != max_year else f"Year: {min_year}")
    elif min_year:
        found.append(f"Years: from {min_year}")
    elif max_year:
        found.append(f"Years: up to {max_year}")
    return decades, min_year, max_year


def _live(lowered, found):
    if _NO_LIVE.search(lowered):
        found.append("No live recordings")
        return True, False
    if _LIVE_ONLY.search(lowered):
        found.append("Live recordings only")
        return False, True
    return False, False


def _length(lowered):
    """(tracks, minutes) the sentence names, each None if it names none."""
    if m := _TRACKS.search(lowered):
        return int(m[1]), None
    if m := _MINUTES.search(lowered):
        return None, int(m[1])
    if m := _HOURS.search(lowered):
        hours = _NUMBER_WORDS.get(m[1]) or float(m[1])
        return None, round(hours * 60)
    return None, None


def _names(text, source):
    """(artists, genres) the sentence names, as the cache spells them. Genres are
    found anywhere ("rainy jazz"); artists only after a cue ("by X", "only X", "X and
    Y" after one of those) or before "only", so a mood word that is also a band's name
    is not taken for it. The longest name wins."""
    version = cache_version(source)
    # A cache never synced has no version to key the indexes on: they are built afresh.
    indexes = _indexes if version is not None else _indexes.__wrapped__
    artist_index, genre_index = indexes(source, version)
    words = normalize(text).split()
    taken = [False] * len(words)
    genres, hits = [], []
    for index in (genre_index, artist_index):  # genres first: they win a shared word
        for size, start in _spans(len(words)):
            if any(taken[start : start + size]):
                continue
            phrase = " ".join(words[start : start + size])
            if index is genre_index and (matched := _genres_for(phrase, genre_index)):
                genres += matched
            elif index is artist_index and (name := artist_index.get(_artist_key(phrase))):
                hits.append((start, size, name))
            else:
                continue
            taken[start : start + size] = [True] * size
    artists, last_end = [], None
    for start, size, name in sorted(hits):
        before = words[start - 1] if start else ""
        after = words[start + size] if start + size < len(words) else ""
        joined = before in _JOINERS and last_end == start - 1
        if before in _ARTIST_CUES or after == "only" or joined or size == len(words):
            artists.append(name)
            last_end = start + size
    return tuple(dict.fromkeys(artists)), tuple(dict.fromkeys(genres))


def _spans(length):
    """(size, start) of every run of up to _LONGEST_NAME words, longest first."""
    for size in range(min(_LONGEST_NAME, length), 0, -1):
        for start in range(length - size + 1):
            yield size, start


def _genres_for(phrase, index):
    """The cached genres a phrase names: the genre itself, or its subgenres ("jazz":
    Jazz, Acid Jazz)."""
    for key in dict.fromkeys((_GENRE_SYNONYMS.get(phrase, phrase), phrase, phrase.removesuffix("s"))):
        if key in index:
            return index[key]
    return []


def _artist_key(phrase):
    return phrase.removeprefix("the ")


@lru_cache(maxsize=4)
def _indexes(source, version):
    """{artist key: name} and {genre phrase: [genres]} of the cache at `version`
    (cache_version), so a sync refreshes them."""
    artists = {}
    for name in reversed(artist_names(source, limit=10**9)):  # most tracks last: they win a tie
        if key := _artist_key(normalize(name)):
            artists[key] = name
    genres = defaultdict(list)
    for genre, _ in genre_counts(source):
        key = normalize(genre)
        if not key:
            continue
        genres[key].append(genre)
        words = key.split()
        for size in range(1, len(words)):  # "acid jazz" also answers "jazz"
            genres[" ".join(words[-size:])].append(genre)
    return artists, {key: list(dict.fromkeys(values)) for key, values in genres.items()}


# --- the candidate pool --------------------------------------------------------------------------


def candidate_pool(rules, rng=None):
    """The tracks the model may choose from: all that the rules leave when they fit the
    budget, else a fair sample (round the artists, each giving its albums in turn,
    tracks sharing the sentence's words first), never over POOL_MAX lines or
    LLM_CANDIDATE_TOKENS tokens."""
    rng = rng or random.Random()
    ids = list(matching(rules.filters).order_by("id").values_list("id", flat=True))
    count = len(ids)
    if count > _SAMPLE:
        ids = rng.sample(ids, _SAMPLE)
    tracks = _read(ids)
    if rules.seed_track:
        tracks = [t for t in tracks if t.pk != rules.seed_track]
    rng.shuffle(tracks)
    words = set(normalize(rules.text).split())
    lines, chosen, tokens = [], [], 0
    for track in _round_robin(tracks, words):
        line = _line(track)
        cost = llm.estimate_tokens(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        if len(chosen) >= POOL_MAX or tokens + cost > settings.LLM_CANDIDATE_TOKENS:
            break
        lines.append(line)
        chosen.append(track)
        tokens += cost
    return Pool(chosen, count, llm.candidates_block(lines))


def _read(ids):
    tracks = []
    for start in range(0, len(ids), _BATCH):
        tracks += Track.objects.filter(id__in=ids[start : start + _BATCH]).order_by()
    return tracks


def _round_robin(tracks, words):
    """Tracks one artist at a time, each artist's albums in turn."""
    by_artist = defaultdict(lambda: defaultdict(list))
    for track in sorted(tracks, key=lambda t: -_shared(t, words)):
        by_artist[_key(track.artist)][track.album_key or track.album].append(track)
    queues = [_interleave(albums.values()) for albums in by_artist.values()]
    while queues:
        queues = [q for q in queues if q]
        for queue in queues:
            yield queue.pop(0)


def _interleave(lists):
    out = []
    lists = [list(x) for x in lists]
    while any(lists):
        out += [x.pop(0) for x in lists if x]
    return out


def _shared(track, words):
    text = " ".join([track.title, track.album, *track.genres])
    return len(words & set(normalize(text).split()))


def _line(track):
    """One candidate as the model sees it: few keys, the empty ones left out."""
    line = {
        "id": track.pk,
        "artist": track.artist,
        "title": track.title,
        "album": track.album,
        "year": track.year,
        "genres": track.genres[:3],
    }
    if track.play_count:
        line["plays"] = track.play_count
    if track.user_rating:
        line["rating"] = track.user_rating
    if track.is_live:
        line["live"] = True
    return line


def _key(text):
    return " ".join((text or "").casefold().split())


# --- asking and checking -------------------------------------------------------------------------


def request_text(rules, pool):
    """The user message: the sentence, what was already applied, the length, the pool."""
    applied = "; ".join(rules.found) or "none"
    if rules.minutes:
        length = f"Pick about {rules.minutes} minutes of music ({rules.target_tracks} tracks)."
    else:
        length = f"Pick {rules.target_tracks} tracks."
    return (
        f"Request: {rules.text}\nRules already applied to the candidates: {applied}.\n{length}\n{pool.block}"
    )


def tokens_to_send(rules, pool):
    """The estimate the page shows before generating."""
    return llm.estimate_tokens(_SYSTEM) + llm.estimate_tokens(request_text(rules, pool))


def generate(rules, model=None, on_phase=None, rng=None):
    """The playlist for `rules`: the pool, the model's answer, checked. Raises
    NothingMatches, or llm.LLMError when the model fails; writes nothing anywhere."""
    started = time.monotonic()
    phase = on_phase or (lambda _phase: None)
    phase(PromptPhase.POOL)
    pool = candidate_pool(rules, rng)
    if not pool.tracks and not rules.found:
        raise NothingMatches("The library cache is empty: sync it first.")
    if not pool.tracks:
        raise NothingMatches(f"No track in the library fits the sentence's rules ({'; '.join(rules.found)}).")
    sent = tokens_to_send(rules, pool)
    phase(PromptPhase.ASKING)
    answer = llm.ask_json(
        _SYSTEM,
        request_text(rules, pool),
        model=model or None,
        expect=llm.playlist_answer,
        max_tokens=600 + 40 * rules.target_tracks,
    )
    phase(PromptPhase.CHECKING)
    checked = check(answer.data["tracks"], pool, rules)
    title = " ".join(answer.data["title"].split())[:200] or f"Playlist: {rules.text[:80]}"
    description = " ".join(answer.data["description"].split())[:1000]
    return Result(
        rules=rules,
        pool=pool,
        checked=checked,
        title=title,
        description=description,
        model=answer.model,
        tokens_sent=sent,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        model_seconds=answer.seconds,
        app_seconds=max(0.0, time.monotonic() - started - answer.seconds),
    )


_FILLED_REASON = "Added from the candidates to reach the length asked for."


def check(answered, pool, rules):
    """The model's picks ([{"id", "reason"}]) made to obey the rules: see the module."""
    checked = Checked()
    by_id = {str(t.pk): t for t in pool.tracks}
    # The rules checked again on the cache as it is now: a sync may have run meanwhile.
    still = set(
        matching(rules.filters).filter(id__in=[t.pk for t in pool.tracks]).values_list("id", flat=True)
    )
    picks, seen = [], set()
    for item in answered:
        track = by_id.get(item["id"])
        if track is None:
            checked.invented += 1
        elif _song(track) in seen:
            checked.duplicates += 1
        elif track.pk not in still:
            checked.broke_rules += 1
        else:
            seen.add(_song(track))
            picks.append(Pick(track, item["reason"] or "Chosen by the model."))
    cap = _artist_cap(rules)
    per_artist = Counter()
    kept = []
    for pick in picks:
        artist = _key(pick.track.artist)
        if per_artist[artist] >= cap:
            checked.over_cap += 1
            continue
        per_artist[artist] += 1
        kept.append(pick)
    kept, checked.cut = _cut(kept, rules)
    spare = (t for t in pool.tracks if t.pk in still and _song(t) not in seen)
    for track in spare:
        if _long_enough(kept, rules):
            break
        if per_artist[_key(track.artist)] >= cap:
            continue
        per_artist[_key(track.artist)] += 1
        seen.add(_song(track))
        kept.append(Pick(track, _FILLED_REASON, filled=True))
        checked.filled += 1
    order = spread([p.track for p in kept])
    by_track = {p.track.pk: p for p in kept}
    checked.picks = [by_track[t.pk] for t in order]
    return checked


def _song(track):
    return _key(track.artist), _key(track.title)


def _artist_cap(rules):
    length = rules.target_tracks
    cap = math.ceil(round(rules.filters.max_artist_share * length, 9))
    if rules.filters.artists:
        # Asking for artists means wanting their tracks: each may fill an equal part.
        cap = max(cap, math.ceil(length / len(rules.filters.artists)))
    return max(cap, 1)


def _minutes(picks):
    return sum((p.track.duration_ms or 0) for p in picks) / 60_000


def _long_enough(picks, rules):
    if rules.minutes:
        return _minutes(picks) >= rules.minutes - 2  # within a couple of minutes
    return len(picks) >= rules.target_tracks


def _cut(picks, rules):
    """(the picks cut to the length, how many were cut)."""
    if not rules.minutes:
        return picks[: rules.target_tracks], max(0, len(picks) - rules.target_tracks)
    kept, total = [], 0.0
    for pick in picks:
        if total >= rules.minutes - 2:
            break
        kept.append(pick)
        total += (pick.track.duration_ms or 0) / 60_000
    return kept, len(picks) - len(kept)


# --- the job -------------------------------------------------------------------------------------


def run(run_id):
    """Generate the PromptRun `run_id` (in the worker); returns it, or None when it was
    not waiting (another worker took it, or it ran already). Never raises for a
    model's or a library's failure: the run records it."""
    from playlists.models import PromptRun

    if not PromptRun.objects.filter(pk=run_id, phase=PromptPhase.QUEUED).update(phase=PromptPhase.POOL):
        return None
    record = PromptRun.objects.get(pk=run_id)
    try:
        record.record(generate(rules_of(record), model=record.model, on_phase=record.set_phase))
    except (llm.LLMError, NothingMatches) as exc:
        record.fail(str(exc))
    except Exception as exc:
        log.exception("prompt run %s failed unexpectedly", run_id)
        record.fail(f"The generation failed unexpectedly: {exc.__class__.__name__}.")
    record.finished_at = timezone.now()
    record.save()
    PromptRun.prune()
    return record


def rules_of(record):
    """The Rules a PromptRun asks for: its sentence's, or its track's."""
    if record.seed_track_id:
        return rules_for_track(record.seed_track, record.tracks_asked, record.minutes_asked)
    return read_rules(record.prompt, record.source, record.tracks_asked, record.minutes_asked)


def save(source, name, keys, description):
    """Save a generated playlist to the server as the builder does (replacing one of the
    same name), described by the model's description. Returns the adapter's
    SavedPlaylist, its requests counting the description's."""
    saved = saving.save(source, name, keys, mode="sync")
    adapter = get_source(source)
    if description:
        adapter.set_playlist_summary(saved.id, description)
    return replace(saved, requests=saved.requests + adapter.request_count)
