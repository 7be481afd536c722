from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from library import cache
from library.models import StagedTrack, SyncBusy, SyncState, Track
from library.sync import SyncFailed, sync
from library.vocab import ErrorKind

pytestmark = pytest.mark.django_db(transaction=True)


def _sync(full=False):
    return sync("plex", full=full)


def _snapshot():
    return list(Track.objects.order_by("rating_key").values())


def _expected(lib):
    """What the cache should hold, from the fake's own data."""
    rows = {}
    for key, t in lib.tracks.items():
        album = lib.albums[t.album_key]
        album_artist = lib.artists[album.artist_key]
        rows[str(key)] = {
            "title": t.title,
            "artist": t.track_artist or album_artist.title,
            "album_artist": album_artist.title,
            "album": album.title,
            "year": album.year,
            # The track's own genres, else its album's, else its album artist's.
            "genres": list(t.genres or album.genres or album_artist.genres),
            "user_rating": None if t.user_rating is None else round(t.user_rating),
            "duration_ms": t.duration_ms,
            "is_live": t.truth_live,
        }
    return rows


def _cached():
    fields = [
        "title",
        "artist",
        "album_artist",
        "album",
        "year",
        "genres",
        "user_rating",
        "duration_ms",
        "is_live",
    ]
    return {t["rating_key"]: {f: t[f] for f in fields} for t in Track.objects.values("rating_key", *fields)}


def test_first_sync_caches_every_track_as_plex_has_it(fake_plex):
    result = _sync()

    assert result.track_count == len(fake_plex.library.tracks) == 150
    assert result.added == 150 and result.updated == 0 and result.removed == 0
    assert _cached() == _expected(fake_plex.library)
    state = SyncState.objects.get(source="plex")
    assert state.server_id == fake_plex.machine_identifier
    assert state.track_count == 150 and state.last_sync_at is not None and not state.is_syncing
    assert not StagedTrack.objects.exists()


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
    assert _cached() == _expected(server.library)
    track_pages = 4000 // 500
    assert result.requests <= 2 * track_pages + 20


def test_resync_applies_added_removed_and_changed_tracks(fake_plex):
    _sync()
    lib = fake_plex.library
    added = lib.add_tracks(7)
    removed = lib.remove_tracks(5)
    changed = lib.change_tracks(4)

    result = _sync()

    # A removal may hit a track just added; count what Plex ends up with.
    assert result.added == len(set(added) - set(removed))
    assert result.removed == len(set(removed) - set(added))
    assert result.updated >= len(set(changed) - set(removed) - set(added))
    cached = _cached()
    assert cached == _expected(lib)
    assert all(str(k) in cached for k in set(added) - set(removed))
    assert not any(str(k) in cached for k in removed)


def test_unchanged_resync_rewrites_nothing(fake_plex):
    _sync()
    before = _snapshot()
    result = _sync()
    assert (result.added, result.updated, result.removed) == (0, 0, 0)
    assert _snapshot() == before


def test_server_change_replaces_the_cache_and_says_so(fake_plex):
    _sync()
    fake_plex.machine_identifier = "another-server"
    fake_plex.library.remove_tracks(10)

    result = _sync()

    assert result.server_changed
    state = SyncState.objects.get(source="plex")
    assert state.server_id == "another-server"
    assert "server changed" in state.notice
    assert state.as_status()["notice"] == state.notice
    assert Track.objects.count() == 140


def _on_first_page(monkeypatch, change):
    """Run `change()` once, right after the sync reads its first track page."""
    from library.sources.plex import PlexSource

    real, calls = PlexSource._track, []

    def track(self, el):
        if not calls:
            calls.append(1)
            change()
        return real(self, el)

    monkeypatch.setattr(PlexSource, "_track", track)


def test_track_renamed_during_a_sync_is_cached_once(fake_plex, monkeypatch):
    lib = fake_plex.library
    first, last = next(iter(lib.tracks.values())), list(lib.tracks.values())[-1]

    def rename():
        # In Plex's default order these two would swap ends of the listing mid-sync.
        lib.artists[first.artist_key].title = "Zz Top Of The List"
        lib.artists[last.artist_key].title = "Aa First Of All"

    _on_first_page(monkeypatch, rename)
    result = _sync()
    assert result.track_count == result.added == len(lib.tracks)
    assert set(_cached()) == {str(k) for k in lib.tracks}


def test_tracks_deleted_and_added_during_a_sync_are_neither_skipped_nor_doubled(fake_plex, monkeypatch):
    lib = fake_plex.library
    at_start = set(lib.tracks)
    changes = {}

    def edit():
        # Deleting early tracks shifts every later page down; adding puts tracks at the end.
        changes["removed"] = lib.remove_tracks(list(lib.tracks)[:10])
        changes["added"] = lib.add_tracks(5)

    _on_first_page(monkeypatch, edit)
    _sync()
    cached = {int(k) for k in _cached()}
    assert at_start - set(changes["removed"]) <= cached  # nothing that stayed was skipped
    assert set(changes["added"]) <= cached
    assert Track.objects.count() == len(cached)
    monkeypatch.undo()
    result = _sync()
    assert result.removed == len(cached & set(changes["removed"])) and result.added == 0
    assert _cached() == _expected(lib)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("fail_after_pages", "bad_response"),
        ("hang_after_pages", "timeout"),
        ("drop_after_pages", "unreachable"),
        ("malformed_after_pages", "bad_response"),
    ],
)
def test_failed_sync_keeps_previous_tracks(fake_plex, fault, kind):
    _sync()
    before = _snapshot()
    fake_plex.library.add_tracks(20)
    fake_plex.library.remove_tracks(20)
    setattr(fake_plex.faults, fault, 2)

    with pytest.raises(SyncFailed) as exc:
        _sync()

    assert exc.value.kind == kind
    assert _snapshot() == before
    assert not StagedTrack.objects.exists()
    status = SyncState.objects.get(source="plex").as_status()
    assert status["error"] and status["error_kind"] == kind
    assert not status["is_syncing"]
    assert status["track_count"] == 150


def test_failed_first_sync_leaves_an_empty_cache_and_a_clear_error(fake_plex):
    fake_plex.faults.fail_after_pages = 1
    with pytest.raises(SyncFailed):
        _sync()
    assert Track.objects.count() == 0
    assert "HTTP 500" in SyncState.objects.get(source="plex").error


def test_wrong_token_is_reported_as_such(fake_plex, settings):
    settings.PLEX_TOKEN = "wrong"
    with pytest.raises(SyncFailed) as exc:
        _sync()
    assert exc.value.kind == ErrorKind.UNAUTHORIZED
    state = SyncState.objects.get(source="plex")
    assert "rejected the token" in state.error and "wrong" not in state.error
    assert state.server_reachable


def test_unreachable_server_is_reported_and_cache_served(fake_plex):
    _sync()
    fake_plex.stop()
    with pytest.raises(SyncFailed) as exc:
        _sync()
    assert exc.value.kind == ErrorKind.UNREACHABLE
    status = SyncState.objects.get(source="plex").as_status()
    assert status["error"].startswith("Cannot reach Plex")
    assert status["server_reachable"] is False
    assert Track.objects.count() == status["track_count"] == 150


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


def test_tracks_removed_while_paging_are_not_wrongly_deleted(fake_plex, monkeypatch):
    _sync()
    lib = fake_plex.library
    pages_seen = []

    from library.sources.plex import PlexSource

    real_track_pages = PlexSource.track_pages

    def shifting_pages(self, page_size):
        for page in real_track_pages(self, page_size):
            pages_seen.append(page)
            if len(pages_seen) == 1:
                lib.remove_tracks([int(page[0]["rating_key"])])
            yield page

    monkeypatch.setattr(PlexSource, "track_pages", shifting_pages)
    result = _sync(full=True)
    # One track was removed mid-sync, so the pages shifted: nothing is deleted now,
    # the next sync tidies up.
    assert result.removed == 0
    assert Track.objects.count() == 150
    monkeypatch.undo()
    assert _sync().removed == 1


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
