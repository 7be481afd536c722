"""The fake Plex server, driven by the real plexapi client over real HTTP."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import ParseError

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from library.fakes.plex import LISTED_TAGS, FakeLibrary, FakePlexServer
from library.fakes.plexdata import EPOCH, STUDIO_TRAP_ALBUMS, STUDIO_TRAP_TITLES, recording_mbid

TRACKS = "/library/sections/3/all?type=10"
LISTING = ("GET", "/library/sections/{id}/all")


@pytest.fixture(scope="module")
def shared_server():
    with FakePlexServer(library=FakeLibrary(tracks=600, seed=5), token="t0ken") as server:
        yield server


@pytest.fixture
def server(shared_server):
    """The module's server, with no faults and fresh counters."""
    shared_server.faults.reset()
    shared_server.reset_counts()
    return shared_server


@pytest.fixture
def plex(server):
    return PlexServer(server.url, server.token, timeout=5)


@pytest.fixture(scope="module")
def big_library():
    return FakeLibrary(tracks=18432, seed=1)


def _page(plex, start=0, size=10, query=""):
    headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
    return plex.query(TRACKS + query, headers=headers)


def _keys(elements):
    return [int(el.attrib["ratingKey"]) for el in elements]


def test_connects_and_finds_the_music_section(server, plex):
    assert plex.machineIdentifier == "fakeplex-0001"
    assert plex.friendlyName and plex.version
    assert [s.type for s in plex.library.sections()] == ["movie", "artist"]
    music = plex.library.section("Music")
    assert (music.key, music.agent, music.locations) == (3, "tv.plex.agents.music", ["/data/music"])
    assert plex.identity().machineIdentifier == "fakeplex-0001"
    assert requests.get(server.url + "/identity", timeout=5).status_code == 200  # no token needed


def test_counts_without_items(server, plex):
    music = plex.library.section("Music")
    lib = server.library
    assert music.totalViewSize(libtype="track") == len(lib.tracks) == 600
    assert music.totalViewSize(libtype="album") == len(lib.albums)
    assert music.totalViewSize(libtype="artist") == len(lib.artists)
    assert server.track_pages == 0  # a count is not a page


def test_paged_search_fetches_exactly_one_page_per_request(server, plex):
    music = plex.library.section("Music")
    keys = _keys(plex.query(TRACKS))  # in Plex's default order
    for start in (0, 250, 570):
        before = server.requests[LISTING]
        page = music.search(libtype="track", container_start=start, container_size=100, maxresults=100)
        assert [t.ratingKey for t in page] == keys[start : start + 100]
        assert server.requests[LISTING] == before + 1
    assert server.track_pages == 4  # the whole listing, then three pages


def test_track_elements_are_in_the_real_wire_format(server, plex):
    lib = server.library
    data = plex.query(TRACKS)  # unpaged: everything
    assert data.attrib["size"] == data.attrib["totalSize"] == "600"
    assert data.attrib["offset"] == "0"
    for el in data:
        a = el.attrib
        t = lib.tracks[int(a["ratingKey"])]
        album, artist = lib.albums[t.album_key], lib.artists[t.artist_key]
        assert (el.tag, a["type"], a["key"]) == ("Track", "track", f"/library/metadata/{t.rating_key}")
        assert (a["parentRatingKey"], a["grandparentRatingKey"]) == (str(album.key), str(artist.key))
        assert (a["title"], a["parentTitle"], a["grandparentTitle"]) == (t.title, album.title, artist.title)
        assert a.get("originalTitle") == t.track_artist
        assert (a["index"], a["parentIndex"]) == (str(t.index), str(t.disc))
        assert "year" not in a
        assert a.get("parentYear") == (None if album.year is None else str(album.year))
        assert a.get("userRating") == (None if t.user_rating is None else f"{t.user_rating:.1f}")
        assert a.get("viewCount") == (str(t.view_count) if t.view_count else None)
        assert a.get("lastViewedAt") == (str(t.last_viewed_at) if t.view_count else None)
        assert (a["duration"], a["addedAt"], a["updatedAt"]) == tuple(
            str(v) for v in (t.duration_ms, t.added_at, t.updated_at)
        )
        assert a["guid"].startswith("plex://track/")
        assert [c.tag for c in el] == ["Media"] + ["Genre"] * min(len(t.genres), LISTED_TAGS)
        assert [p.tag for p in el[0]] == ["Part"]
    # The strings that need escaping made it through intact.
    text = " ".join(f"{el.get('title')} {el.get('parentTitle')} {el.get('grandparentTitle')}" for el in data)
    for needle in ("&", "<", '"', "'", "/", "坂本龍一", "Björk", "Кино", "🦊"):
        assert needle in text

    slim = _page(plex, size=50, query="&excludeElements=Media,Genre&excludeFields=summary")
    assert all(len(el) == 0 and "summary" not in el.attrib for el in slim)


def test_tracks_show_their_musicbrainz_guid_only_when_asked(server, plex):
    assert not any(el.find("Guid") is not None for el in plex.query(TRACKS))
    # plexapi's search asks for them (includeGuids=1), as the adapter does.
    tracks = plex.library.sectionByID(3).search(libtype="track")
    shown = Counter()
    for track in tracks:
        guids = [g.id for g in track.guids]
        mbid = recording_mbid(server.library.tracks[track.ratingKey])
        assert guids == ([f"mbid://{mbid}"] if mbid else guids)
        shown[guids[0].partition("://")[0] if guids else "none"] += 1
    # Most tracks have a recording id; some only another agent's id, some none.
    assert shown["mbid"] > 0.8 * len(tracks) and shown["local"] and shown["none"]


def test_album_and_artist_listings_carry_genres(server, plex):
    lib = server.library
    albums = plex.query("/library/sections/3/all?type=9")
    assert len(albums) == len(lib.albums)
    for el in albums:
        album = lib.albums[int(el.attrib["ratingKey"])]
        assert (el.tag, el.attrib["type"], el.attrib["title"]) == ("Directory", "album", album.title)
        assert el.attrib["parentRatingKey"] == str(album.artist_key)
        assert el.attrib.get("year") == (None if album.year is None else str(album.year))
        assert [g.attrib["tag"] for g in el.findall("Genre")] == album.genres[:LISTED_TAGS]
    artists = plex.query("/library/sections/3/all?type=8&sort=id")
    assert [[g.attrib["tag"] for g in el.findall("Genre")] for el in artists] == [
        a.genres[:LISTED_TAGS] for a in lib.artists.values()
    ]
    # plexapi builds its own objects from them
    album = plex.library.section("Music").search(libtype="album", sort="id", maxresults=1)[0]
    assert [g.tag for g in album.genres] == next(iter(lib.albums.values())).genres[:LISTED_TAGS]


def test_filters_and_sorts(server, plex):
    lib = server.library
    cutoff = sorted(t.updated_at for t in lib.tracks.values())[300]
    newer = [k for k, t in lib.tracks.items() if t.updated_at > cutoff]  # ">>" is strictly after
    assert _keys(plex.query(f"{TRACKS}&track.updatedAt%3E%3E={cutoff}&sort=id")) == newer
    older = [k for k, t in lib.tracks.items() if t.added_at < cutoff]
    assert _keys(plex.query(f"{TRACKS}&addedAt<<={cutoff}&sort=id")) == older

    by_title = plex.query(f"{TRACKS}&sort=titleSort")
    titles = [el.attrib["title"].casefold() for el in by_title]
    assert titles == sorted(titles)

    # plexapi validates sorts and filters against the section's metadata first.
    music = plex.library.section("Music")
    found = music.search(
        libtype="track",
        filters={"updatedAt>>": datetime.fromtimestamp(cutoff)},
        sort="updatedAt:desc",
        maxresults=1000,
    )
    assert [t.ratingKey for t in found] == sorted(newer, key=lambda k: -lib.tracks[k].updated_at)

    with pytest.raises(BadRequest, match=r"\(400\)"):  # a filter the fake lacks fails loudly
        plex.query(f"{TRACKS}&userRating%3E%3E=5")


def _tags(el):
    return [g.attrib["tag"] for g in el.findall("Genre")]


def test_listings_show_two_genres_and_reads_by_key_show_them_all(server, plex):
    lib = server.library
    album = next(a for a in lib.albums.values() if len(a.genres) == 4)
    artist = next(a for a in lib.artists.values() if len(a.genres) > 2)
    track = next(t for t in lib.tracks.values() if len(t.genres) > 2)
    for plex_type, item, key in (
        (9, album, album.key),
        (8, artist, artist.key),
        (10, track, track.rating_key),
    ):
        listed = plex.query(f"/library/sections/3/all?type={plex_type}&sort=id")
        (el,) = [el for el in listed if el.attrib["ratingKey"] == str(key)]
        assert _tags(el) == item.genres[:2]
        (full,) = plex.query(f"/library/metadata/{key}")
        assert _tags(full) == item.genres
    # The same through plexapi: a listed album's genres are cut, a fetched one's are not.
    music = plex.library.section("Music")
    listed = next(a for a in music.search(libtype="album", sort="id") if a.ratingKey == album.key)
    assert [g.tag for g in listed.genres] == album.genres[:2]
    assert [g.tag for g in plex.fetchItem(album.key).genres] == album.genres
    several = plex.query(f"/library/metadata/{album.key},{artist.key},{track.rating_key}")
    assert [_tags(el) for el in several] == [album.genres, artist.genres, track.genres]


def test_tracks_come_in_plex_default_order_unless_sorted(server, plex):
    lib = server.library

    def sort_title(title):
        return re.sub(r"^(the|a|an) ", "", title.casefold())

    listed = [lib.tracks[k] for k in _keys(plex.query(TRACKS))]
    order = [
        (
            sort_title(lib.artists[t.artist_key].title),
            sort_title(lib.albums[t.album_key].title),
            t.disc,
            t.index,
        )
        for t in listed
    ]
    assert order == sorted(order) and _keys(plex.query(TRACKS)) != list(lib.tracks)
    assert _keys(plex.query(TRACKS + "&sort=id")) == list(lib.tracks)
    assert _keys(plex.query(TRACKS + "&sort=id:desc")) == list(lib.tracks)[::-1]


@pytest.mark.parametrize("libtype", ["track", "album", "artist"])
def test_every_sort_key_plexapi_knows_is_answered(server, plex, libtype):
    music = plex.library.section("Music")
    count = music.totalViewSize(libtype=libtype)
    sorts = ["titleSort", "addedAt", "updatedAt", "id", "index", "year", "originallyAvailableAt"]
    sorts += ["userRating", "viewCount", "lastViewedAt", "lastRatedAt", "duration", "random"]
    parents = {"track": ["artist.titleSort", "album.titleSort"], "album": ["artist.titleSort"]}
    sorts += parents.get(libtype, [])
    for sort in sorts:
        for spec in (sort, f"{sort}:desc"):
            assert len(music.search(libtype=libtype, sort=spec)) == count, spec
    years = [a.year or 0 for a in music.search(libtype="album", sort="year:desc")]
    assert years == sorted(years, reverse=True)
    with pytest.raises(BadRequest, match=r"\(400\)"):
        plex.query(TRACKS + "&sort=noSuchKey")


def test_counting_applies_any_filter_and_returns_only_the_total(server, plex):
    lib = server.library
    cutoff = sorted(t.updated_at for t in lib.tracks.values())[300]
    newer = sum(t.updated_at > cutoff for t in lib.tracks.values())
    count = _page(plex, size=0, query=f"&track.updatedAt%3E%3E={cutoff}")
    assert (len(count), count.attrib["totalSize"]) == (0, str(newer))
    album_count = _page(plex, size=0, query=f"&album.updatedAt%3E%3E={cutoff}")
    assert int(album_count.attrib["totalSize"]) < 600
    assert server.track_pages == 0


def test_a_server_ignoring_filters_answers_as_if_unfiltered(server, plex):
    lib = server.library
    cutoff = sorted(t.updated_at for t in lib.tracks.values())[300]
    changed = f"&track.updatedAt%3E%3E={cutoff}&track.lastRatedAt%3E%3E={cutoff}"
    try:
        server.ignore_filters = True
        assert _page(plex, size=0, query=changed).attrib["totalSize"] == "600"
        assert len(plex.query(TRACKS + "&userRating%3E%3E=5&title=zzz")) == 600  # unknown ones too
        server.ignore_filters = {"track.lastRatedAt"}
        rated = sum(t.updated_at > cutoff for t in lib.tracks.values())
        assert _page(plex, size=0, query=changed).attrib["totalSize"] == str(rated)
        server.ignore_filters = {"updatedAt"}  # a bare name: at every level
        assert _page(plex, size=0, query=f"&album.updatedAt%3E%3E={EPOCH}").attrib["totalSize"] == "600"
    finally:
        server.ignore_filters = False
    assert _page(plex, size=0, query=f"&track.updatedAt%3E%3E={EPOCH}").attrib["totalSize"] == "0"


def test_albums_count_their_tracks_as_plex_does():
    # Plex's album elements carry leafCount, which plexapi's Album reads (audio.py).
    with FakePlexServer(library=FakeLibrary(tracks=80, seed=2), token="t") as server:
        lib = server.library
        plex = PlexServer(server.url, server.token, timeout=5)
        albums = plex.library.section("Music").searchAlbums()
        assert albums and all(a.leafCount == len(lib.album_tracks(int(a.ratingKey))) for a in albums)
        album = next(a for a in albums if a.leafCount > 1)
        lib.remove_tracks([lib.album_tracks(int(album.ratingKey))[0].rating_key])
        assert plex.fetchItem(int(album.ratingKey)).leafCount == album.leafCount - 1


def test_a_server_ignoring_sorts_answers_in_its_default_order(server, plex):
    by_date = _keys(_page(plex, size=600, query="&sort=updatedAt:desc,id"))
    try:
        server.ignore_sort = True
        default = _keys(_page(plex, size=600, query="&sort=updatedAt:desc,id"))
    finally:
        server.ignore_sort = False
    assert default == _keys(_page(plex, size=600)) != by_date


def test_a_server_ignoring_field_hints_sends_every_field(server, plex):
    hints = "&excludeFields=title,summary&includeFields=ratingKey,title,summary"
    slim = _page(plex, query=hints)
    assert all(set(el.attrib) == {"ratingKey"} for el in slim)
    try:
        server.ignore_field_hints = True
        full = _page(plex, query=hints)
    finally:
        server.ignore_field_hints = False
    assert all({"ratingKey", "title", "summary", "parentRatingKey"} <= set(el.attrib) for el in full)


def test_smart_and_read_only_playlists_are_listed_like_real_ones_and_refuse_writes(server, plex):
    lib = server.library
    by_title = {p.title: p for p in plex.playlists(playlistType="audio")}
    loved, recent, favourites = by_title["❤️ Tracks"], by_title["Recently Played"], by_title["Favourites"]
    assert (loved.smart, recent.smart, favourites.smart) == (True, True, False)
    assert favourites._data.attrib["readOnly"] == "1"
    assert favourites._data.attrib["specialPlaylistType"] == "favorites"
    assert loved.leafCount == sum(t.user_rating == 10 for t in lib.tracks.values()) > 0
    assert loved.items() and not any(t.playlistItemID for t in loved.items())
    assert all(t.playlistItemID for t in favourites.items())
    uri = f"{plex._uriRoot()}/library/metadata/{next(iter(lib.tracks))}"
    item = favourites.items()[0].playlistItemID
    session = plex._session
    for key in (loved.ratingKey, favourites.ratingKey):
        # plexapi itself refuses some of these for smart playlists; the server refuses them all.
        for path, method in [
            (f"/playlists/{key}/items?uri={uri}", session.put),
            (f"/playlists/{key}?title=Mine", session.put),
            (f"/playlists/{key}/items", session.delete),
            (f"/playlists/{key}/items/{item}", session.delete),
            (f"/playlists/{key}", session.delete),
        ]:
            with pytest.raises(BadRequest, match=r"\(400\)"):
                plex.query(path, method=method)
    assert len(server.builtin_playlists) == 3 and server.playlists == {}
    assert favourites.title == "Favourites" and len(plex.playlist("Favourites").items()) == 5


def test_clearing_a_regular_playlist_empties_it(server, plex):
    playlist = plex.createPlaylist("Clear me", items=plex.fetchItems(list(server.library.tracks)[:4]))
    plex.query(f"/playlists/{playlist.ratingKey}/items", method=plex._session.delete)
    assert server.playlists[playlist.ratingKey].items == []
    assert plex.playlist("Clear me").leafCount == 0
    playlist.delete()


def test_fetch_items_by_rating_key(server, plex):
    lib = server.library
    keys = [*list(lib.tracks)[:3], next(iter(lib.albums))]
    items = plex.fetchItems(keys)
    assert [i.ratingKey for i in items] == keys
    assert [type(i).__name__ for i in items] == ["Track", "Track", "Track", "Album"]
    with pytest.raises(NotFound):
        plex.fetchItems([1])
    assert server.requests[("GET", "/library/metadata/{ids}")] == 2


def test_json_when_asked(server):
    lib = server.library
    headers = {"Accept": "application/json", "X-Plex-Token": server.token}
    url = server.url + "/library/sections/3/all?type=9&sort=id&X-Plex-Container-Size=5"
    container = requests.get(url, headers=headers).json()["MediaContainer"]
    assert (container["size"], container["totalSize"], container["offset"]) == (5, len(lib.albums), 0)
    for item, album in zip(container["Metadata"], lib.albums.values(), strict=False):
        assert (item["ratingKey"], item["title"]) == (str(album.key), album.title)
        assert item.get("Genre", []) == [{"tag": g} for g in album.genres[:LISTED_TAGS]]

    rated = next(t for t in lib.tracks.values() if t.user_rating is not None)
    r = requests.get(f"{server.url}/library/metadata/{rated.rating_key}", headers=headers)
    track = r.json()["MediaContainer"]["Metadata"][0]
    assert track["userRating"] == rated.user_rating
    assert track["Media"][0]["Part"][0]["duration"] == rated.duration_ms


def test_playlists_as_plexapi_makes_them(server, plex):
    keys = list(server.library.tracks)[:6]
    tracks = plex.fetchItems(keys)
    title = "Road trip — “ünïcode” & <more>"
    playlist = plex.createPlaylist(title, items=tracks[:4])
    stored = server.playlists[playlist.ratingKey]
    assert (stored.title, stored.items) == (title, keys[:4])
    playlist.addItems(tracks[4:])
    playlist.removeItems([tracks[1]])
    assert stored.items == [keys[0], *keys[2:]]

    fresh = plex.playlist(title)
    assert [t.ratingKey for t in fresh.items()] == stored.items
    assert all(t.playlistItemID for t in fresh.items())
    assert (fresh.leafCount, fresh.playlistType, fresh.smart) == (5, "audio", False)
    assert title in [p.title for p in plex.playlists(playlistType="audio")]
    assert plex.playlists(playlistType="video") == []

    playlist.editTitle("Renamed")
    assert stored.title == "Renamed"
    playlist.delete()
    assert playlist.ratingKey not in server.playlists
    assert {route: n for route, n in server.requests.items() if "/playlists" in route[1]} == {
        ("POST", "/playlists"): 1,
        ("PUT", "/playlists/{id}/items"): 1,
        ("GET", "/playlists/{id}/items"): 2,
        ("DELETE", "/playlists/{id}/items/{id}"): 1,
        ("GET", "/playlists"): 3,
        ("PUT", "/playlists/{id}"): 1,
        ("DELETE", "/playlists/{id}"): 1,
    }


def test_playlist_uris_skip_unknown_keys_and_expand_albums(server, plex):
    lib = server.library
    track, album = next(iter(lib.tracks)), next(iter(lib.albums.values()))
    uri = f"{plex._uriRoot()}/library/metadata/{track},999999,{album.key}"
    data = plex.query(f"/playlists?type=audio&title=Mixed&smart=0&uri={uri}", method=plex._session.post)
    stored = server.playlists[int(data[0].attrib["ratingKey"])]
    assert stored.items == [track] + [t.rating_key for t in lib.album_tracks(album.key)]

    foreign = f"server://someone-else/com.plexapp.plugins.library/library/metadata/{track}"
    with pytest.raises(BadRequest, match=r"\(400\)"):
        plex.query(f"/playlists?type=audio&title=X&smart=0&uri={foreign}", method=plex._session.post)


def test_over_long_urls_get_414_so_callers_must_chunk(server, plex, monkeypatch):
    monkeypatch.setattr(server, "max_url_length", 2000)
    tracks = plex.library.section("Music").search(libtype="track", maxresults=600)
    with pytest.raises(BadRequest, match=r"\(414\)"):
        plex.createPlaylist("Too long", items=tracks)
    playlist = plex.createPlaylist("Chunked", items=tracks[:200])
    for i in range(200, 600, 200):
        playlist.addItems(tracks[i : i + 200])
    assert server.playlists[playlist.ratingKey].items == [t.ratingKey for t in tracks]


def test_wrong_or_missing_token_is_unauthorized(server, plex):
    with pytest.raises(Unauthorized):
        PlexServer(server.url, "wrong-token")
    assert requests.get(server.url + "/library/sections", timeout=5).status_code == 401
    with_param = requests.get(f"{server.url}/library/sections?X-Plex-Token={server.token}", timeout=5)
    assert with_param.status_code == 200
    with pytest.raises(NotFound):
        plex.query("/no/such/thing")
    with pytest.raises(NotFound):
        plex.query("/library/sections/99/all?type=10")
    assert not any(server.token in part for key in server.requests for part in key)


def test_fail_after_pages_answers_500_to_track_pages_only(server, plex):
    server.faults.fail_after_pages = 2
    _page(plex)
    _page(plex, 10)
    with pytest.raises(BadRequest, match=r"\(500\)"):
        _page(plex, 20)
    assert server.track_pages == 2
    assert plex.library.section("Music").totalViewSize(libtype="track") == 600
    assert len(plex.query("/library/sections/3/all?type=9")) == len(server.library.albums)
    server.faults.reset()
    assert len(_page(plex, 20)) == 10


def test_drop_after_pages_closes_the_connection(server, plex):
    server.faults.drop_after_pages = 1
    _page(plex)
    with pytest.raises(requests.ConnectionError):
        _page(plex, 10)


def test_malformed_after_pages_sends_broken_xml(server, plex):
    server.faults.malformed_after_pages = 0
    with pytest.raises(ParseError):
        _page(plex)
    assert server.track_pages == 0


def test_hang_after_pages_times_the_client_out(server, monkeypatch):
    monkeypatch.setattr(server.faults, "hang_seconds", 3)
    server.faults.hang_after_pages = 0
    impatient = PlexServer(server.url, server.token, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        _page(impatient)
    assert time.monotonic() - started < 2


def test_status_fault_answers_everything_but_identity(server, plex):
    server.faults.status = 503
    with pytest.raises(BadRequest, match=r"\(503\)"):
        plex.query("/library/sections")
    assert plex.identity().machineIdentifier == server.machine_identifier
    server.faults.status = 401
    with pytest.raises(Unauthorized):
        plex.query("/library/sections")


def test_changed_identity(server, plex, monkeypatch):
    monkeypatch.setattr(server, "machine_identifier", "fakeplex-other")
    assert PlexServer(server.url, server.token).machineIdentifier == "fakeplex-other"
    assert plex.identity().machineIdentifier == "fakeplex-other"
    # A playlist uri naming the server it used to be is refused.
    with pytest.raises(BadRequest):
        plex.createPlaylist("Stale", items=plex.fetchItems(list(server.library.tracks)[:1]))


def test_stop_is_prompt_even_with_a_hanging_handler_and_restart_keeps_the_url():
    server = FakePlexServer(library=FakeLibrary(tracks=50)).start()
    url = server.url
    server.faults.hang_after_pages = 0  # hangs for the default 120 s
    errors = []

    def fetch():
        try:
            requests.get(f"{url}{TRACKS}&X-Plex-Token={server.token}", timeout=60)
        except requests.RequestException as e:
            errors.append(e)

    client = threading.Thread(target=fetch)
    client.start()
    while not server.requests[LISTING]:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    client.join(5)
    assert isinstance(errors[0], requests.ConnectionError)

    server.start()
    try:
        assert server.url == url
        assert requests.get(url + "/identity", timeout=5).status_code == 200
    finally:
        server.stop()


def test_same_seed_same_library():
    a, b = FakeLibrary(tracks=400, seed=9), FakeLibrary(tracks=400, seed=9)
    assert (a.tracks, a.albums, a.artists) == (b.tracks, b.albums, b.artists)
    assert FakeLibrary(tracks=400, seed=10).tracks != a.tracks


def test_library_looks_like_a_real_one(big_library):
    lib = big_library
    tracks, albums = list(lib.tracks.values()), list(lib.albums.values())
    assert len(tracks) == 18432
    assert 8 <= len(tracks) / len(albums) <= 12
    various = next(a for a in lib.artists.values() if a.title == "Various Artists")
    per_artist = Counter(a.artist_key for a in albums if a.artist_key != various.key)
    assert max(per_artist.values()) <= 5 and 2 <= len(albums) / len(lib.artists) <= 5

    assert 0.35 < sum(t.user_rating is None for t in tracks) / len(tracks) < 0.45
    assert {t.user_rating for t in tracks} == {None, *(float(r) for r in range(2, 11))}
    assert 0.02 < sum(a.year is None for a in albums) / len(albums) < 0.08
    assert {a.year for a in albums} - {None} <= set(range(1950, 2026))
    assert 0.2 < sum(t.view_count > 0 for t in tracks) / len(tracks) < 0.7
    assert all(EPOCH - 5 * 365 * 86400 < t.added_at <= t.updated_at <= EPOCH for t in tracks)

    genres = {g for a in albums for g in a.genres}
    assert len(genres) >= 300
    per_album = Counter(len(a.genres) for a in albums)
    assert per_album[0] and max(per_album) == 4
    assert (per_album[3] + per_album[4]) / len(albums) > 0.3  # more than a listing shows
    # Newer servers hold genres on some tracks, sometimes more than a listing shows.
    assert 0.15 < sum(bool(t.genres) for t in tracks) / len(tracks) < 0.35
    assert any(len(t.genres) > LISTED_TAGS for t in tracks)

    compilation = [t for t in tracks if t.artist_key == various.key]
    assert compilation and all(t.track_artist for t in compilation)
    assert any(" feat. " in (t.track_artist or "") for t in tracks)


def test_live_ground_truth(big_library):
    lib = big_library
    marked = re.compile(r"\(Live\)$| - Live at |\[Live \d{4}\]$")
    for t in lib.tracks.values():
        assert t.truth_live == (lib.albums[t.album_key].truth_live or bool(marked.search(t.title)))
    live_albums = {a.title for a in lib.albums.values() if a.truth_live}
    assert {"Live at Wembley Stadium", "MTV Unplugged in New York (Live)"} <= live_albums
    assert any(re.match(r"\d{4}-\d\d-\d\d: ", title) for title in live_albums)
    traps = [t for t in lib.tracks.values() if t.title in STUDIO_TRAP_TITLES]
    assert {t.title for t in traps} == set(STUDIO_TRAP_TITLES)
    assert not any(t.truth_live for t in traps)
    trap_albums = [a for a in lib.albums.values() if a.title in STUDIO_TRAP_ALBUMS]
    assert trap_albums and not any(a.truth_live for a in trap_albums)
    assert sum(bool(marked.search(t.title)) for t in lib.tracks.values()) > 50


def test_mutations_show_up_on_the_wire():
    lib = FakeLibrary(tracks=300, seed=3)
    lib.clock = lambda: EPOCH + 1000
    original_albums, top = set(lib.albums), max(lib.tracks)
    with FakePlexServer(library=lib) as server:
        plex = PlexServer(server.url, server.token)
        added = lib.add_tracks(25)
        assert len(added) == 25 and min(added) > top
        homes = {lib.tracks[k].album_key in original_albums for k in added}
        assert homes == {True, False}  # some on existing albums, some on new ones
        removed = lib.remove_tracks(40)
        assert not set(removed) & set(lib.tracks)
        assert {t.album_key for t in lib.tracks.values()} == set(lib.albums)  # no empty albums left
        assert {a.artist_key for a in lib.albums.values()} == set(lib.artists)
        changed = lib.change_tracks(10)
        assert plex.library.section("Music").totalViewSize(libtype="track") == 285
        since = plex.query(f"{TRACKS}&track.updatedAt%3E%3E={EPOCH}")
        assert set(_keys(since)) == set(added + changed) - set(removed)

        assert lib.add_tracks(1)[0] > max(added)  # keys are never reused
        untouched = [k for k, t in lib.tracks.items() if t.updated_at < EPOCH][:5]
        lib.change_tracks(untouched, bump_updated_at=False)
        assert all(lib.tracks[k].updated_at < EPOCH for k in untouched)


def test_fakeplex_command_serves_until_interrupted(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            *(
                sys.executable,
                "manage.py",
                "fakeplex",
                "--port",
                "0",
                "--tracks",
                "60",
                "--token",
                "cmd-token",
            ),
            *("--ignore-filters", "--ignore-field-hints"),
        ],
        cwd=root,
        env={**os.environ, "MEDIASAGE_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://\S+", line)[0]
        assert "cmd-token" in line
        plex = PlexServer(url, "cmd-token")
        assert plex.library.section("Music").totalViewSize(libtype="track") == 60
        changed = plex.query(f"{TRACKS}&track.updatedAt%3E%3E={EPOCH}&excludeFields=title")
        assert len(changed) == 60 and "title" in changed[0].attrib  # both switches on
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()


def test_playlist_entries_move_as_plexapi_moves_them(server, plex):
    keys = list(server.library.tracks)[:5]
    tracks = plex.fetchItems(keys)
    playlist = plex.createPlaylist("Reorder me", items=tracks)
    stored = server.playlists[playlist.ratingKey]
    items = playlist.items()
    # An entry's playlistItemID is not its track's ratingKey: the two are easy to mix up.
    assert not {i.playlistItemID for i in items} & set(keys)
    playlist.moveItem(items[0], after=items[3])
    assert stored.items == [keys[1], keys[2], keys[3], keys[0], keys[4]]
    playlist.moveItem(items[4])  # no `after`: first
    assert stored.items == [keys[4], keys[1], keys[2], keys[3], keys[0]]
    path = f"/playlists/{playlist.ratingKey}/items"
    with pytest.raises(NotFound):  # by the track's key, not the entry's id
        plex.query(f"{path}/{keys[1]}/move?after={items[2].playlistItemID}", method=plex._session.put)
    with pytest.raises(NotFound):
        plex.query(f"{path}/{keys[1]}", method=plex._session.delete)
    assert stored.items == [keys[4], keys[1], keys[2], keys[3], keys[0]]
    playlist.delete()


def test_playlist_summaries_are_kept_and_shown(server, plex):
    playlist = plex.createPlaylist("Described", items=plex.fetchItems(list(server.library.tracks)[:2]))
    playlist.editSummary("Rainy Sunday jazz. Nothing live.")
    assert server.playlists[playlist.ratingKey].summary == "Rainy Sunday jazz. Nothing live."
    assert plex.playlist("Described").summary == "Rainy Sunday jazz. Nothing live."
    playlist.delete()


def test_playlist_write_faults_fail_the_change_and_its_retry_then_clear(server, plex):
    keys = list(server.library.tracks)[:4]
    playlist = plex.createPlaylist("Faulty", items=plex.fetchItems(keys))
    items = playlist.items()
    server.faults.fail_playlist_removes_after = 1
    server.faults.fail_playlist_moves_after = 0
    playlist.removeItems([items[0]])
    for _ in range(2):  # the removal and its retry
        with pytest.raises(BadRequest):
            playlist.removeItems([items[1]])
        with pytest.raises(BadRequest):
            playlist.moveItem(items[3])
    playlist.removeItems([items[1]])
    playlist.moveItem(items[3])
    assert server.playlists[playlist.ratingKey].items == [keys[3], keys[2]]
    playlist.delete()
