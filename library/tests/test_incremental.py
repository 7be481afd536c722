"""Incremental syncs of Plex: its change filters, and servers that refuse or ignore them.
What every server does is in test_sync_contract.py."""

import pytest

from library.models import SyncState, Track
from library.sync import sync
from library.vocab import Phase, Why

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

_COMPARED = [f.name for f in Track._meta.fields if f.name not in ("id", "updated_at")]


def _sync(full=False):
    return sync("plex", full=full)


def _rows():
    return list(Track.objects.order_by("rating_key").values(*_COMPARED))


def _full_sync_rows():
    """What a full sync makes of the library as it is now."""
    Track.objects.all().delete()
    SyncState.objects.filter(source="plex").update(track_count=0)
    _sync(full=True)
    return _rows()


@pytest.fixture
def library(fake_plex):
    _sync()
    # Changes get later timestamps than the first sync saw, as they would in life.
    clock = iter(range(2_000_000_000, 3_000_000_000, 10))
    fake_plex.library.clock = lambda: next(clock)
    fake_plex.reset_counts()
    return fake_plex.library


def test_unchanged_library_costs_a_few_slim_requests(library, fake_plex, settings):
    result = _sync()
    assert result.mode == "incremental"
    assert (result.added, result.updated, result.removed) == (0, 0, 0)
    # identity, sections, two counts, five change listings, one key listing, and the
    # albums and artists of the tracks near the mark, by key (never one per track)
    assert fake_plex.total_requests <= 12, fake_plex.requests
    assert fake_plex.requests[("GET", "/library/metadata/{ids}")] <= 2


def test_album_details_come_by_key_not_from_the_whole_album_listing(library, fake_plex):
    library.change_tracks(30)
    _sync()
    # the changed tracks whose listed genres may be cut, their albums, their artists
    assert fake_plex.requests[("GET", "/library/metadata/{ids}")] <= 3
    assert _rows() == _full_sync_rows()


def test_a_rating_that_did_not_move_updated_at_is_still_caught(library):
    # Rating in Plex sets lastRatedAt but need not move updatedAt.
    track = next(t for t in library.tracks.values() if t.user_rating is None)
    track.user_rating, track.last_rated_at = 4.0, int(library.clock())
    _sync()
    assert Track.objects.get(rating_key=str(track.rating_key)).user_rating == 4
    assert _rows() == _full_sync_rows()


@pytest.mark.parametrize("filters_ignored", [False, True])
def test_a_rating_taken_back_is_caught_incrementally(library, fake_plex, filters_ignored):
    fake_plex.ignore_filters = filters_ignored
    # Plex lists no lastRatedAt on a track whose rating was taken back.
    track = next(t for t in library.tracks.values() if t.user_rating is not None)
    track.user_rating, track.last_rated_at = None, int(library.clock())
    why = Why.FILTER_IGNORED if filters_ignored else Why.CHANGES
    result = _sync()
    assert (result.mode, result.why) == ("incremental", why)
    assert Track.objects.get(rating_key=str(track.rating_key)).user_rating is None
    assert _rows() == _full_sync_rows()


def test_album_changes_reach_their_tracks(library):
    album = next(a for a in library.albums.values() if a.genres)
    album.genres = ["Freshly Tagged"]
    album.year = 1999
    album.updated_at = int(library.clock())
    _sync()
    tracks = Track.objects.filter(album_key=str(album.key))
    assert tracks and all(t.year == 1999 for t in tracks)
    # Tracks with genres of their own keep them; the others take the album's.
    own = {str(t.rating_key): t.genres for t in library.album_tracks(album.key)}
    assert all(t.genres == (own[t.rating_key] or ["Freshly Tagged"]) for t in tracks)


def test_unexplained_new_tracks_fall_back_to_a_full_sync(library):
    (key,) = library.add_tracks(1)
    # A track that appeared with old dates (restored from a backup, say) shows in no change listing.
    track = library.tracks[key]
    album = library.albums[track.album_key]
    for item in (track, album, library.artists[album.artist_key]):
        item.added_at = item.updated_at = 1_000_000_000
    result = _sync()
    assert result.mode == "full"
    assert Track.objects.filter(rating_key=str(key)).exists()


def test_a_server_refusing_a_change_filter_gets_a_full_sync(library, fake_plex):
    # As if this server version knew no lastRatedAt filter: it answers 400, as Plex does.
    fake_plex.refused_filters = {"lastRatedAt", "lastViewedAt"}
    library.change_tracks(5)
    result = _sync()
    assert result.mode == "full"
    assert _rows() == _full_sync_rows()


@pytest.mark.parametrize("ignored", [True, {"track.lastRatedAt"}, {"album.updatedAt"}])
def test_a_server_ignoring_filters_is_read_newest_first_down_to_the_last_sync(library, fake_plex, ignored):
    fake_plex.ignore_filters = ignored
    library.change_tracks(5)
    album = next(a for a in library.albums.values() if a.genres)
    album.genres, album.updated_at = ["Freshly Tagged"], int(library.clock())
    result = _sync()
    assert (result.mode, result.why) == ("incremental", Why.FILTER_IGNORED)
    # The first page of each listing, sorted by date, shows where the changes end.
    assert fake_plex.track_pages <= 5
    assert _rows() == _full_sync_rows()


def test_a_library_nobody_rated_is_not_read_whole_where_filters_are_ignored(library, fake_plex):
    for track in library.tracks.values():
        track.user_rating = track.last_rated_at = None
    fake_plex.ignore_filters = True
    result = _sync()
    assert (result.mode, result.why) == ("incremental", Why.FILTER_IGNORED)
    # the lastRatedAt listing stops at its first page without a date
    assert fake_plex.track_pages <= 5


def test_a_server_ignoring_filters_and_sorts_gets_a_full_sync_at_once(library, fake_plex, caplog):
    fake_plex.ignore_filters = fake_plex.ignore_sort = True
    library.change_tracks(5)
    result = _sync()
    assert (result.mode, result.why) == ("full", Why.FILTER_IGNORED)
    assert "ignores the filter and sort" in caplog.text
    # One page of the ignored listing, not the whole library twice over.
    full_sync_pages = -(-len(library.tracks) // 40)
    assert fake_plex.track_pages <= full_sync_pages + 2
    assert _rows() == _full_sync_rows()


def test_a_server_ignoring_field_hints_finds_deletions_all_the_same(library, fake_plex):
    fake_plex.ignore_field_hints = True
    added = library.add_tracks(3)
    removed = library.remove_tracks(4)
    result = _sync()
    assert result.mode == "incremental"
    assert result.removed == len(set(removed) - set(added))
    assert _rows() == _full_sync_rows()


def test_changed_tracks_keep_every_genre_of_their_own(library):
    track = next(t for t in library.tracks.values() if len(t.genres) >= 3)
    library.change_tracks([track.rating_key])
    track.genres.append("Freshly Tagged")
    assert _sync().mode == "incremental"
    assert Track.objects.get(rating_key=str(track.rating_key)).genres == track.genres


def _track_listings(fake_plex):
    return fake_plex.requests[("GET", "/library/sections/{id}/all")]


@pytest.mark.parametrize("switch", ["", "ignore_field_hints", "ignore_filters"])
def test_an_unchanged_library_is_confirmed_by_counting_not_listing(library, fake_plex, switch):
    if switch:
        setattr(fake_plex, switch, True)
    result = _sync()
    assert (result.mode, result.why) == (
        "incremental",
        Why.FILTER_IGNORED if switch == "ignore_filters" else Why.CHANGES,
    )
    # two counts and the five change listings (where filters are ignored: the first
    # page of three sorted track listings, one of albums and one of artists): no
    # listing of every key, whatever the server ignores
    assert _track_listings(fake_plex) == 7, fake_plex.requests
    assert result.requests <= 10


@pytest.mark.parametrize("hints_ignored", [False, True])
def test_a_deleted_album_and_a_stray_track_are_found_by_counting(library, fake_plex, hints_ignored):
    fake_plex.ignore_field_hints = hints_ignored
    album = next(a for a in library.albums.values() if len(library.album_tracks(a.key)) >= 3)
    gone = [t.rating_key for t in library.album_tracks(album.key)]
    stray = next(k for k in library.tracks if k not in gone)
    library.remove_tracks([*gone, stray])
    result = _sync()
    assert (result.mode, result.why) == ("incremental", Why.CHANGES)
    assert result.removed == len(gone) + 1
    # counts of halved date ranges and a few small listings (never every key: that would say KEYS_LISTED)
    assert result.requests <= 30
    assert _rows() == _full_sync_rows()


@pytest.mark.parametrize("hints_ignored", [False, True])
def test_scattered_deletions_are_found_by_counting_albums_tracks(library, fake_plex, hints_ignored):
    fake_plex.ignore_field_hints = hints_ignored
    removed = library.remove_tracks(20)
    result = _sync()
    # the albums' counts, then the cached tracks of the albums that lost some, by key
    # (a listing of every key would say KEYS_LISTED)
    assert (result.mode, result.why, result.removed) == ("incremental", Why.CHANGES, 20)
    assert not Track.objects.filter(rating_key__in=[str(k) for k in removed]).exists()
    assert _rows() == _full_sync_rows()


@pytest.mark.parametrize("switch", ["ignore_filters", "refused_filters"])
def test_a_server_without_the_added_date_filter_has_deletions_found_by_counting_albums(
    library, fake_plex, switch
):
    setattr(fake_plex, switch, {"addedAt"})
    library.remove_tracks(2)
    result = _sync()
    assert (result.mode, result.why, result.removed) == ("incremental", Why.CHANGES, 2)
    assert _rows() == _full_sync_rows()


def test_progress_says_it_is_checking_for_deletions(library):
    library.remove_tracks(1)
    phases = []
    sync("plex", on_progress=lambda state: phases.append((state.phase, state.current)))
    checking = [progress for phase, progress in phases if phase == Phase.DELETIONS]
    assert checking and checking[-1] == len(library.tracks)
