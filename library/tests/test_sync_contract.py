"""The contract every media server adapter keeps with the sync engine and playlist
saving, run once per fake server (the `server` fixture: Plex, then Jellyfin).
What only one server does is tested in that server's own files."""

from datetime import timedelta

import pytest
from django.utils import timezone

from library.fakes.plexdata import recording_mbid
from library.models import StagedTrack, SyncState, Track
from library.sources import SourceError
from library.sync import SyncFailed, sync
from library.vocab import ErrorKind, Phase

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

_COMPARED = [f.name for f in Track._meta.fields if f.name not in ("id", "updated_at")]


def _sync(server, full=False):
    return sync(server.name, full=full)


def _rows(server):
    return list(Track.objects.filter(source=server.name).order_by("rating_key").values(*_COMPARED))


def _cached(server):
    """The cache's rows, with the columns `server.expected` names."""
    expected = server.expected(server.fake.library)
    fields = list(next(iter(expected.values())))
    rows = Track.objects.filter(source=server.name).values("rating_key", *fields)
    return {row["rating_key"]: {f: row[f] for f in fields} for row in rows}


def _full_sync_rows(server):
    """What a full sync of a fresh cache makes of the library as it is now."""
    Track.objects.filter(source=server.name).delete()
    SyncState.objects.filter(source=server.name).update(track_count=0)
    _sync(server, full=True)
    return _rows(server)


def _once(action):
    """An on_track_page hook running `action(keys of the page)` after the first track page."""
    calls = []

    def hook(keys):
        if not calls:
            calls.append(keys)
            action(keys)

    return hook


# -- full syncs -------------------------------------------------------------------------------


def test_first_sync_caches_every_track_as_the_server_has_it(server):
    server.fake.reset_counts()
    result = _sync(server)
    assert (result.track_count, result.added, result.updated, result.removed) == (150, 150, 0, 0)
    assert _cached(server) == server.expected(server.fake.library)
    assert result.requests == server.fake.total_requests
    state = SyncState.objects.get(source=server.name)
    assert state.track_count == 150 and state.last_sync_at is not None and not state.is_syncing
    assert state.error == "" and not StagedTrack.objects.exists()


def test_tracks_cache_their_musicbrainz_recording_id_where_the_server_knows_it(server):
    _sync(server)
    ids = dict(Track.objects.filter(source=server.name).values_list("rating_key", "recording_mbid"))
    tagged = {server.key(k): recording_mbid(t) for k, t in server.fake.library.tracks.items()}
    assert ids == tagged
    # Most tracks have one; the rest (no id, or only other agents' or release-track ids) have "".
    assert 100 < sum(map(bool, ids.values())) < 150


def test_resync_applies_added_removed_and_changed_tracks(server):
    _sync(server)
    lib = server.fake.library
    added, removed = set(lib.add_tracks(7)), set(lib.remove_tracks(5))
    lib.change_tracks(4)
    result = _sync(server)
    # A removal may hit a track just added; count what the server ends up with.
    assert (result.added, result.removed) == (len(added - removed), len(removed - added))
    assert _cached(server) == server.expected(lib)


def test_unchanged_resync_rewrites_nothing(server):
    _sync(server)
    before = _rows(server)
    result = _sync(server)
    assert (result.added, result.updated, result.removed) == (0, 0, 0)
    assert _rows(server) == before


def test_server_change_replaces_the_cache_and_says_so(server):
    _sync(server)
    server.become_another_server()
    server.fake.library.remove_tracks(10)
    result = _sync(server)
    assert result.server_changed and (result.removed, result.added) == (150, 140)
    state = SyncState.objects.get(source=server.name)
    assert f"The {server.label} server changed" in state.notice
    assert Track.objects.filter(source=server.name).count() == 140


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("fail_after_pages", ErrorKind.BAD_RESPONSE),
        ("hang_after_pages", ErrorKind.TIMEOUT),
        ("drop_after_pages", ErrorKind.UNREACHABLE),
        ("malformed_after_pages", ErrorKind.BAD_RESPONSE),
    ],
)
def test_failed_sync_keeps_previous_tracks(server, fault, kind):
    _sync(server)
    before = _rows(server)
    server.fake.library.add_tracks(20)
    server.fake.library.remove_tracks(20)
    setattr(server.fake.faults, fault, server.fake.track_pages + 2)
    with pytest.raises(SyncFailed) as exc:
        _sync(server, full=True)
    assert exc.value.kind == kind
    assert _rows(server) == before
    assert not StagedTrack.objects.exists()
    state = SyncState.objects.get(source=server.name)
    assert (state.phase, state.error_kind, state.track_count) == (Phase.FAILED, kind, 150)
    status = state.as_status()
    assert status["error"] and not status["is_syncing"]
    assert server.secret not in state.error


def test_failed_first_sync_leaves_an_empty_cache_and_a_clear_error(server):
    server.fake.faults.fail_after_pages = 1
    with pytest.raises(SyncFailed):
        _sync(server)
    assert not Track.objects.filter(source=server.name).exists()
    assert "HTTP 500" in SyncState.objects.get(source=server.name).error


def test_unreachable_server_is_reported_and_cache_served(server):
    _sync(server)
    server.fake.stop()
    with pytest.raises(SyncFailed) as exc:
        _sync(server)
    assert exc.value.kind == ErrorKind.UNREACHABLE
    status = SyncState.objects.get(source=server.name).as_status()
    assert status["error"].startswith(f"Cannot reach {server.label}")
    assert status["server_reachable"] is False
    assert Track.objects.filter(source=server.name).count() == status["track_count"] == 150


# -- a library edited during a sync -----------------------------------------------------------


def test_tracks_deleted_and_added_during_a_sync_are_neither_skipped_nor_doubled(server):
    lib = server.fake.library
    at_start = set(lib.tracks)
    changes = {}

    def edit(keys):
        # Deleting tracks already read shifts every later page down; new tracks come last.
        changes["removed"] = lib.remove_tracks(keys[:10])
        changes["added"] = lib.add_tracks(5)

    server.fake.on_track_page = _once(edit)
    _sync(server)
    cached = set(Track.objects.filter(source=server.name).values_list("rating_key", flat=True))
    assert {server.key(k) for k in at_start - set(changes["removed"])} <= cached  # none skipped
    assert {server.key(k) for k in changes["added"]} <= cached
    server.fake.on_track_page = None
    result = _sync(server, full=True)
    assert result.removed == len(cached & {server.key(k) for k in changes["removed"]})
    assert result.added == 0
    assert _cached(server) == server.expected(lib)


def test_tracks_removed_while_paging_are_not_wrongly_deleted(server):
    _sync(server)
    server.fake.on_track_page = _once(lambda keys: server.fake.library.remove_tracks(keys[:1]))
    result = _sync(server, full=True)
    # One track went mid-sync, so the pages shifted: nothing is deleted now, the next sync tidies up.
    assert result.removed == 0
    assert Track.objects.filter(source=server.name).count() == 150
    server.fake.on_track_page = None
    assert _sync(server).removed == 1


# -- incremental syncs ------------------------------------------------------------------------


@pytest.fixture
def synced(server):
    """The server, once synced; later changes get later dates than that sync saw, as in life."""
    _sync(server)
    clock = iter(range(2_000_000_000, 3_000_000_000, 10))
    server.fake.library.clock = lambda: next(clock)
    server.fake.reset_counts()
    return server


def test_second_sync_is_incremental_and_equals_a_full_sync(synced):
    lib = synced.fake.library
    added, removed = set(lib.add_tracks(6)), set(lib.remove_tracks(4))
    lib.change_tracks(5)
    result = _sync(synced)
    assert result.mode == "incremental"
    assert (result.added, result.removed) == (len(added - removed), len(removed - added))
    assert _rows(synced) == _full_sync_rows(synced)


def test_failed_incremental_sync_keeps_the_cache(synced):
    before = _rows(synced)
    synced.fake.library.change_tracks(10)
    synced.fake.faults.fail_after_pages = synced.fake.track_pages + 1
    with pytest.raises(SyncFailed):
        _sync(synced)
    assert _rows(synced) == before


def test_full_flag_and_old_full_sync_force_a_full_sync(synced, settings):
    assert _sync(synced, full=True).mode == "full"
    long_ago = timezone.now() - timedelta(days=settings.SYNC_FULL_EVERY_DAYS + 1)
    SyncState.objects.filter(source=synced.name).update(last_full_sync_at=long_ago)
    assert _sync(synced).mode == "full"
    assert _sync(synced).mode == "incremental"


# -- playlists --------------------------------------------------------------------------------


def test_create_writes_the_tracks_in_order(server):
    keys = server.keys(120)[::-1]
    saved = server.adapter.from_settings().save_playlist("Road trip ✈", keys)
    assert server.contents(saved.id) == keys
    assert (saved.title, saved.added, saved.removed) == ("Road trip ✈", 120, 0)
    assert saved.url.startswith(server.fake.url + "/web/")
    offered = server.adapter.from_settings().list_playlists()
    assert [(p.id, p.title, p.item_count, p.writable) for p in offered] == [
        (saved.id, "Road trip ✈", 120, True)
    ]


def test_replace_keeps_the_playlist_and_swaps_its_contents(server):
    adapter = server.adapter.from_settings()
    first = adapter.save_playlist("Mix", server.keys(20))
    new = server.keys(30)[10:][::-1]  # half of it was in the playlist already
    saved = adapter.save_playlist("Mix", new, mode="replace", playlist_id=first.id)
    assert saved.id == first.id
    assert server.contents(first.id) == new
    assert (saved.added, saved.removed) == (10, 10)  # the ten tracks both share are kept


def test_append_adds_only_what_is_missing(server):
    adapter = server.adapter.from_settings()
    first = adapter.save_playlist("Mix", server.keys(10))
    saved = adapter.save_playlist("Mix", server.keys(15), mode="append", playlist_id=first.id)
    assert server.contents(first.id) == server.keys(15)
    assert (saved.added, saved.removed) == (5, 0)


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_failed_save_takes_back_what_it_changed(server, mode):
    adapter = server.adapter.from_settings()
    old = server.keys(30)[::-1]
    first = adapter.save_playlist("Mix", old)
    adapter.max_url_chars = 400  # about ten ids an add
    server.fake.faults.fail_playlist_adds_after = 1
    with pytest.raises(SourceError) as exc:
        adapter.save_playlist("Mix", server.keys(100), mode=mode, playlist_id=first.id)
    assert exc.value.kind == ErrorKind.BAD_RESPONSE
    assert server.contents(first.id) == old


def test_an_unknown_save_mode_is_refused_before_asking_the_server(server):
    adapter = server.adapter.from_settings()
    server.fake.reset_counts()
    with pytest.raises(ValueError, match="unknown playlist mode 'sync'"):
        adapter.save_playlist("Mix", server.keys(3), mode="sync")
    assert server.fake.total_requests == 0


def test_saving_to_a_missing_playlist_or_an_unreachable_server_says_so(server):
    adapter = server.adapter.from_settings()
    with pytest.raises(SourceError) as exc:
        adapter.save_playlist("Mix", server.keys(3), mode="append", playlist_id="7" * 32)
    assert exc.value.kind == ErrorKind.NOT_FOUND
    server.fake.stop()
    with pytest.raises(SourceError) as exc:
        server.adapter.from_settings().save_playlist("Mix", server.keys(3))
    assert exc.value.kind == ErrorKind.UNREACHABLE
