"""The fake Jellyfin server, driven with plain requests over real HTTP."""

import json
import time
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from library.fakes.jellyfin import FakeJellyfinServer, FakeLibrary, FakeUser, file_tags, item_id
from library.fakes.plexdata import EPOCH, recording_mbid

KEY = "f00dfeed" * 4
AUTH = {
    "Authorization": f'MediaBrowser Token="{KEY}", Client="pytest", Device="a, b", DeviceId="1", Version="0"'
}
ITEMS = ("GET", "/Items")


@pytest.fixture(scope="module")
def shared_server():
    with FakeJellyfinServer(library=FakeLibrary(tracks=300, seed=5), api_key=KEY) as server:
        yield server


@pytest.fixture
def server(shared_server):
    """The module's server, with no faults, no playlists and fresh counters."""
    shared_server.faults.reset()
    shared_server.reset_counts()
    shared_server.playlists.clear()
    return shared_server


def _call(server, method, path, headers=AUTH, timeout=5, **kwargs):
    return requests.request(method, server.url + path, headers=headers, timeout=timeout, **kwargs)


def _get(server, path, **params):
    return _call(server, "GET", path, params=params)


def _admin(server):
    return server.users[0].id


def _music(server):
    views = _get(server, "/UserViews", userId=_admin(server)).json()["Items"]
    return next(v["Id"] for v in views if v["CollectionType"] == "music")


def _tracks(server, **params):
    query = {
        "userId": _admin(server),
        "ParentId": _music(server),
        "IncludeItemTypes": "Audio",
        "Recursive": "true",
    }
    return _get(server, "/Items", **query | params)


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _nulls(value, path=""):
    """The paths of the nulls in a JSON value."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nulls(v, f"{path}[{i}]")]
    return []


def test_discovery_endpoints(server):
    info = requests.get(server.url + "/System/Info/Public", timeout=5).json()  # no key needed
    assert (info["Id"], info["ServerName"], info["ProductName"]) == (
        server.server_id,
        server.server_name,
        "Jellyfin Server",
    )
    assert info["Version"].startswith("10.")
    users = _get(server, "/Users").json()
    assert [(u["Name"], u["Policy"]["IsAdministrator"]) for u in users] == [
        ("Admin", True),
        ("Family", False),
    ]
    assert all(len(u["Id"]) == 32 for u in users)
    assert _get(server, "/Users/Me").status_code == 400  # an API key is not a user
    assert _get(server, "/UserViews").status_code == 400  # so it must name one
    assert _get(server, "/UserViews", userId="0" * 32).status_code == 404
    views = _get(server, "/UserViews", userId=_admin(server)).json()
    assert [(v["Name"], v["CollectionType"], v["Type"]) for v in views["Items"]] == [
        ("Music", "music", "CollectionFolder"),
        ("Movies", "movies", "CollectionFolder"),
    ]


def test_audio_items_are_in_the_real_wire_format(server):
    lib = server.library
    data = _tracks(server, Fields="Genres,DateCreated", SortBy="DateCreated").json()
    assert (data["TotalRecordCount"], data["StartIndex"], len(data["Items"])) == (300, 0, 300)
    by_id = {item_id(k): t for k, t in lib.tracks.items()}
    for item in data["Items"]:
        t = by_id[item["Id"]]
        album, tags = lib.albums[t.album_key], file_tags(lib, t)
        assert (item["Type"], item["MediaType"], item["ServerId"]) == ("Audio", "Audio", server.server_id)
        assert (item["Name"], item.get("Album"), item.get("AlbumArtist")) == (
            t.title,
            tags.album,
            tags.album_artist,
        )
        assert (item.get("AlbumId"), item["Artists"]) == (tags.album_id, tags.artists)
        assert (item["IndexNumber"], item["ParentIndexNumber"]) == (tags.index, t.disc)
        assert item["RunTimeTicks"] == t.duration_ms * 10_000
        assert item.get("ProductionYear") == album.year
        assert item["Genres"] == (t.genres or album.genres)  # the file's own tags
        assert item["DateCreated"] == _iso(t.added_at)
        user_data = item["UserData"]
        assert user_data["IsFavorite"] == ((t.user_rating or 0) >= 8)
        assert (user_data["PlayCount"], user_data["Played"]) == (t.view_count, t.view_count > 0)
        assert user_data.get("LastPlayedDate") == (_iso(t.last_viewed_at) if t.view_count else None)
    assert [i["Id"] for i in data["Items"]] == [
        item_id(k) for k in sorted(lib.tracks, key=lambda k: lib.tracks[k].added_at)
    ]
    text = json.dumps(data, ensure_ascii=False)
    for needle in ("&", "'", "/", "坂本龍一", "Björk", "Кино"):  # "<" needs no escaping in JSON
        assert needle in text

    plain = _tracks(server, Limit=5).json()["Items"][0]  # fields only when asked
    assert not {"Genres", "GenreItems", "DateCreated"} & set(plain)
    other = _tracks(server, Limit=300, userId=server.users[1].id).json()["Items"]
    assert not any(i["UserData"]["IsFavorite"] or i["UserData"]["PlayCount"] for i in other)  # per user
    assert "UserData" not in _tracks(server, Limit=1, EnableUserData="false").json()["Items"][0]


def test_every_item_carries_the_null_channel_id_and_no_other_null(server):
    items = _tracks(server, Fields="Genres,DateCreated").json()["Items"]
    assert {tuple(_nulls(item)) for item in items} == {(".ChannelId",)}
    # Properties come in BaseItemDto's order, as Jellyfin serializes them.
    assert list(items[0])[:8] == [
        "Name",
        "ServerId",
        "Id",
        "DateCreated",
        "HasLyrics",
        "Container",
        "PremiereDate",
        "ChannelId",
    ]
    # Without images: no image tags, but Jellyfin still sends the empty blur hashes.
    slim = _tracks(server, Limit=1, EnableImages="false").json()["Items"][0]
    assert ("ImageTags" not in slim, slim["ImageBlurHashes"]) == (True, {})


def test_date_last_saved_is_never_sent_even_when_asked_for(server):
    items = _tracks(server, Fields="Genres,DateCreated,DateLastSaved").json()["Items"]
    assert len(items) == 300
    assert not any("DateLastSaved" in item for item in items)


def test_provider_ids_hold_the_recording_id_apart_from_the_release_track_id(server):
    assert "ProviderIds" not in _tracks(server, Limit=1).json()["Items"][0]  # only when asked
    items = _tracks(server, Fields="ProviderIds").json()["Items"]
    by_id = {item_id(k): t for k, t in server.library.tracks.items()}
    shapes = Counter()
    for item in items:
        ids = item["ProviderIds"]
        assert ids.get("MusicBrainzRecording", "") == recording_mbid(by_id[item["Id"]])
        assert "MusicBrainzTrack" not in ids or ids["MusicBrainzTrack"] != ids.get("MusicBrainzRecording")
        shapes[tuple(sorted(ids))] += 1
    # Most files carry both ids; of the rest, some a release track id alone, some none.
    assert shapes[("MusicBrainzRecording", "MusicBrainzTrack")] > 0.8 * len(items)
    assert shapes[("MusicBrainzTrack",)] and shapes[()]


def test_artists_credit_every_performer_and_artist_items_likewise(server):
    lib = server.library
    items = {i["Id"]: i for i in _tracks(server).json()["Items"]}
    credits = {}
    for key in lib.tracks:
        item = items[item_id(key)]
        assert [a["Name"] for a in item["ArtistItems"]] == item["Artists"]
        assert all(len(a["Id"]) == 32 for a in item["ArtistItems"])
        credits[key] = item["Artists"]
    featuring = [k for k, t in lib.tracks.items() if t.track_artist and " feat. " in t.track_artist]
    assert featuring and all(
        credits[k][:2] == lib.tracks[k].track_artist.split(" feat. ") for k in featuring if credits[k]
    )
    shapes = Counter(len(names) for names in credits.values())
    assert shapes[3] >= 10 and shapes[2] >= 3 and shapes[0] >= 5  # some three, some two, some none
    # The same library gives the same credits on every server.
    with FakeJellyfinServer(library=FakeLibrary(tracks=300, seed=5), api_key=KEY) as twin:
        again = {i["Id"]: i["Artists"] for i in _tracks(twin).json()["Items"]}
    assert again == {i: item["Artists"] for i, item in items.items()}


def test_compilation_tracks_credit_their_performer():
    lib = FakeLibrary(tracks=1000, seed=2)  # a seed whose first thousand tracks hold compilations
    with FakeJellyfinServer(library=lib, api_key=KEY) as server:
        items = _tracks(server).json()["Items"]
    compilation = [i for i in items if i.get("AlbumArtist") == "Various Artists"]
    assert len(compilation) >= 5
    performers = {item_id(k): t.track_artist for k, t in lib.tracks.items()}
    assert all(i["Artists"][0] == performers[i["Id"]] for i in compilation if i["Artists"])
    assert not any("Various Artists" in i["Artists"] for i in items)


def test_some_items_are_loose_files_or_have_track_number_zero(server):
    items = _tracks(server).json()["Items"]
    loose = [i for i in items if "AlbumId" not in i]
    assert 5 <= len(loose) <= 30
    assert all(not {"Album", "AlbumArtist"} & set(i) and i["AlbumArtists"] == [] for i in loose)
    assert all(i["AlbumId"] and i["Album"] and i["AlbumArtist"] for i in items if i not in loose)
    assert 5 <= sum(i["IndexNumber"] == 0 for i in items) <= 40


def test_the_date_header_follows_the_server_clock():
    lib = FakeLibrary(tracks=20, seed=3)
    lib.clock = lambda: EPOCH - 3600
    with FakeJellyfinServer(library=lib, api_key=KEY) as server:
        for response in (requests.get(server.url + "/System/Info/Public", timeout=5), _get(server, "/Users")):
            assert parsedate_to_datetime(response.headers["Date"]).timestamp() == EPOCH - 3600


def test_paging_sorting_and_parents(server):
    every = [i["Id"] for i in _tracks(server, SortBy="SortName").json()["Items"]]
    server.reset_counts()
    page = _tracks(server, SortBy="SortName", StartIndex=100, Limit=50).json()
    assert ([i["Id"] for i in page["Items"]], page["StartIndex"]) == (every[100:150], 100)
    assert _tracks(server, Limit=0).json() == {"Items": [], "TotalRecordCount": 300, "StartIndex": 0}
    assert server.track_pages == 1  # a count is not a page

    # Audio sort names lead with disc and track number, so SortName is not a unique order.
    names = [
        (i["ParentIndexNumber"], i["IndexNumber"]) for i in _tracks(server, SortBy="SortName").json()["Items"]
    ]
    assert names == sorted(names) and len(set(names)) < len(names)
    # Names and enum values bind without regard to case.
    lower = _get(
        server, "/items", userid=_admin(server), includeitemtypes="audio", recursive="TRUE", sortby="sortname"
    )
    assert [i["Id"] for i in lower.json()["Items"]] == every
    assert _tracks(server, SortBy="Bogus").status_code == 400
    assert _tracks(server, IncludeItemTypes="MusicAlbum").status_code == 400  # not faked: fail loudly

    assert _tracks(server, Recursive="false").json()["TotalRecordCount"] == 0
    movies = next(v["Id"] for v in _get(server, "/UserViews", userId=_admin(server)).json()["Items"][1:])
    assert _tracks(server, ParentId=movies).json()["TotalRecordCount"] == 0
    # An unknown parent falls back to the root folder, as Jellyfin's does.
    assert _tracks(server, ParentId="1" * 32).json()["TotalRecordCount"] == 300


def test_user_data_filters_and_sort(server):
    lib = server.library
    favourites = {item_id(k) for k, t in lib.tracks.items() if (t.user_rating or 0) >= 8}
    assert {i["Id"] for i in _tracks(server, IsFavorite="true").json()["Items"]} == favourites
    played = _tracks(server, IsPlayed="true", SortBy="DatePlayed", SortOrder="Descending").json()["Items"]
    dates = [i["UserData"]["LastPlayedDate"] for i in played]
    assert dates == sorted(dates, reverse=True)
    assert len(dates) == sum(t.view_count > 0 for t in lib.tracks.values())
    assert _tracks(server, IsFavorite="true", userId=server.users[1].id).json()["Items"] == []  # per user
    assert _tracks(server, IsFavorite="true", userId="").status_code == 400  # a user's data needs a user


def test_min_date_last_saved_filters_on_the_last_save():
    lib = FakeLibrary(tracks=200, seed=2)
    lib.clock = lambda: EPOCH + 1000
    with FakeJellyfinServer(library=lib, api_key=KEY) as server:
        added = lib.add_tracks(10)
        removed = lib.remove_tracks(15)
        changed = lib.change_tracks(5)
        ids = {i["Id"] for i in _tracks(server).json()["Items"]}
        assert ids == {item_id(k) for k in lib.tracks}
        since = _tracks(server, minDateLastSaved="2025-01-01T00:16:40Z").json()["Items"]  # EPOCH + 1000
        assert {i["Id"] for i in since} == {item_id(k) for k in set(added + changed) - set(removed)}
        assert _tracks(server, minDateLastSaved="yesterday").status_code == 400

        # A playlist no longer shows a track removed from the library.
        keys = [item_id(k) for k in list(lib.tracks)[:3]]
        body = {"Name": "Mix", "Ids": keys, "UserId": _admin(server)}
        playlist_id = _call(server, "POST", "/Playlists", json=body).json()["Id"]
        lib.remove_tracks(list(lib.tracks)[:1])
        listed = _get(server, f"/Playlists/{playlist_id}/Items", userId=_admin(server)).json()
        assert [i["Id"] for i in listed["Items"]] == keys[1:]


@pytest.mark.parametrize(
    "headers, params",
    [
        ({"Authorization": f'MediaBrowser Token="{KEY}"'}, {}),
        ({"Authorization": f"Emby Client=x, Token={KEY}"}, {}),  # bare values, any order
        ({"X-Emby-Authorization": f'MediaBrowser Token="{KEY}"'}, {}),
        ({"X-Emby-Token": KEY}, {}),
        ({"X-MediaBrowser-Token": KEY}, {}),
        ({}, {"ApiKey": KEY}),
        ({}, {"api_key": KEY}),
    ],
)
def test_every_auth_form_jellyfin_reads(server, headers, params):
    assert _call(server, "GET", "/Users", headers=headers, params=params).status_code == 200


def test_wrong_missing_or_legacy_keys_are_unauthorized(server, monkeypatch):
    assert _call(server, "GET", "/Users", headers={}).status_code == 401
    assert (
        _call(server, "GET", "/Users", headers={"Authorization": 'MediaBrowser Token="nope"'}).status_code
        == 401
    )
    assert _call(server, "GET", "/Users", headers={"Authorization": f"Bearer {KEY}"}).status_code == 401
    monkeypatch.setattr(server, "legacy_auth", False)  # Jellyfin 12's default
    assert _call(server, "GET", "/Users", headers={"X-Emby-Token": KEY}).status_code == 401
    assert _call(server, "GET", "/Users", headers={}, params={"api_key": KEY}).status_code == 401
    assert _call(server, "GET", "/Users", headers={}, params={"ApiKey": KEY}).status_code == 200
    assert _call(server, "GET", "/Users").status_code == 200
    assert _call(server, "GET", "/No/Such/Route").status_code == 404
    assert not any(KEY in part for route in server.requests for part in route)


def test_playlists(server):
    keys = [item_id(k) for k in list(server.library.tracks)[:6]]
    admin, family = (u.id for u in server.users)
    body = {"Name": "Road trip — “ünïcode” & <more>", "Ids": [*keys[:4], keys[0], "0" * 32], "UserId": admin}
    created = _call(server, "POST", "/Playlists", json=body | {"MediaType": "Audio"})
    playlist_id = created.json()["Id"]
    stored = server.playlists[playlist_id]
    assert (stored.name, stored.owner_id, stored.items) == (
        body["Name"],
        admin,
        keys[:4],
    )  # no dups, no unknowns
    assert _call(server, "POST", "/Playlists", json={"Name": "x", "Ids": keys}).status_code == 400  # no user

    items = f"/Playlists/{playlist_id}/Items"
    added = _call(server, "POST", items, params={"ids": ",".join(keys[2:]), "userId": admin})
    assert (added.status_code, stored.items) == (204, keys)  # keys[2:4] were there already
    assert _call(server, "POST", items, params={"ids": keys[0], "userId": family}).status_code == 403

    listed = _get(server, items, userId=admin).json()
    assert [(i["Id"], i["PlaylistItemId"]) for i in listed["Items"]] == [(k, k) for k in keys]
    assert listed["TotalRecordCount"] == 6
    assert _get(server, items).status_code == 400  # 10.11 wants a user with an API key
    assert _get(server, f"/Playlists/{'2' * 32}/Items", userId=admin).status_code == 404

    gone = _call(server, "DELETE", items, params={"entryIds": f"{keys[1]},{keys[3]}"})
    assert (gone.status_code, stored.items) == (204, [keys[0], keys[2], keys[4], keys[5]])
    playlists = _get(server, "/Items", userId=admin, IncludeItemTypes="Playlist", Recursive="true").json()
    assert [(p["Id"], p["Type"], p["MediaType"], p["ChildCount"]) for p in playlists["Items"]] == [
        (playlist_id, "Playlist", "Audio", 4)
    ]
    assert _get(server, "/Items", userId=family, IncludeItemTypes="Playlist").json()["Items"] == []

    server.api_key_removes_entries = False  # Jellyfin 10.10
    try:
        assert _call(server, "DELETE", items, params={"entryIds": keys[0]}).status_code == 400
    finally:
        server.api_key_removes_entries = True
    assert _call(server, "DELETE", f"/Items/{playlist_id}").status_code == 204
    assert server.playlists == {}
    assert _call(server, "DELETE", f"/Items/{playlist_id}").status_code == 404
    assert {route: n for route, n in server.requests.items() if "Playlists" in route[1]} == {
        ("POST", "/Playlists"): 2,
        ("POST", "/Playlists/{id}/Items"): 2,
        ("GET", "/Playlists/{id}/Items"): 3,
        ("DELETE", "/Playlists/{id}/Items"): 2,
    }


def _playlist(server, n):
    keys = [item_id(k) for k in list(server.library.tracks)[:n]]
    body = {"Name": "Mix", "Ids": keys, "UserId": server.users[0].id}
    return _call(server, "POST", "/Playlists", json=body).json()["Id"], keys


def test_an_api_key_may_not_move_playlist_entries(server):
    playlist_id, keys = _playlist(server, 3)
    moved = _call(server, "POST", f"/Playlists/{playlist_id}/Items/{keys[0]}/Move/2")
    assert moved.status_code == 400  # "Guid can't be empty": Move acts for the calling user
    assert server.playlists[playlist_id].items == keys


def test_moving_an_entry_puts_it_at_that_index_as_jellyfin_does(server, monkeypatch):
    monkeypatch.setattr(server, "api_key_moves_entries", True)  # as for a user's session
    playlist_id, k = _playlist(server, 5)
    stored = server.playlists[playlist_id]

    def move(entry, index):
        return _call(server, "POST", f"/Playlists/{playlist_id}/Items/{entry}/Move/{index}").status_code

    assert (move(k[0], 2), stored.items) == (204, [k[1], k[2], k[0], k[3], k[4]])
    assert (move(k[4], 0), stored.items) == (204, [k[4], k[1], k[2], k[0], k[3]])
    assert (move(k[1], 5), stored.items) == (204, [k[4], k[2], k[0], k[3], k[1]])  # past the end: last
    assert move(k[2], 7) == 500  # further still: Jellyfin indexes out of range (jellyfin#17066)
    assert stored.items == [k[4], k[2], k[0], k[3], k[1]]


def test_a_playlist_overview_is_set_by_posting_the_whole_item_back(server):
    playlist_id, _ = _playlist(server, 2)
    admin = server.users[0].id
    item = _get(server, f"/Items/{playlist_id}", userId=admin).json()
    assert "Overview" not in item  # none yet: Jellyfin leaves nulls out
    assert (item["Tags"], item["ProviderIds"]) == ([], {})
    # ItemUpdateController sets every field from the body: a partial one fails or clears.
    assert _call(server, "POST", f"/Items/{playlist_id}", json={"Overview": "x"}).status_code == 400
    posted = _call(server, "POST", f"/Items/{playlist_id}", json=item | {"Overview": "Rainy jazz."})
    assert posted.status_code == 204
    shown = _get(server, f"/Items/{playlist_id}", userId=admin).json()
    assert (shown["Name"], shown["Overview"]) == ("Mix", "Rainy jazz.")
    assert server.playlists[playlist_id].overview == "Rainy jazz."


def test_over_long_request_lines_get_414(server):
    ids = ",".join(item_id(k) for k in server.library.tracks)  # 300 ids: over 8 KB
    assert _get(server, "/Items", ids=ids).status_code == 414


def test_fail_after_pages_answers_500_to_track_pages_only(server):
    server.faults.fail_after_pages = 2
    assert _tracks(server, Limit=10).status_code == 200
    assert _tracks(server, Limit=10, StartIndex=10).status_code == 200
    assert _tracks(server, Limit=10, StartIndex=20).status_code == 500
    assert server.track_pages == 2
    assert _tracks(server, Limit=0).json()["TotalRecordCount"] == 300  # counts still work
    server.faults.reset()
    assert len(_tracks(server, Limit=10, StartIndex=20).json()["Items"]) == 10


def test_drop_after_pages_closes_the_connection(server):
    server.faults.drop_after_pages = 0
    with pytest.raises(requests.ConnectionError):
        _tracks(server, Limit=10)


def test_malformed_after_pages_sends_broken_json(server):
    server.faults.malformed_after_pages = 0
    with pytest.raises(ValueError):
        _tracks(server, Limit=10).json()
    assert server.track_pages == 0


def test_hang_after_pages_times_the_client_out(server, monkeypatch):
    monkeypatch.setattr(server.faults, "hang_seconds", 3)
    server.faults.hang_after_pages = 0
    query = {"IncludeItemTypes": "Audio", "Recursive": "true", "Limit": 10}
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        _call(server, "GET", "/Items", params=query, timeout=0.3)
    assert time.monotonic() - started < 2


def test_status_fault_answers_everything_but_public_info(server):
    server.faults.status = 503
    assert _get(server, "/Users").status_code == 503
    assert requests.get(server.url + "/System/Info/Public", timeout=5).status_code == 200


def test_changed_server_id_and_users(server, monkeypatch):
    monkeypatch.setattr(server, "server_id", "e" * 32)
    assert requests.get(server.url + "/System/Info/Public", timeout=5).json()["Id"] == "e" * 32
    assert _tracks(server, Limit=1).json()["Items"][0]["ServerId"] == "e" * 32
    monkeypatch.setattr(server, "users", [FakeUser("Kid"), FakeUser("Boss", is_admin=True)])
    boss = server.users[1].id
    assert any(i["UserData"]["IsFavorite"] for i in _tracks(server, userId=boss).json()["Items"])
