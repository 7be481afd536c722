"""The sync engine against the fake Plex: what only Plex does (genres and years on
albums, listings that cut tags short), the claim, and failures of the engine itself.
What every server does is in test_sync_contract.py."""

import threading
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.db import DatabaseError
from django.utils import timezone

from library import cache
from library.fakes.plexdata import FakeLibrary
from library.models import StagedTrack, SyncBusy, SyncState, Track
from library.sources.plex import _recording_mbid
from library.sync import SyncFailed, sync
from library.tests.servers import plex_rows
from library.vocab import ErrorKind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _sync(full=False):
    return sync("plex", full=full)


def _snapshot():
    return list(Track.objects.order_by("rating_key").values())


def _cached():
    fields = list(next(iter(plex_rows(FakeLibrary(tracks=1)).values())))
    return {t["rating_key"]: {f: t[f] for f in fields} for t in Track.objects.values("rating_key", *fields)}


def test_genres_and_year_come_from_albums_since_tracks_lack_them(fake_plex):
    _sync()
    with_genres = Track.objects.exclude(genres=[]).count()
    with_year = Track.objects.exclude(year=None).count()
    assert with_genres > 100 and with_year > 100


def test_four_genre_album_keeps_all_its_genres_after_a_sync(fake_plex):
    lib = fake_plex.library
    album = next(a for a in lib.albums.values() if len(a.genres) == 4)
    _sync()
    plain = [t for t in lib.album_tracks(album.key) if not t.genres]
    assert plain
    for track in plain:
        assert Track.objects.get(rating_key=str(track.rating_key)).genres == album.genres


def test_a_track_with_its_own_genres_keeps_all_of_them(fake_plex):
    lib = fake_plex.library
    track = next(t for t in lib.tracks.values() if len(t.genres) >= 3)
    _sync()
    assert Track.objects.get(rating_key=str(track.rating_key)).genres == track.genres


def test_an_album_without_genres_takes_all_of_its_artists(fake_plex):
    lib = fake_plex.library
    album = next(a for a in lib.albums.values() if a.genres)
    artist = lib.artists[album.artist_key]
    album.genres, artist.genres = [], ["Art Rock", "Krautrock", "Drone", "Noise"]
    _sync()
    tracks = [t for t in lib.album_tracks(album.key) if not t.genres]
    for track in tracks:
        assert Track.objects.get(rating_key=str(track.rating_key)).genres == artist.genres


MBID = "5f1a7a4c-9b0e-4c11-8f0a-3d2c1b0a9e8f"


@pytest.mark.parametrize(
    ("guids", "cached"),
    [
        (f'<Guid id="mbid://{MBID}"/>', MBID),
        (f'<Guid id="plex://track/5d07c2f1"/><Guid id="mbid://{MBID.upper()}"/>', MBID),
        (f'<Guid id="mbid://recording/{MBID}"/>', MBID),
        (f'<Guid id="mbid://artist/{MBID}"/>', ""),
        ('<Guid id="local://684925"/>', ""),
        ('<Guid id="mbid://not-an-id"/>', ""),
        ("", ""),
    ],
)
def test_recording_id_is_the_mbid_guid_among_other_agents_ids(guids, cached):
    track = ElementTree.fromstring(f'<Track ratingKey="1" guid="plex://track/5d07c2f1">{guids}</Track>')
    assert _recording_mbid(track) == cached


def test_sync_makes_about_one_request_per_page_not_one_per_track(fake_plex):
    lib = fake_plex.library
    fake_plex.reset_counts()
    result = _sync()

    def pages(n):
        return -(-n // 40) or 1

    listing_pages = pages(len(lib.tracks)) + pages(len(lib.albums)) + pages(len(lib.artists))
    # setup: server, sections, the count before and after; then tracks, albums and
    # artists whose listed genres may have been cut, read again by key
    assert fake_plex.total_requests <= listing_pages + 5 + 3
    assert result.requests == fake_plex.total_requests
    assert 1 <= fake_plex.requests[("GET", "/library/metadata/{ids}")] <= 3


def test_full_sync_of_a_bigger_library_stays_within_its_request_budget(plex_factory, settings):
    server = plex_factory(4000, seed=3)
    settings.PLEX_URL, settings.PLEX_TOKEN, settings.PLEX_LIBRARY = server.url, server.token, ""
    settings.SYNC_PAGE_SIZE = 500
    result = _sync()
    assert result.track_count == 4000
    assert _cached() == plex_rows(server.library)
    track_pages = 4000 // 500
    assert result.requests <= 2 * track_pages + 20


def test_track_renamed_during_a_sync_is_cached_once(fake_plex):
    lib = fake_plex.library
    first, last = next(iter(lib.tracks.values())), list(lib.tracks.values())[-1]

    def rename(keys):
        # In Plex's default order these two would swap ends of the listing mid-sync.
        if fake_plex.track_pages == 1:
            lib.artists[first.artist_key].title = "Zz Top Of The List"
            lib.artists[last.artist_key].title = "Aa First Of All"

    fake_plex.on_track_page = rename
    result = _sync()
    assert result.track_count == result.added == len(lib.tracks)
    assert set(_cached()) == {str(k) for k in lib.tracks}


def test_wrong_token_is_reported_as_such(fake_plex, settings):
    settings.PLEX_TOKEN = "wrong"
    with pytest.raises(SyncFailed) as exc:
        _sync()
    assert exc.value.kind == ErrorKind.UNAUTHORIZED
    state = SyncState.objects.get(source="plex")
    assert "rejected the token" in state.error and "wrong" not in state.error
    assert state.server_reachable


def test_database_write_failure_keeps_previous_tracks(fake_plex, monkeypatch):
    _sync()
    before = _snapshot()
    fake_plex.library.change_tracks(30)
    real_stage, calls = cache.stage, []

    def failing_stage(rows):
        calls.append(1)
        if len(calls) == 2:
            raise DatabaseError("disk I/O error")  # a full disk cannot be had here
        return real_stage(rows)

    monkeypatch.setattr(cache, "stage", failing_stage)
    with pytest.raises(SyncFailed) as exc:
        _sync(full=True)
    assert exc.value.kind == ErrorKind.DATABASE
    assert _snapshot() == before
    assert "Could not write to the cache database" in SyncState.objects.get(source="plex").error
    assert not _readers_left()


def test_a_page_failing_while_read_ahead_fails_the_sync_and_keeps_the_cache(fake_plex):
    _sync()
    before = _snapshot()
    fake_plex.faults.fail_after_pages = fake_plex.track_pages + 2
    with pytest.raises(SyncFailed) as exc:
        _sync(full=True)
    assert exc.value.kind == ErrorKind.BAD_RESPONSE
    assert _snapshot() == before
    assert not _readers_left()


def _readers_left():
    """The threads reading pages ahead of the staging that are still running."""
    return [t for t in threading.enumerate() if t.name == "sync-read-ahead"]


def test_only_one_sync_runs_at_a_time(fake_plex):
    run_id = SyncState.claim("plex").run_id
    with pytest.raises(SyncBusy):
        SyncState.claim("plex")
    with pytest.raises(SyncBusy):
        sync("plex")
    sync("plex", run_id=run_id)
    assert SyncState.claim("plex").run_id == run_id + 1


def test_a_dead_workers_claim_expires(fake_plex, settings):
    _sync()
    before = _snapshot()
    SyncState.claim("plex")
    StagedTrack.objects.create(source="plex", rating_key="half", title="half-written", artist="x")
    SyncState.objects.filter(source="plex").update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT + 1), phase="tracks"
    )

    status = SyncState.objects.get(source="plex").as_status()
    assert status["is_syncing"] is False
    assert "stopped responding" in status["error"]
    assert _snapshot() == before

    # A new sync may start, and clears what the dead one staged.
    result = _sync()
    assert result.track_count == 150 and not Track.objects.filter(rating_key="half").exists()


def test_a_superseded_run_does_nothing(fake_plex):
    old = SyncState.claim("plex").run_id
    SyncState.objects.filter(source="plex").update(is_syncing=False)
    SyncState.claim("plex")
    assert sync("plex", run_id=old) is None
    assert Track.objects.count() == 0


def test_section_is_picked_by_title_or_the_only_music_section(fake_plex, settings):
    settings.PLEX_LIBRARY = "no such library"
    with pytest.raises(SyncFailed) as exc:
        _sync()
    assert exc.value.kind == ErrorKind.NOT_FOUND
    assert "no music library named 'no such library'" in exc.value.message
    settings.PLEX_LIBRARY = "music"
    assert _sync().track_count == 150
