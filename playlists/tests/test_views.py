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
    assert page.count('name="key"') == 12


def test_saving_writes_the_playlist_to_plex_with_few_requests(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")[:25]]
    response = client.post("/playlists/save", {"title": "Friday", "mode": "create", "key": keys})
    page = response.content.decode()
    assert "Saved “Friday” to Plex: 25 tracks added" in page
    assert "Open in Plex" in page and synced.url in page
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == keys
    assert synced.total_requests <= 3


def test_saving_by_name_replaces_the_existing_playlist(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")]
    client.post("/playlists/save", {"title": "Friday", "mode": "create", "key": keys[:5]})
    client.post("/playlists/save", {"title": "friday", "mode": "sync", "key": keys[5:8]})
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == keys[5:8]


def test_append_to_a_chosen_playlist(client, synced):
    keys = [t.rating_key for t in Track.objects.order_by("title")]
    client.post("/playlists/save", {"title": "Mix", "mode": "create", "key": keys[:3]})
    (playlist_id,) = synced.playlists
    options = client.get("/playlists/targets", {"mode": "append"}).content.decode()
    assert f'value="{playlist_id}"' in options and "Mix (3 tracks)" in options
    client.post(
        "/playlists/save", {"title": "Mix", "mode": "append", "playlist": playlist_id, "key": keys[:5]}
    )
    assert [str(k) for k in synced.playlists[playlist_id].items] == keys[:5]


def test_saving_with_plex_down_says_so(client, synced):
    synced.stop()
    key = Track.objects.first().rating_key
    page = client.post("/playlists/save", {"title": "Mix", "key": [key]}).content.decode()
    assert "Not saved: Cannot reach Plex" in page


def test_saving_needs_a_name_and_cached_tracks(client, synced):
    key = Track.objects.first().rating_key
    assert (
        "Give the playlist a name"
        in client.post("/playlists/save", {"title": " ", "key": [key]}).content.decode()
    )
    page = client.post("/playlists/save", {"title": "Mix", "key": ["not-a-key"]}).content.decode()
    assert "There are no tracks to save" in page
    assert synced.playlists == {}


def test_import_matches_against_the_cache_and_saves_in_order(client, synced, m3u):
    tracks = studio_tracks(12)
    with open(m3u(tracks), "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert "<strong>12</strong> matched" in page
    assert "<strong>2</strong> not in your library" in page
    assert synced.total_requests == 0  # matching asked the server nothing
    slots = {f"slot-{i}": t.rating_key for i, t in enumerate(tracks, start=1)}
    client.post("/playlists/save", {"title": "Friday Night", "mode": "sync", **slots})
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
    client.post("/playlists/save", {"title": "Mine", "mode": "create", "slot-1": copy.rating_key})
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
