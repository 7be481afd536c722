"""The Jellyfin adapter and what only Jellyfin does, against the fake Jellyfin over real
HTTP. What every server does is in test_sync_contract.py."""

import time

import pytest

from library.fakes.jellyfin import FakeUser, file_tags, item_id
from library.models import SyncState, Track
from library.sources import SourceError
from library.sources.jellyfin import JellyfinSource
from library.sync import sync
from library.tests.servers import jellyfin_rows, jellyfin_track

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def jellyfin(fake_jellyfin):
    return JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, timeout=1)


def _keys(fake, n):
    return [item_id(k) for k in list(fake.library.tracks)[:n]]


def _contents(fake, playlist_id):
    return fake.playlists[playlist_id].items


def _pages(n, size=40):
    return -(-n // size)


# -- connecting -------------------------------------------------------------------------------


def test_connect_acts_for_the_first_administrator_and_finds_the_music_library(jellyfin, fake_jellyfin):
    fake_jellyfin.users = [
        FakeUser("Kid"),
        FakeUser("Gone", is_admin=True, is_disabled=True),
        FakeUser("Boss", True),
    ]
    info = jellyfin.connect()
    assert (info.server_id, info.server_name, info.library_title) == (
        fake_jellyfin.server_id,
        fake_jellyfin.server_name,
        "Music",
    )
    assert jellyfin.request_count == fake_jellyfin.total_requests == 3  # public info, users, views
    tracks = [t for page in jellyfin.track_pages(200) for t in page]
    assert any(t["user_rating"] == 10 for t in tracks)  # the Boss's favourites, not the Kid's none


@pytest.mark.parametrize(
    "views, library, title",
    [
        ([("Tunes", "music"), ("Movies", "movies")], "", "Tunes"),  # the only music library
        ([("Tunes", "music"), ("Music", "music")], "", "Music"),
        ([("Tunes", "music"), ("Music", "music")], " tunes ", "Tunes"),
    ],
)
def test_library_choice(fake_jellyfin, views, library, title):
    fake_jellyfin.views = views
    assert (
        JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, library=library, timeout=1)
        .connect()
        .library_title
        == title
    )


@pytest.mark.parametrize(
    "views, library, message",
    [
        ([("Tunes", "music"), ("Audiobooks", "music")], "", "Set JELLYFIN_LIBRARY .*'Tunes', 'Audiobooks'"),
        ([("Music", "music")], "Jazz", "no music library named 'Jazz' .*'Music'"),
        ([("Movies", "movies")], "", "music libraries: none"),
    ],
)
def test_no_library_to_choose_names_the_choices(fake_jellyfin, views, library, message):
    fake_jellyfin.views = views
    with pytest.raises(SourceError, match=message) as exc:
        JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, library=library, timeout=1).connect()
    assert exc.value.kind == "not_found"


def test_a_configured_user_skips_discovery_and_an_unknown_one_is_not_found(fake_jellyfin):
    source = JellyfinSource(
        fake_jellyfin.url, fake_jellyfin.api_key, user_id=fake_jellyfin.users[0].id, timeout=1
    )
    source.connect()
    assert fake_jellyfin.requests[("GET", "/Users")] == 0
    with pytest.raises(SourceError, match="no libraries for user") as exc:
        JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, user_id="9" * 32, timeout=1).connect()
    assert exc.value.kind == "not_found"
    fake_jellyfin.users = [FakeUser("Kid")]
    with pytest.raises(SourceError, match="JELLYFIN_USER_ID") as exc:
        JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, timeout=1).connect()
    assert exc.value.kind == "not_found"


# -- reading tracks ---------------------------------------------------------------------------


def test_tracks_map_to_the_cache_columns(jellyfin, fake_jellyfin):
    jellyfin.connect()
    jellyfin.prepare(40)  # nothing to do
    fake_jellyfin.reset_counts()
    assert jellyfin.count_tracks() == 150
    pages = list(jellyfin.track_pages(40))
    assert [len(p) for p in pages] == [40, 40, 40, 30]
    tracks = {t["rating_key"]: t for page in pages for t in page}
    lib = fake_jellyfin.library
    assert tracks == {item_id(key): jellyfin_track(lib, t) for key, t in lib.tracks.items()}
    # One request per page, plus the count; genres and years came with the tracks.
    assert jellyfin.request_count - 3 == fake_jellyfin.total_requests == 1 + 4
    assert fake_jellyfin.track_pages == 4
    assert sum(t["user_rating"] == 10 for t in tracks.values()) > 10


def test_pages_stay_in_a_stable_order_with_new_tracks_last(jellyfin, fake_jellyfin):
    before = [t["rating_key"] for page in jellyfin.track_pages(40) for t in page]
    added = fake_jellyfin.library.add_tracks(5)
    after = [t["rating_key"] for page in jellyfin.track_pages(40) for t in page]
    assert after[:150] == before and set(after[150:]) == {item_id(k) for k in added}


@pytest.mark.parametrize(
    "fault, value, kind, requests",
    [
        ("fail_after_pages", 1, "bad_response", 2),  # 500: retried once
        ("drop_after_pages", 1, "unreachable", 2),  # a dropped connection: retried once
        ("hang_after_pages", 1, "timeout", 2),
        ("malformed_after_pages", 1, "bad_response", 1),  # not retried: it would come back the same
        ("status", 401, "unauthorized", 1),
        ("status", 403, "unauthorized", 1),
        ("status", 404, "not_found", 1),
        ("status", 400, "bad_response", 1),
        ("status", 503, "bad_response", 2),
    ],
)
def test_each_fault_becomes_a_source_error(jellyfin, fake_jellyfin, fault, value, kind, requests):
    jellyfin.connect()
    before = jellyfin.request_count
    pages = jellyfin.track_pages(40)
    if fault != "status":
        next(pages)
        before += 1
    setattr(fake_jellyfin.faults, fault, value)
    with pytest.raises(SourceError) as exc:
        next(pages)
    assert exc.value.kind == kind
    assert jellyfin.request_count - before == requests
    assert (
        fake_jellyfin.api_key not in exc.value.message
        and fake_jellyfin.url.split("//")[1] in exc.value.message
    )


def test_an_unreachable_or_keyless_server(fake_jellyfin):
    with pytest.raises(SourceError, match="JELLYFIN_API_KEY") as exc:
        JellyfinSource(fake_jellyfin.url, "wrong", timeout=1).connect()
    assert exc.value.kind == "unauthorized"
    fake_jellyfin.stop()
    source = JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, timeout=1)
    with pytest.raises(SourceError) as exc:
        source.connect()
    assert (exc.value.kind, source.request_count) == ("unreachable", 2)


def test_the_modern_auth_header_is_enough(jellyfin, fake_jellyfin):
    fake_jellyfin.legacy_auth = False  # as in Jellyfin 12
    jellyfin.connect()
    assert jellyfin.count_tracks() == 150


# -- playlists --------------------------------------------------------------------------------


def test_create_writes_the_tracks_in_order_in_one_request(jellyfin, fake_jellyfin):
    fake_jellyfin.library.add_tracks(400)
    keys = _keys(fake_jellyfin, 500)[::-1]
    saved = jellyfin.save_playlist("Road trip ✈", keys)
    assert _contents(fake_jellyfin, saved.id) == keys
    assert fake_jellyfin.playlists[saved.id].name == "Road trip ✈"
    assert (saved.added, saved.removed) == (500, 0)
    # users (to act for someone), then the create: the ids travel in the body
    assert fake_jellyfin.total_requests == saved.requests == 2
    assert saved.url == f"{fake_jellyfin.url}/web/#/details?id={saved.id}"
    assert [(p.id, p.title, p.item_count) for p in jellyfin.list_playlists()] == [
        (saved.id, "Road trip ✈", 500)
    ]


def test_append_adds_only_what_is_missing_in_url_sized_chunks(jellyfin, fake_jellyfin, monkeypatch):
    fake_jellyfin.library.add_tracks(400)
    first = jellyfin.save_playlist("Mix", _keys(fake_jellyfin, 10))
    monkeypatch.setattr(fake_jellyfin, "max_url_length", 6500)  # an unchunked add would get 414
    fake_jellyfin.reset_counts()
    saved = jellyfin.save_playlist("Mix", _keys(fake_jellyfin, 550), mode="append", playlist_id=first.id)
    assert _contents(fake_jellyfin, first.id) == _keys(fake_jellyfin, 550)
    assert (saved.added, saved.removed) == (540, 0)
    adds = fake_jellyfin.requests[("POST", "/Playlists/{id}/Items")]
    assert adds == 4  # 540 ids, 171 a request
    assert saved.requests == fake_jellyfin.total_requests == 1 + adds  # read the playlist, then add


def test_replace_keeps_the_playlist_and_the_tracks_old_and_new_share(jellyfin, fake_jellyfin):
    first = jellyfin.save_playlist("Mix", _keys(fake_jellyfin, 20))
    new = _keys(fake_jellyfin, 30)[10:][::-1]  # half of it was in the playlist already
    fake_jellyfin.reset_counts()
    saved = jellyfin.save_playlist("Mix", new, mode="replace", playlist_id=first.id)
    assert saved.id == first.id
    assert _contents(fake_jellyfin, first.id) == new
    assert (saved.added, saved.removed) == (10, 10)
    assert fake_jellyfin.requests == {
        ("GET", "/Playlists/{id}/Items"): 1,
        ("DELETE", "/Playlists/{id}/Items"): 1,  # in bulk
        ("POST", "/Playlists/{id}/Items"): 1,
    }


def test_replace_on_a_server_that_refuses_entry_removal_changes_nothing(jellyfin, fake_jellyfin):
    first = jellyfin.save_playlist("Mix", _keys(fake_jellyfin, 10))
    fake_jellyfin.api_key_removes_entries = False  # as Jellyfin 10.10 does
    with pytest.raises(SourceError, match="do not let an API key remove playlist entries") as exc:
        jellyfin.save_playlist("Mix", _keys(fake_jellyfin, 20)[5:], mode="replace", playlist_id=first.id)
    assert exc.value.kind == "bad_response"
    assert _contents(fake_jellyfin, first.id) == _keys(fake_jellyfin, 10)
    assert fake_jellyfin.requests[("POST", "/Playlists/{id}/Items")] == 0


# -- the sync engine --------------------------------------------------------------------------


def _sync(fake, full=False):
    adapter = JellyfinSource(fake.url, fake.api_key, timeout=1)
    return sync("jellyfin", adapter=adapter, full=full)


def _cached():
    columns = [
        f.column for f in Track._meta.concrete_fields if f.column not in ("id", "source", "updated_at")
    ]
    return {t["rating_key"]: t for t in Track.objects.filter(source="jellyfin").values(*columns)}


def test_full_sync_caches_every_track_as_jellyfin_has_it(fake_jellyfin):
    result = _sync(fake_jellyfin)
    assert (result.track_count, result.added, result.updated, result.removed) == (150, 150, 0, 0)
    assert _cached() == jellyfin_rows(fake_jellyfin.library)
    # public info, users, views, the count before and after, and one request per page
    assert result.requests == fake_jellyfin.total_requests == 5 + _pages(150)
    state = SyncState.objects.get(source="jellyfin")
    assert (state.server_id, state.library_title, state.track_count) == (
        fake_jellyfin.server_id,
        "Music",
        150,
    )
    assert not state.is_syncing and state.error == ""


@pytest.fixture
def synced(fake_jellyfin):
    """The fake, once synced; later changes get later dates than that sync saw, as in life."""
    _sync(fake_jellyfin)
    clock = iter(range(2_000_000_000, 3_000_000_000, 10))
    fake_jellyfin.library.clock = lambda: next(clock)
    fake_jellyfin.reset_counts()
    return fake_jellyfin


def _full_sync_rows(fake):
    """What a full sync makes of the library as it is now."""
    Track.objects.filter(source="jellyfin").delete()
    SyncState.objects.filter(source="jellyfin").update(track_count=0)
    _sync(fake, full=True)
    return _cached()


def test_an_unchanged_library_costs_a_few_requests(synced):
    result = _sync(synced)
    assert (result.mode, result.added, result.updated, result.removed) == ("incremental", 0, 0, 0)
    # public info, users, views, two counts, saved since, played since, favourites: the
    # count equal to the cache's shows that nothing went, without listing a key
    assert result.requests == synced.total_requests == 8


def _untouched(lib, n):
    """n tracks that are neither favourites nor played."""
    return [t for t in lib.tracks.values() if t.user_rating is None and not t.view_count][:n]


def test_an_incremental_sync_finds_every_kind_of_change_cheaply(synced):
    lib = synced.library
    edited, favourited, played = _untouched(lib, 3)
    edited.title, edited.updated_at = "Retitled", int(lib.clock())
    # Jellyfin keeps favourites and plays as user data: they leave DateLastSaved alone.
    favourited.user_rating = 9.0
    played.view_count, played.last_viewed_at = 1, int(lib.clock())
    (added,) = lib.add_tracks(1)
    (removed,) = lib.remove_tracks(1)
    result = _sync(synced)
    assert (result.mode, result.added, result.updated, result.removed) == ("incremental", 1, 3, 1)
    # as cheap as an unchanged library: each change listing fits in one page
    assert result.requests == synced.total_requests == 10
    rows = _cached()
    assert rows[item_id(edited.rating_key)]["title"] == "Retitled"
    assert rows[item_id(favourited.rating_key)]["user_rating"] == 10
    assert rows[item_id(played.rating_key)]["play_count"] == 1
    assert item_id(added) in rows and item_id(removed) not in rows
    assert rows == _full_sync_rows(synced)


def test_favourited_track_is_found_by_an_incremental_sync(synced):
    (track,) = _untouched(synced.library, 1)
    track.user_rating = 10.0  # no save: DateLastSaved does not move
    result = _sync(synced)
    assert (result.mode, result.updated) == ("incremental", 1)
    assert Track.objects.get(rating_key=item_id(track.rating_key)).user_rating == 10


def test_an_unfavourited_track_is_corrected_by_the_next_full_sync(synced):
    track = next(t for t in synced.library.tracks.values() if (t.user_rating or 0) >= 8)
    track.user_rating = None
    assert _sync(synced).mode == "incremental"
    # No listing shows a track that stopped being a favourite: a full sync catches it.
    assert Track.objects.get(rating_key=item_id(track.rating_key)).user_rating == 10
    _sync(synced, full=True)
    assert Track.objects.get(rating_key=item_id(track.rating_key)).user_rating is None


def test_a_server_clock_hours_behind_ours_still_finds_changes(fake_jellyfin):
    lib = fake_jellyfin.library
    lib.clock = lambda: time.time() - 6 * 3600  # what the server stamps, and sends as its Date
    _sync(fake_jellyfin)
    (track,) = lib.change_tracks(1)
    lib.tracks[track].title = "Edited on a slow clock"
    assert _sync(fake_jellyfin).mode == "incremental"
    assert Track.objects.get(rating_key=item_id(track)).title == "Edited on a slow clock"


# -- what real items hold ---------------------------------------------------------------------


def _synced_rows(fake):
    _sync(fake)
    return _cached()


def _tracks_where(fake, test):
    lib = fake.library
    return [(t, file_tags(lib, t)) for t in lib.tracks.values() if test(t, file_tags(lib, t))]


def test_every_credited_artist_is_cached_and_shown_joined(fake_jellyfin):
    rows = _synced_rows(fake_jellyfin)
    several = _tracks_where(fake_jellyfin, lambda t, tags: len(tags.artists) >= 2)
    assert {len(tags.artists) for _, tags in several} == {2, 3}
    for t, tags in several:
        row = rows[item_id(t.rating_key)]
        assert row["artists"] == tags.artists
        # As Jellyfin's web client shows them: "Anna Müller, Tim Wheeler, Nils Frahm"
        assert row["artist"] == ", ".join(tags.artists)
        assert row["album_artist"] == (tags.album_artist or tags.artists[0])


def test_loose_files_untagged_tracks_and_track_zero_are_cached_sensibly(fake_jellyfin):
    rows = _synced_rows(fake_jellyfin)
    lib = fake_jellyfin.library
    for t, tags in _tracks_where(fake_jellyfin, lambda t, tags: tags.album_id is None):
        row = rows[item_id(t.rating_key)]
        assert (row["album"], row["album_key"]) == ("", "")
        assert row["album_artist"] == (tags.artists or [""])[0]  # the first credited artist stands in
    for t, _ in _tracks_where(fake_jellyfin, lambda t, tags: not tags.artists and tags.album_artist):
        row = rows[item_id(t.rating_key)]
        assert row["artist"] == row["album_artist"] == lib.artists[t.artist_key].title
        assert row["artists"] == [row["artist"]]
    (nobody,) = _tracks_where(fake_jellyfin, lambda t, tags: not tags.artists and not tags.album_artist)
    row = rows[item_id(nobody[0].rating_key)]
    assert (row["artist"], row["artists"], row["album_artist"]) == ("", [], "")
    zero = _tracks_where(fake_jellyfin, lambda t, tags: tags.index == 0)
    assert zero and all(rows[item_id(t.rating_key)]["track_number"] is None for t, _ in zero)


def test_explicit_nulls_in_every_field_never_crash_a_sync(fake_jellyfin):
    fake_jellyfin.edit_items = lambda item: {k: None for k in item} | {"Id": item["Id"]}
    result = _sync(fake_jellyfin)
    assert result.track_count == 150
    row = next(iter(_cached().values()))
    assert (row["title"], row["artist"], row["artists"], row["album_artist"], row["album"]) == (
        "",
        "",
        [],
        "",
        "",
    )
    assert (row["track_number"], row["duration_ms"], row["genres"]) == (None, None, [])
    assert (row["user_rating"], row["play_count"], row["added_at"]) == (None, 0, None)


def test_credits_are_kept_in_order_once_each_without_blanks_or_non_names(fake_jellyfin):
    credits = [None, "Emmy the Great", " ", 7, {"Name": "x"}, "Tim Wheeler ", "emmy the great", ""]
    fake_jellyfin.edit_items = lambda item: item | {"Artists": credits}
    row = next(iter(_synced_rows(fake_jellyfin).values()))
    assert row["artists"] == ["Emmy the Great", "Tim Wheeler"]
    assert row["artist"] == "Emmy the Great, Tim Wheeler"


MBID = "5f1a7a4c-9b0e-4c11-8f0a-3d2c1b0a9e8f"


@pytest.mark.parametrize(
    ("provider_ids", "cached"),
    [
        ({"MusicBrainzRecording": MBID.upper(), "MusicBrainzTrack": "0" * 8 + MBID[8:]}, MBID),
        # A release track id names a track on one release, not the recording.
        ({"MusicBrainzTrack": MBID, "MusicBrainzAlbum": MBID}, ""),
        ({"MusicBrainzRecording": "not an id"}, ""),
        ({}, ""),
        (None, ""),
        ([MBID], ""),
    ],
)
def test_recording_id_is_read_from_provider_ids_musicbrainz_recording_only(
    fake_jellyfin, provider_ids, cached
):
    fake_jellyfin.edit_items = lambda item: item | {"ProviderIds": provider_ids}
    rows = _synced_rows(fake_jellyfin)
    assert {row["recording_mbid"] for row in rows.values()} == {cached}


@pytest.mark.postgres
def test_a_nul_character_in_a_tag_is_dropped_rather_than_failing_the_sync(fake_jellyfin):
    # JSON can carry \u0000, and PostgreSQL refuses it in text and in jsonb.
    def with_nul(item):
        return item | {"Name": item["Name"] + "\x00", "Genres": [f"Rock\x00{g}" for g in item["Genres"]]}

    fake_jellyfin.edit_items = with_nul
    assert sync("jellyfin").track_count == 150
    tracks = Track.objects.filter(source="jellyfin")
    assert not any("\x00" in t.title or "\x00" in "".join(t.genres) for t in tracks)
    assert all(g.startswith("Rock") for t in tracks for g in t.genres)
