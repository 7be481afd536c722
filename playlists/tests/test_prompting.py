"""Playlists from a sentence: the rules read against the cache, the bounded pool, and
the model's answer checked, against the fake model over real HTTP."""

import itertools
from collections import Counter

import pytest
from django.db import connection

from library.models import SyncState, Track
from playlists import prompting
from playlists.fakes.llm import Misbehaviour
from playlists.generate import genre_counts

pytestmark = pytest.mark.usefixtures("fake_llm")


def _rules(text, **length):
    return prompting.read_rules(text, "plex", **length)


def _credits(track):
    return {*track.artists, track.album_artist, track.artist}


def test_a_one_artist_prompt_gives_that_artists_tracks_even_when_the_model_ignores_it(synced, fake_llm):
    fake_llm.misbehave = Misbehaviour.IGNORE_RULES
    result = prompting.generate(_rules("only motorhead, 12 tracks"))
    assert len(result.checked.picks) == 12
    assert all("Motörhead" in _credits(p.track) for p in result.checked.picks)
    assert result.rules.found == ("Artist: Motörhead", "Length: 12 tracks")


@pytest.mark.parametrize(
    ("text", "artists"),
    [
        ("only MOTORHEAD please", ("Motörhead",)),
        ("songs by bjork and sigur ros", ("Björk", "Sigur Rós")),
        ("motörhead only", ("Motörhead",)),
        ("rainy sunday jazz", ()),  # no cue: mood words are never taken for a band
    ],
)
def test_artists_are_found_as_the_cache_spells_them(synced, text, artists):
    assert _rules(text).filters.artists == artists


@pytest.mark.parametrize(
    ("text", "genres"),
    [
        ("hip hop for the gym", ("Hip-Hop",)),
        ("hiphop", ("Hip-Hop",)),
        ("some jazz", ("Jazz", "Post-Jazz")),  # the genre and its subgenres
        ("deep house and salsa", ("Deep House", "Salsa", "Melodic Salsa")),
    ],
)
def test_genres_are_the_caches_own_with_synonyms(synced, text, genres):
    assert set(_rules(text).filters.genres) == set(genres)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", {"decades": (1990,)}),
        ("the 1970s and 2000s", {"decades": (1970, 2000)}),
        ("from 1985 to 1995", {"min_year": 1985, "max_year": 1995}),
        ("before 1980", {"max_year": 1979}),
        ("no live stuff", {"exclude_live": True}),
        ("live recordings only", {"only_live": True}),
        ("about an hour", {"max_minutes": 60}),
        ("45 minutes", {"max_minutes": 45}),
        ("20 tracks", {"count": 20}),
        ("a 100-track party", {"count": 100}),
    ],
)
def test_years_live_and_length_become_filters(synced, text, expected):
    filters = _rules(text).filters
    assert {name: getattr(filters, name) for name in expected} == expected


def test_no_artist_twice_in_a_row_is_understood(synced):
    assert "No artist twice in a row" in _rules("pop, no artist twice in a row").found


def test_decade_genre_and_no_live_rules_hold_whatever_the_model_picks(synced, fake_llm):
    fake_llm.misbehave = Misbehaviour.IGNORE_RULES
    rules = _rules("2020s rock or pop, nothing live, 8 tracks")
    result = prompting.generate(rules)
    picks = [p.track for p in result.checked.picks]
    # As many as the rules leave under the quarter per artist (the library has few artists).
    assert 4 <= len(picks) <= 8
    for track in picks:
        assert 2020 <= track.year <= 2029 and not track.is_live
        assert {"Rock", "Pop"} & set(track.genres)


def test_a_length_in_minutes_is_met_by_filling_from_the_candidates(synced, fake_llm):
    fake_llm.misbehave = Misbehaviour.TRUNCATED  # the answer cut off: too few tracks
    result = prompting.generate(_rules("anything, 40 minutes"))
    minutes = sum(p.track.duration_ms for p in result.checked.picks) / 60_000
    assert 38 <= minutes <= 40 + 8
    assert result.checked.filled == sum(p.filled for p in result.checked.picks) > 0


def test_too_many_picks_are_cut_to_the_count(synced, fake_llm):
    rules = _rules("pop and rock, 20 songs", tracks=5)  # the page's length wins over the sentence's
    result = prompting.generate(rules)  # the fake reads "20 songs" and picks 20
    assert len(result.checked.picks) == 5 and result.checked.cut > 0


@pytest.mark.parametrize(
    "misbehave",
    [
        Misbehaviour.PROSE,
        Misbehaviour.FENCED,
        Misbehaviour.TRAILING_COMMAS,
        Misbehaviour.SINGLE_QUOTES,
        Misbehaviour.RENAMED,
        Misbehaviour.THINKS,
        Misbehaviour.WRONG_KIND_ONCE,
        Misbehaviour.NO_JSON_MODE,
        Misbehaviour.NO_MAX_TOKENS,
        Misbehaviour.RATE_LIMITED,
    ],
)
def test_an_answer_a_real_model_garbles_still_makes_the_playlist(synced, fake_llm, misbehave, settings):
    # A model of its own: the client remembers a parameter an endpoint's model refused.
    settings.LLM_MODEL = f"fake-{misbehave}"
    fake_llm.models.append(settings.LLM_MODEL)
    fake_llm.misbehave = misbehave
    result = prompting.generate(_rules("pop and rock, 8 tracks"))
    checked = result.checked
    # The model's own picks, less those over an artist's quarter (the fake ignores that rule).
    assert len(checked.picks) == 8 and checked.filled == checked.over_cap < 8
    assert result.title and result.description


def test_invented_tracks_are_dropped_and_counted(synced, fake_llm):
    fake_llm.misbehave = Misbehaviour.INVENTS
    result = prompting.generate(_rules("anything, 10 tracks"))
    pool = {t.pk for t in result.pool.tracks}
    assert result.checked.invented == 5
    assert all(p.track.pk in pool for p in result.checked.picks)
    assert len(result.checked.picks) == 10  # the gaps filled from the pool


def test_no_artist_over_a_quarter_nor_twice_in_a_row(synced, fake_llm):
    result = prompting.generate(_rules("anything, 12 tracks"))
    artists = [p.track.artist for p in result.checked.picks]
    assert max(Counter(artists).values()) <= 3
    assert all(a != b for a, b in itertools.pairwise(artists))


def test_more_like_this_starts_from_a_track(synced, fake_llm):
    seed = next(t for t in Track.objects.order_by("pk") if "Funk" in t.genres)
    result = prompting.generate(prompting.rules_for_track(seed, tracks=5))
    assert seed.pk not in [p.track.pk for p in result.checked.picks]
    assert all(set(seed.genres) & set(p.track.genres) for p in result.checked.picks)
    asked = fake_llm.chat_bodies[-1]["messages"][1]["content"]
    assert f"Tracks like “{seed.title}” ({seed.artist}; " in asked
    # Read again (kept as a weekly recipe), the text gives the same rules: no artist rule.
    again = _rules(result.rules.text)
    assert again.filters.artists == () and set(again.filters.genres) >= set(seed.genres[:3])


def test_rules_nothing_fits_fail_before_asking_the_model(synced, fake_llm):
    with pytest.raises(prompting.NothingMatches, match="Artist: Motörhead; Decades: 1950s"):
        prompting.generate(_rules("only motorhead from the 1950s"))
    assert not fake_llm.chat_bodies


def test_the_pool_stays_within_the_budget_at_100k_tracks(transactional_db, settings):
    _fill_cache(100_000)
    rules = _rules("rock, 100 tracks")
    pool = prompting.candidate_pool(rules)
    assert pool.matching == 25_000
    assert len(pool.tracks) <= prompting.POOL_MAX and pool.tokens <= settings.LLM_CANDIDATE_TOKENS + 20
    assert len({t.artist for t in pool.tracks}) == len(pool.tracks)  # spread across artists
    assert prompting.tokens_to_send(rules, pool) <= settings.LLM_CANDIDATE_TOKENS + 500


def _fill_cache(count):
    """`count` cached tracks (5,000 artists, 4 genres in turn), written by SQLite itself:
    a Python bulk_create of 100k rows takes half a minute."""
    sql = f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s)
        INSERT INTO {Track._meta.db_table} (source, rating_key, title, artist, artists, album_artist,
            album, album_key, duration_ms, year, genres, user_rating, play_count, is_live,
            recording_mbid, updated_at)
        SELECT 'plex', i, 'Song ' || i || ' with a rather long title (Remastered)', 'Artist ' || (i % 5000),
            '[]', '', 'Album ' || (i % 12000) || ' (Deluxe Edition)', i % 12000, 200000, 1960 + i % 60,
            json_array(CASE i % 4 WHEN 0 THEN 'Rock' WHEN 1 THEN 'Jazz' WHEN 2 THEN 'Pop' ELSE 'Folk' END,
                'Alternative', 'Indie'),
            NULLIF(i % 11, 0), i % 50, 0, '', datetime('now')
        FROM n"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [count - 1])
    SyncState.for_source("plex")


def test_genre_counts_back_the_rules(synced):
    # The rules read the cache's genres: a genre the library lacks is no rule.
    assert "Gregorian Chant" not in dict(genre_counts("plex"))
    assert _rules("gregorian chant").filters.genres == ()


def test_a_smaller_budget_sends_fewer_candidates(synced, fake_llm, settings):
    settings.LLM_CANDIDATE_TOKENS = 1000
    result = prompting.generate(_rules("anything, 10 tracks"))
    assert result.pool.tokens <= 1000 and 10 <= len(result.pool.tracks) < 30
    assert result.prompt_tokens < 1500 and len(result.checked.picks) == 10
