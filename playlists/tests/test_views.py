import random
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from library.models import Track
from playlists import views
from playlists.tests.conftest import studio_tracks
from playlists.tests.test_importers import DATA, MALFORMED

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


def test_the_builder_folds_the_smart_filters_away_until_one_is_set(client, synced):
    page = client.get("/").content.decode()
    assert '<details class="more-filters" >' in page
    for name in ("sort", "min_plays", "max_plays", "not_played_days", "added_days", "never_played"):
        assert f'name="{name}"' in page
    assert '<option value="5" >★★½ and up</option>' in page  # half stars
    opened = client.get("/", {"sort": "most_played", "min_plays": 2}).content.decode()
    assert '<details class="more-filters" open>' in opened
    assert '<option value="most_played" selected>Most played</option>' in opened
    assert 'name="min_plays" min="0" value="2"' in opened


def test_the_live_count_follows_plays_and_length(client, synced):
    played = Track.objects.filter(play_count__gte=1, duration_ms__lte=5 * 60_000).count()
    assert 0 < played < Track.objects.count()
    page = client.get("/playlists/preview", {"min_plays": 1, "max_track_minutes": 5}).content.decode()
    assert f'data-testid="match-count">{played}<' in page


def test_a_most_played_playlist_comes_most_played_first(client, synced):
    page = client.get("/playlists/generate", {"sort": "most_played", "count": 10}).content.decode()
    (keys,) = re.findall(r'name="keys" value="([^"]*)"', page)
    plays = dict(Track.objects.values_list("rating_key", "play_count"))
    picked = [plays[key] for key in keys.split(",")]
    assert picked == sorted(picked, reverse=True) and picked[0] == max(plays.values())
    assert f" · {picked[0]} plays</span>" in page  # why each is there
    assert "Pick again" in page


def test_a_bad_filter_value_is_answered_with_its_message_never_a_500(client, synced):
    message = "Play count at least: “lots” is not a whole number."
    for path in ("/playlists/preview", "/playlists/generate"):
        response = client.get(path, {"min_plays": "lots"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        assert escape(message) in response.content.decode()
        assert "data-reason" in response.content.decode()
    page = client.get("/", {"sort": "loudest", "genre": "Rock"})
    assert page.status_code == 400
    assert "Sort: “loudest” is not one of random, most played" in page.content.decode()
    # The page still opens, with every track matching.
    assert 'data-testid="match-count">150<' in page.content.decode()


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


# Replacing 5,000 tracks with 5,000 others in a new order: reading the old list, then Plex
# clears it in one request (moving nearly every entry would cost one request each) and
# Jellyfin removes its entries by id, about 170 a request, before adding.
_REPLACE_REQUESTS = {"plex": 20, "jellyfin": 70}


def test_replacing_a_5000_track_playlist_keeps_its_id_in_few_requests(client, big_library):
    source, server = big_library
    first, second = (
        re.findall(r'name="keys" value="([^"]*)"', client.get("/playlists/generate", query).content.decode())[
            0
        ]
        for query in ({"source": source, "count": 5000, "seed": s} for s in (2, 3))
    )
    client.post("/playlists/save", {"source": source, "title": "Mix", "mode": "sync", "keys": first})
    (playlist_id,) = server.playlists
    server.reset_counts()
    result = client.post(
        "/playlists/save", {"source": source, "title": "Mix", "mode": "sync", "keys": second}
    )
    changed = len(set(second.split(",")) - set(first.split(",")))  # in place: only those come and go
    assert f"{changed:,} tracks added, {changed:,} removed" in result.content.decode()
    assert list(server.playlists) == [playlist_id]
    assert [str(k) for k in server.playlists[playlist_id].items] == second.split(",")
    assert server.total_requests <= _REPLACE_REQUESTS[source]


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


def test_an_upload_over_the_size_limit_is_refused_before_its_body_is_read(
    synced, settings, tmp_path, csrf_client
):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    big = SimpleUploadedFile("big.m3u", b"#EXTINF:1,A - B\na.mp3\n" * 100_000)  # 2.2 MB
    # No CSRF token is sent: reading the body, CSRF would answer 403 instead.
    client = csrf_client
    response = client.post("/playlists/import", {"file": big})
    assert response.status_code == 413
    page = response.content.decode()
    assert "That file is too large to be a playlist: the limit is 1 MB" in page
    assert 'type="file"' in page  # the import page, to pick another file
    assert list(tmp_path.iterdir()) == []  # nothing was written to disk
    big.seek(0)
    fragment = client.post("/playlists/import", {"file": big}, headers={"HX-Request": "true"})
    assert fragment.status_code == 413
    assert fragment.content.decode().strip() == (
        '<p class="error" role="alert" data-testid="import-error">That file is too large to be a '
        "playlist: the limit is 1 MB (the IMPORT_MAX_UPLOAD_MB setting).</p>"
    )


def test_a_file_just_over_the_size_limit_is_stopped_as_it_streams_in(client, synced, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    line = b"#EXTINF:1,A - B\na.mp3\n"
    just_over = line * (1024 * 1024 // len(line) + 1)
    response = client.post("/playlists/import", {"file": SimpleUploadedFile("x.m3u", just_over)})
    assert response.status_code == 413
    assert "too large to be a playlist: the limit is 1 MB" in response.content.decode()
    just_under = SimpleUploadedFile("x.m3u", just_over[: -len(line)])
    assert "too large" not in client.post("/playlists/import", {"file": just_under}).content.decode()


def test_a_file_with_more_entries_than_the_maximum_is_refused_naming_both(client, synced, settings, m3u):
    settings.IMPORT_MAX_ENTRIES = 10
    with open(m3u(studio_tracks(12)), "rb") as f:
        response = client.post("/playlists/import", {"file": f})
    assert response.status_code == 400
    assert "This playlist has 14 entries, and MediaSage imports at most 10 at a time" in (
        response.content.decode()
    )


def test_a_long_report_collapses_the_matched_rows_and_still_saves_them_all(client, synced, m3u, monkeypatch):
    monkeypatch.setattr(views, "_SHOWN_ROWS", 5)
    tracks = studio_tracks(12)
    with open(m3u(tracks), "rb") as f:
        page = client.post("/playlists/import", {"file": f}).content.decode()
    assert '<details class="report-matched" data-testid="report-matched">' in page  # closed
    assert '<details class="report-unmatched" open' in page
    assert "<summary>12 matched</summary>" in page
    assert page.count('<li value="') == 5 + 2  # five matched rows shown, and both unmatched
    assert "…and 7 more, not shown: they are saved in their places." in page
    # The page's script folds the rows' slots into one `keys` field, in playlist order.
    slots = sorted((int(n), key) for n, key in re.findall(r'name="slot-(\d+)" value="([^"]*)"', page))
    client.post("/playlists/save", {"title": "Long", "mode": "create", "keys": ",".join(k for _, k in slots)})
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == [t.rating_key for t in tracks]


@pytest.mark.parametrize(("name", "data", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_a_clear_message_on_the_import_page(client, synced, name, data, message):
    response = client.post("/playlists/import", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400
    page = response.content.decode()
    assert escape(message) in page
    assert 'role="alert"' in page and 'type="file"' in page


def _mutations(rng):
    """Deterministic random bytes and real fixtures cut, spliced, flipped and salted with
    the bytes parsers trip on, each under a name of every format."""
    fixtures = [path.read_bytes() for path in sorted(DATA.iterdir())]
    salt = [b"\x00", b"[", b"{", b'"', b",", b"\n", b"\r", b"\xff\xfe", b"\xef\xbb\xbf", b"#EXTINF:", b"\\"]
    for i in range(300):
        data = bytearray(rng.choice(fixtures))
        kind = i % 6
        if kind == 0:
            data = bytearray(rng.randbytes(rng.randrange(1, 3000)))
        elif kind == 1:
            del data[rng.randrange(len(data)) :]
        elif kind == 2:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 3:
            for _ in range(rng.randrange(1, 10)):
                at = rng.randrange(len(data))
                data[at:at] = rng.choice(salt) * rng.randrange(1, 50)
        elif kind == 4:
            at, end = sorted(rng.sample(range(len(data)), 2))
            data[at:at] = data[at:end] * rng.randrange(2, 30)
        else:
            data = bytearray(rng.choice(fixtures)[: rng.randrange(1, 200)]) + rng.randbytes(50)
        name = rng.choice(["x.m3u", "x.m3u8", "x.csv", "x.tsv", "x.jspf", "x.json", "x.txt", "x"])
        yield name, bytes(data)


def test_no_mutated_or_random_file_makes_the_import_fail(client, synced):
    for name, data in _mutations(random.Random(11)):
        # The test client raises any exception the view lets out, with its traceback.
        response = client.post("/playlists/import", {"file": SimpleUploadedFile(name, data)})
        assert response.status_code in (200, 400), (name, data[:80])
