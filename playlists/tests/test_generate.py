from collections import Counter
from itertools import count
from urllib.parse import parse_qsl

import pytest
from django.http import QueryDict
from django.utils import timezone

from library.models import SyncState, Track
from playlists.generate import (
    Filters,
    artist_names,
    decade_counts,
    genre_counts,
    matching,
    pick,
    preview,
)

pytestmark = pytest.mark.django_db

_keys = count(1)


def _track(**fields):
    n = next(_keys)
    fields.setdefault("title", f"Song {n}")
    fields.setdefault("artist", f"Artist {n}")
    fields.setdefault("duration_ms", 200_000)
    return Track.objects.create(rating_key=str(n), **fields)


def _many(number, **fields):
    return [_track(**fields) for _ in range(number)]


def _titles(filters):
    return set(matching(filters).values_list("title", flat=True))


def _artists(tracks):
    return [t.artist for t in tracks]


# --- filters -------------------------------------------------------------------------------------


def test_genre_matches_the_whole_genre_not_a_substring():
    _track(title="rock", genres=["Rock"])
    _track(title="indie", genres=["Indie Rock"])
    _track(title="both", genres=["Pop", "Rock"])
    _track(title="none")
    assert _titles(Filters(genres=("Rock",))) == {"rock", "both"}
    assert _titles(Filters(genres=("Indie",))) == set()


def test_genres_with_quotes_commas_and_cjk_match_exactly():
    _track(title="quote", genres=["Rock 'n' Roll", 'The "Real" Blues'])
    _track(title="comma", genres=["Drum, Bass & Bass"])
    _track(title="cjk", genres=["日本のロック"])
    _track(title="short cjk", genres=["ロック"])
    assert _titles(Filters(genres=('The "Real" Blues',))) == {"quote"}
    assert _titles(Filters(genres=("Rock 'n' Roll",))) == {"quote"}
    assert _titles(Filters(genres=("Drum, Bass & Bass",))) == {"comma"}
    assert _titles(Filters(genres=("Drum",))) == set()
    assert _titles(Filters(genres=("日本のロック",))) == {"cjk"}
    assert _titles(Filters(genres=("ロック",))) == {"short cjk"}


def test_any_of_several_genres_matches():
    _track(title="jazz", genres=["Jazz"])
    _track(title="folk", genres=["Folk", "Blues"])
    _track(title="pop", genres=["Pop"])
    assert _titles(Filters(genres=("Jazz", "Blues"))) == {"jazz", "folk"}


def test_decades_cover_their_ten_years():
    for year in (1989, 1990, 1999, 2000, 2010):
        _track(title=str(year), year=year)
    _track(title="unknown", year=None)
    assert _titles(Filters(decades=(1990,))) == {"1990", "1999"}
    assert _titles(Filters(decades=(1980, 2000))) == {"1989", "2000"}


def test_min_rating_excludes_lower_and_unrated_tracks():
    for rating in (None, 2, 6, 8, 10):
        _track(title=str(rating), user_rating=rating)
    assert _titles(Filters(min_rating=8)) == {"8", "10"}
    assert _titles(Filters(min_rating=0)) == {"None", "2", "6", "8", "10"}


def test_exclude_live_drops_live_recordings():
    _track(title="studio")
    _track(title="live", is_live=True)
    assert _titles(Filters(exclude_live=True)) == {"studio"}
    assert _titles(Filters()) == {"studio", "live"}


def test_artist_filter_matches_performer_or_album_artist_in_any_case():
    _track(title="performer", artist="Queen", album_artist="Queen")
    _track(title="compilation", artist="Someone", album_artist="queen")
    _track(title="other", artist="Queens of the Stone Age")
    assert _titles(Filters(artists=("QUEEN",))) == {"performer", "compilation"}


def test_artist_filter_folds_case_beyond_ascii():
    _track(title="björk", artist="Björk")
    assert _titles(Filters(artists=("BJÖRK",))) == {"björk"}
    assert _titles(Filters(artists=(" björk ",))) == {"björk"}


def test_exclude_artist_matches_album_artist_too():
    _track(title="queen", artist="Queen", album_artist="Queen")
    _track(title="compilation", artist="Someone", album_artist="Various Artists")
    _track(title="kept", artist="Someone", album_artist="Someone")
    assert _titles(Filters(exclude_artists=("queen", "various artists"))) == {"kept"}


def test_filters_combine():
    _track(title="match", genres=["Jazz"], year=1965, user_rating=10, artist="Miles Davis")
    _track(title="live", genres=["Jazz"], year=1965, user_rating=10, artist="Miles Davis", is_live=True)
    _track(title="wrong decade", genres=["Jazz"], year=1975, user_rating=10, artist="Miles Davis")
    _track(title="unrated", genres=["Jazz"], year=1965, artist="Miles Davis")
    _track(title="wrong genre", genres=["Rock"], year=1965, user_rating=10, artist="Miles Davis")
    _track(title="wrong artist", genres=["Jazz"], year=1965, user_rating=10, artist="Coltrane")
    _track(title="excluded", genres=["Jazz"], year=1965, user_rating=10, album_artist="Bad")
    filters = Filters(
        genres=("Jazz",),
        decades=(1960,),
        min_rating=8,
        exclude_live=True,
        artists=("Miles Davis", "Someone Else"),
        exclude_artists=("Bad",),
    )
    assert _titles(filters) == {"match"}
    wider = Filters(genres=("Jazz",), decades=(1960,), exclude_artists=("Bad",))
    assert _titles(wider) == {"match", "live", "unrated", "wrong artist"}


def test_only_the_chosen_source_is_matched():
    _track(title="plex")
    _track(title="jellyfin", source="jellyfin")
    assert _titles(Filters()) == {"plex"}
    assert _titles(Filters(source="jellyfin")) == {"jellyfin"}


# --- pick ----------------------------------------------------------------------------------------


def test_no_artist_exceeds_its_share():
    for artist in ("A", "B", "C", "D", "E"):
        _many(30, artist=artist)
    for seed in range(5):
        playlist = pick(Filters(count=20, seed=seed))
        assert len(playlist) == 20
        assert max(Counter(_artists(playlist)).values()) <= 5  # 25% of 20


def test_artist_share_is_at_least_one_track_each():
    for artist in ("A", "B", "C"):
        _many(5, artist=artist)
    playlist = pick(Filters(count=10, max_artist_share=0))
    assert sorted(_artists(playlist)) == ["A", "B", "C"]


def test_artist_share_ignores_case_and_spacing():
    _many(10, artist="The Band")
    _many(10, artist="the  band")
    _many(10)
    playlist = pick(Filters(count=8, max_artist_share=0.25))
    assert sum(t.artist.casefold().split() == ["the", "band"] for t in playlist) <= 2


def test_included_artists_may_fill_the_playlist_between_them():
    _many(30, artist="A")
    _many(30, artist="B")
    _many(30)
    playlist = pick(Filters(artists=("A", "B"), count=20))
    assert Counter(_artists(playlist)) == {"A": 10, "B": 10}


def test_no_duplicate_title_and_artist():
    _track(title="Hey Jude", artist="The Beatles", album="Past Masters")
    _track(title="hey  jude ", artist="the beatles", album="Hits", album_artist="Various Artists")
    _track(title="Let It Be", artist="The Beatles")
    _track(title="Hey Jude", artist="Wilson Pickett")
    playlist = pick(Filters(count=10, max_artist_share=1))
    songs = sorted(" ".join(f"{t.artist} - {t.title}".casefold().split()) for t in playlist)
    assert songs == ["the beatles - hey jude", "the beatles - let it be", "wilson pickett - hey jude"]


def test_same_seed_gives_the_same_playlist():
    for artist in "ABCDEFGH":
        _many(10, artist=artist)
    first = pick(Filters(count=20, seed=7))
    assert pick(Filters(count=20, seed=7)) == first
    assert pick(Filters(count=20, seed=8)) != first


def test_without_a_seed_each_playlist_is_random():
    _many(200)
    playlists = {tuple(t.id for t in pick(Filters(count=10))) for _ in range(5)}
    assert len(playlists) > 1


def test_max_minutes_is_respected_and_long_tracks_are_skipped():
    _many(3, duration_ms=12 * 60_000)
    _many(10, duration_ms=4 * 60_000)
    _many(20, duration_ms=60_000)
    _many(3, duration_ms=None)
    for seed in range(5):
        playlist = pick(Filters(max_minutes=10, seed=seed))
        # Short tracks keep filling the gap a 4-minute one no longer fits.
        assert sum(t.duration_ms for t in playlist) == 10 * 60_000


def test_artist_share_applies_to_the_length_max_minutes_allows():
    _many(40, artist="A", duration_ms=4 * 60_000)
    _many(40, duration_ms=4 * 60_000)
    playlist = pick(Filters(max_minutes=40, count=100, seed=1))
    assert len(playlist) == 10
    assert Counter(_artists(playlist))["A"] <= 3  # 25% of the 10 tracks 40 minutes hold


def test_fewer_matches_than_count_returns_them_all():
    tracks = _many(5, genres=["Rare"])
    _many(5, genres=["Common"])
    assert sorted(t.id for t in pick(Filters(genres=("Rare",), count=50))) == [t.id for t in tracks]


def test_play_order_avoids_the_same_artist_twice_in_a_row():
    _many(20, artist="A")
    _many(20, artist="B")
    _many(3, artist="C")
    for seed in range(10):
        artists = _artists(pick(Filters(count=10, max_artist_share=0.5, seed=seed)))
        assert all(a != b for a, b in zip(artists, artists[1:], strict=False)), artists


def test_pick_returns_whole_tracks():
    _track(title="Song", artist="A", album="Album", genres=["Jazz"], year=1999)
    (track,) = pick(Filters())
    assert (track.title, track.album, track.genres, track.year) == ("Song", "Album", ["Jazz"], 1999)


def test_empty_cache_gives_empty_results():
    filters = Filters(genres=("Rock",), seed=1)
    assert pick(filters) == []
    assert pick(Filters()) == []
    assert preview(filters).count == 0
    assert preview(filters).sample == []
    assert genre_counts() == []
    assert decade_counts() == []
    assert artist_names(prefix="a") == []


# --- preview -------------------------------------------------------------------------------------


def test_preview_counts_every_match_and_samples_a_varied_few():
    for artist in "ABCDEFGHIJ":
        _many(10, artist=f"{artist} band", genres=["Jazz"])
    _many(10, genres=["Rock"])
    result = preview(Filters(genres=("Jazz",), count=5), sample_size=20)
    assert result.count == 100
    assert len(result.sample) == 20
    assert all(t.genres == ["Jazz"] for t in result.sample)
    assert max(Counter(_artists(result.sample)).values()) <= 5
    # Not the first twenty by name: that would be the A and B bands only.
    assert len(set(_artists(result.sample))) > 2


# --- query strings -------------------------------------------------------------------------------


def test_from_query_ignores_or_clamps_garbage():
    params = QueryDict(
        "count=abc&decade=19x0&decade=1990&min_rating=99&max_minutes=-5&seed=x"
        "&source=spotify&max_artist_share=nan&exclude_live=maybe&genre=&artist=%20"
    )
    assert Filters.from_query(params) == Filters(decades=(1990,), min_rating=10)


def test_from_query_clamps_count():
    assert Filters.from_query(QueryDict("count=50000")).count == 5000
    assert Filters.from_query(QueryDict("count=0")).count == 1
    assert Filters.from_query(QueryDict("count=-3")).count == 1


def test_from_query_reads_every_field():
    params = QueryDict(
        "genre=Rock&genre=Jazz&decade=1995&decade=1970&min_rating=6&exclude_live=on"
        "&artist=Queen&exclude_artist=ABBA&exclude_artist=Various+Artists&count=30"
        "&max_minutes=90&max_artist_share=0.5&seed=42&source=jellyfin"
    )
    assert Filters.from_query(params) == Filters(
        genres=("Rock", "Jazz"),
        decades=(1970, 1990),
        min_rating=6,
        exclude_live=True,
        artists=("Queen",),
        exclude_artists=("ABBA", "Various Artists"),
        count=30,
        max_minutes=90,
        max_artist_share=0.5,
        seed=42,
        source="jellyfin",
    )


def test_to_query_round_trips():
    filters = Filters(
        genres=('The "Real" Blues', "Drum, Bass & Bass", "日本のロック", "a=b&c"),
        decades=(1960, 2000),
        min_rating=4,
        exclude_live=True,
        artists=("Simon & Garfunkel", "Björk"),
        exclude_artists=("AC/DC",),
        count=120,
        max_minutes=45,
        max_artist_share=0.1,
        seed=-3,
        source="jellyfin",
    )
    assert Filters.from_query(QueryDict(filters.to_query())) == filters
    assert ("genre", 'The "Real" Blues') in parse_qsl(filters.to_query())


def test_default_filters_have_an_empty_query():
    assert Filters().to_query() == ""
    assert Filters.from_query(QueryDict("")) == Filters()


# --- counts --------------------------------------------------------------------------------------


def test_genre_counts_most_tracks_first():
    _many(3, genres=["Rock", "Pop"])
    _many(2, genres=["Jazz"])
    _track(genres=["Pop"])
    _track(genres=['The "Real" Blues'])
    _track(genres=[])
    _many(5, genres=["Rock"], source="jellyfin")
    assert genre_counts() == [("Pop", 4), ("Rock", 3), ("Jazz", 2), ('The "Real" Blues', 1)]
    assert genre_counts("jellyfin") == [("Rock", 5)]


def test_genre_counts_follow_a_sync():
    _track(genres=["Rock"])
    assert genre_counts() == [("Rock", 1)]
    jazz = _track(genres=["Jazz"])
    _track(genres=["Jazz"])
    assert genre_counts() == [("Jazz", 2), ("Rock", 1)]
    # Tracks leave the cache only through a sync, which moves its SyncState row.
    jazz.delete()
    SyncState.objects.update_or_create(source="plex", defaults={"run_id": 7, "last_sync_at": timezone.now()})
    assert genre_counts() == [("Jazz", 1), ("Rock", 1)]


def test_decade_counts_oldest_first():
    for year in (1999, 1990, 1971, 2003, None):
        _track(year=year)
    assert decade_counts() == [(1970, 1), (1990, 2), (2000, 1)]


def test_artist_names_most_tracks_first_by_prefix():
    _many(3, artist="Queen")
    _many(5, artist="Quincy Jones")
    _many(2, artist="Someone", album_artist="Queen")
    _many(4, artist="Aretha", album_artist="Various Artists")
    _track(artist="queens of the stone age")
    assert artist_names(prefix="qu") == ["Queen", "Quincy Jones", "queens of the stone age"]
    assert artist_names(prefix="QUEEN", limit=1) == ["Queen"]
    assert artist_names()[:3] == ["Queen", "Quincy Jones", "Aretha"]
    assert "Various Artists" in artist_names(prefix="v")


def test_artist_filter_and_names_know_every_credited_artist():
    _track(title="duet", artist="Emmy the Great, Tim Wheeler", artists=["Emmy the Great", "Tim Wheeler"])
    _track(title="solo", artist="Tim Wheeler", artists=["Tim Wheeler"], album_artist="Tim Wheeler")
    _track(title="other", artist="Ash", artists=["Ash"])
    assert _titles(Filters(artists=("tim wheeler",))) == {"duet", "solo"}
    assert _titles(Filters(exclude_artists=("Emmy the Great",))) == {"solo", "other"}
    assert artist_names(prefix="tim") == ["Tim Wheeler"]
    assert artist_names(prefix="emmy") == ["Emmy the Great"]
