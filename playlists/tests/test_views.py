import re

import pytest

from library.models import Track
from playlists.tests.conftest import studio_tracks

pytestmark = pytest.mark.django_db(transaction=True)


def test_builder_shows_genres_and_the_matching_count(client, synced):
    page = client.get("/").content.decode()
    assert 'data-testid="match-count">150<' in page
    genre = Track.objects.exclude(genres=[]).first().genres[0]
    assert f'<option value="{genre}"' in page or genre.replace("&", "&amp;") in page


def test_preview_narrows_with_filters(client, synced):
    genre = Track.objects.exclude(genres=[]).first().genres[0]
    expected = sum(genre in t.genres for t in Track.objects.all())
    page = client.get("/playlists/preview", {"genre": genre}).content.decode()
    assert f'data-testid="match-count">{expected}<' in page
    no_live = client.get("/playlists/preview", {"exclude_live": "on"}).content.decode()
    assert f'data-testid="match-count">{Track.objects.filter(is_live=False).count()}<' in no_live


def test_generate_offers_the_picked_tracks_for_saving(client, synced):
    page = client.get("/playlists/generate", {"count": 12, "seed": 3}).content.decode()
    assert 'data-testid="picked-count">12<' in page
    (keys,) = re.findall(r'name="keys" value="([^"]*)"', page)
    assert len(keys.split(",")) == 12


def test_saving_writes_the_playlist_to_plex_with_few_requests(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")[:25]]
    response = client.post("/playlists/save", {"title": "Friday", "mode": "create", "keys": ",".join(keys)})
    page = response.content.decode()
    assert "Saved “Friday” to Plex: 25 tracks added" in page
    assert "Open in Plex" in page and synced.url in page
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == keys
    assert synced.total_requests <= 3


# Requests a save of 5,000 tracks may cost: Plex takes keys in the URL, about 750 a
# request; Jellyfin takes them all in the body of one.
_SAVE_REQUESTS = {"plex": 10, "jellyfin": 3}


def test_a_5000_track_playlist_from_the_builder_saves_in_order_in_few_requests(client, big_library):
    source, server = big_library
    page = client.get("/playlists/generate", {"source": source, "count": 5000, "seed": 2}).content.decode()
    assert 'data-testid="picked-count">5000<' in page
    (keys,) = re.findall(r'name="keys" value="([^"]*)"', page)  # the whole playlist in one field
    form = {"source": source, "title": "Everything", "mode": "sync", "keys": keys}
    result = client.post("/playlists/save", form).content.decode()
    assert f"Saved “Everything” to {source.title()}: 5,000 tracks added" in result
    (playlist,) = server.playlists.values()
    assert [str(k) for k in playlist.items] == keys.split(",")
    assert server.total_requests <= _SAVE_REQUESTS[source]


def test_a_save_sends_only_the_cache_keys_of_that_server_and_says_what_it_left_out(client, big_library):
    source, server = big_library
    mine = list(Track.objects.filter(source=source).values_list("rating_key", flat=True)[:3])
    other = "jellyfin" if source == "plex" else "plex"
    Track.objects.create(source=other, rating_key="elsewhere-1", title="Elsewhere", artist="Nobody")
    keys = [mine[0], "elsewhere-1", mine[1], "../../library/sections", mine[2], mine[0]]
    form = {"source": source, "title": "Picky", "mode": "create", "keys": ",".join(keys)}
    result = client.post("/playlists/save", form).content.decode()
    assert "3 tracks added" in result
    assert "2 tracks are no longer in the cache and were left out." in result
    (playlist,) = server.playlists.values()
    assert [str(k) for k in playlist.items] == mine


def test_more_tracks_than_a_playlist_may_hold_are_refused_before_asking_the_server(client, synced):
    keys = ",".join(str(n) for n in range(10_001))
    result = client.post("/playlists/save", {"title": "Too many", "keys": keys}).content.decode()
    assert "Not saved: That is 10,001 tracks; a playlist saved from MediaSage holds at most 10,000." in result
    assert synced.total_requests == 0


def test_saving_by_name_replaces_the_existing_playlist(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")]
    client.post("/playlists/save", {"title": "Friday", "mode": "create", "keys": ",".join(keys[:5])})
    client.post("/playlists/save", {"title": "friday", "mode": "sync", "keys": ",".join(keys[5:8])})
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == keys[5:8]


def test_append_to_a_chosen_playlist(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")]
    client.post("/playlists/save", {"title": "Mix", "mode": "create", "keys": ",".join(keys[:3])})
    (playlist_id,) = synced.playlists
    options = client.get("/playlists/targets", {"mode": "append"}).content.decode()
    assert f'value="{playlist_id}"' in options and "Mix (3 tracks)" in options
    client.post(
        "/playlists/save",
        {"title": "Mix", "mode": "append", "playlist": playlist_id, "keys": ",".join(keys[:5])},
    )
    assert [str(k) for k in synced.playlists[playlist_id].items] == keys[:5]


def test_saving_with_plex_down_says_so(client, synced):
    synced.stop()
    key = Track.objects.first().rating_key
    page = client.post("/playlists/save", {"title": "Mix", "keys": key}).content.decode()
    assert "Not saved: Cannot reach Plex" in page


def test_saving_needs_a_name_and_cached_tracks(client, synced):
    key = Track.objects.first().rating_key
    assert (
        "Give the playlist a name"
        in client.post("/playlists/save", {"title": " ", "keys": key}).content.decode()
    )
    page = client.post("/playlists/save", {"title": "Mix", "keys": "not-a-key"}).content.decode()
    assert "There are no tracks to save" in page
    assert synced.playlists == {}


def test_import_matches_against_the_cache_and_saves_in_order(client, synced, m3u):
    tracks = studio_tracks(12)
    with open(m3u(tracks), "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert "<strong>12</strong> matched" in page
    assert "<strong>2</strong> not in your library" in page
    assert synced.total_requests == 0  # matching asked the server nothing
    keys = ",".join(t.rating_key for t in tracks)  # as app.js sends the report's rows
    client.post("/playlists/save", {"title": "Friday Night", "mode": "sync", "keys": keys})
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == [t.rating_key for t in tracks]


def test_import_offers_every_copy_of_one_recording_with_the_original_album_preselected(
    client, fake_plex, best_of, m3u
):
    original, copy = best_of
    with open(m3u([original]), "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert "<strong>1</strong> matched" in page
    assert "The same recording is on 2 albums" in page
    assert f'name="slot-1" value="{original.rating_key}" checked>' in page
    assert f"· {original.album} (1985)" in page
    assert f'name="slot-1" value="{copy.rating_key}">' in page
    assert "· Greatest Hits (2015)" in page
    # the user may pick the best-of copy instead
    client.post("/playlists/save", {"title": "Mine", "mode": "create", "keys": copy.rating_key})
    (playlist,) = fake_plex.playlists.values()
    assert [str(k) for k in playlist.items] == [copy.rating_key]


def test_import_with_an_empty_cache_asks_to_build_it_first(client, fake_plex, m3u):
    with open(m3u([]), "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert "cache is empty" in page
    assert "Build the cache first" in page
    assert fake_plex.total_requests == 0  # and never falls back to searching Plex


def test_import_of_a_file_that_is_not_a_playlist_explains(client, synced, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("Track,Year\nfoo,1999\n")
    with open(bad, "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert "no artist and title columns" in page


def test_pages_never_show_the_token(client, synced, settings):
    for url in ("/", "/playlists/import", "/playlists/preview", "/library/footer", "/api/library/status"):
        assert synced.token not in client.get(url).content.decode()
