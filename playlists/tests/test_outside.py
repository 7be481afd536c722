"""read_source: playlists read from URLs served by local fakes and from files, and
the one-line SourceProblem every bad source ends in."""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from playlists.fakes.deezer import QUOTA
from playlists.fakes.web import FakeWebServer
from playlists.importers import Entry
from playlists.outside import SourceProblem, read_source, store_upload

M3U = (
    "#EXTM3U\n#PLAYLIST:Road Trip\n#EXTINF:200,Björk - Jóga\njoga.mp3\n#EXTINF:236,Radiohead - Creep\nc.mp3\n"
)
JSPF = {
    "playlist": {
        "title": "Mix",
        "track": [
            {
                "creator": "Sigur Rós",
                "title": "Hoppípolla",
                "identifier": "https://musicbrainz.org/recording/5F0CB5A5-4D8B-4F0D-9D3E-3B2A1C8F9E01",
            }
        ],
    }
}
XSPF = """<?xml version="1.0" encoding="UTF-8"?>
<playlist version="1" xmlns="http://xspf.org/ns/0/">
  <title>Evening</title>
  <trackList>
    <track><creator>Nick Drake</creator><title>Pink Moon</title><album>Pink Moon</album>
      <duration>124000</duration></track>
    <track><location>file:///music/unknown.flac</location></track>
  </trackList>
</playlist>"""
CSV = "Artist Name(s),Track Name\nDaft Punk,Get Lucky\n"


@pytest.fixture
def web(settings):
    settings.OUTSIDE_TIMEOUT = 2
    settings.OUTSIDE_MAX_MB = 1
    with FakeWebServer() as server:
        yield server


def _serve(web, path, body, content_type="text/plain; charset=utf-8"):
    web.files[path] = (content_type, body.encode() if isinstance(body, str) else body)
    return web.url + path


def _problem(spec):
    with pytest.raises(SourceProblem) as caught:
        read_source(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- each format from a URL ----------------------------------------------------------------


def test_m3u_at_a_url_is_read_with_its_title(web):
    playlist = read_source(_serve(web, "/lists/road.m3u8", M3U))
    assert playlist.title == "Road Trip"
    assert playlist.entries == [Entry("Björk", "Jóga", "", 200000), Entry("Radiohead", "Creep", "", 236000)]
    assert playlist.origin == web.url + "/lists/road.m3u8"
    assert web.total_requests == 1


def test_jspf_at_a_url_carries_the_recording_id(web):
    playlist = read_source(_serve(web, "/mix.jspf", json.dumps(JSPF), "application/json"))
    assert playlist.entries == [Entry("Sigur Rós", "Hoppípolla", mbid="5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01")]


def test_xspf_at_a_url_skips_location_only_tracks_and_says_so(web):
    playlist = read_source(_serve(web, "/evening.xspf", XSPF, "application/xspf+xml"))
    assert playlist.title == "Evening"
    assert playlist.entries == [Entry("Nick Drake", "Pink Moon", "Pink Moon", 124000)]
    assert playlist.skipped == "1 track skipped: only a location, no artist or title"


def test_csv_at_a_url_without_an_extension_is_recognised(web):
    _serve(web, "/export", CSV)
    playlist = read_source(web.url + "/export?id=3")
    assert playlist.entries == [Entry("Daft Punk", "Get Lucky")]


def test_the_origin_never_shows_the_query_string(web):
    url = _serve(web, "/road.m3u", M3U) + "?token=s3cret-value"
    playlist = read_source(url)
    assert playlist.origin == web.url + "/road.m3u"


def test_a_redirect_within_the_limit_is_followed(web):
    url = _serve(web, "/road.m3u", M3U)
    web.faults.redirect_to = web.url + "/moved{path}"
    assert len(read_source(url).entries) == 2
    assert web.total_requests == 2


# --- files ----------------------------------------------------------------------------------


def test_a_file_path_is_read(tmp_path):
    path = tmp_path / "road.m3u8"
    path.write_text(M3U, encoding="utf-8")
    playlist = read_source(str(path))
    assert (playlist.title, len(playlist.entries), playlist.origin) == ("Road Trip", 2, str(path))


def test_an_upload_is_stored_under_the_data_dir_once(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    spec = store_upload(M3U.encode(), "../../Road Trip.m3u8")
    assert spec == store_upload(M3U.encode(), "../../Road Trip.m3u8")
    assert spec.startswith(str(tmp_path / "uploads")) and spec.endswith("Road_Trip.m3u8")
    assert len(read_source(spec).entries) == 2


def test_a_missing_file_says_so(tmp_path):
    assert _problem(str(tmp_path / "gone.m3u")) == f"There is no file at {tmp_path / 'gone.m3u'}."


def test_a_folder_is_not_a_file(tmp_path):
    assert _problem(str(tmp_path)) == f"{tmp_path} is not a file."


def test_a_file_over_the_limit_is_refused_unread(settings, tmp_path):
    settings.OUTSIDE_MAX_MB = 1
    path = tmp_path / "huge.m3u"
    path.write_bytes(M3U.encode() + b"\n" * 2**20)
    assert _problem(str(path)) == f"{path} is larger than 1 MB (OUTSIDE_MAX_MB)."


# --- bad sources -----------------------------------------------------------------------------


def test_an_unknown_spec_names_the_ones_that_work():
    message = _problem("spotify:playlist:37i9dQZF1DX")
    assert message.startswith("spotify:playlist:37i9dQZF1DX is not a playlist source MediaSage knows")
    assert "listenbrainz:USER/weekly-exploration" in message
    assert _problem("weekly jams").startswith("weekly jams is not a playlist source")


def test_an_unknown_scheme_never_shows_a_password():
    message = _problem("ftp://me:hunter2@files.example/mix.m3u?key=abc")
    assert message.startswith("ftp://files.example/mix.m3u is not a playlist source")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("  ", "No playlist source was given."),
        ("https://", "https:// is not a valid URL: it names no host it could reach."),
        (
            "http://exa mple.com/x",
            "http://exa mple.com/x is not a valid URL: it names no host it could reach.",
        ),
        (
            "http://me:pw@host:99999/x.m3u?t=1",
            "http://host/x.m3u is not a valid URL: its port is not a number from 1 to 65535.",
        ),
        (
            "http://[::1]:abc/x",
            "http://[::1]/x is not a valid URL: its port is not a number from 1 to 65535.",
        ),
    ],
)
def test_malformed_specs(spec, message):
    assert _problem(spec) == message


def test_an_unreachable_host(web):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert _problem(f"http://127.0.0.1:{port}/mix.m3u?token=abc") == f"Cannot reach 127.0.0.1:{port}."


def test_a_404(web):
    message = _problem(web.url + "/nothing.m3u?key=s3cret")
    assert message == f"127.0.0.1:{web.port} has no /nothing.m3u (HTTP 404)."


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "asks for a sign-in for /mix.m3u (HTTP 401): it is not public."),
        (403, "answered HTTP 403 for /mix.m3u."),
        (500, "answered HTTP 500 for /mix.m3u."),
    ],
)
def test_refusals_and_errors(web, status, said):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.status = status
    assert _problem(url) == f"127.0.0.1:{web.port} {said}"


def test_a_server_error_is_tried_twice(web):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.status = 500
    _problem(url)
    assert web.requests[("GET", "/mix.m3u")] == 2


def test_a_timeout(web):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.drip = (1, 1.5)  # a byte every 1.5 s: the 2 s deadline passes first
    assert _problem(url) == f"127.0.0.1:{web.port} did not answer within 2 s for /mix.m3u."


def test_an_html_page_instead_of_a_playlist(web):
    url = _serve(web, "/share/abc", "<!DOCTYPE html><html><body>Sign in to see this playlist</body></html>")
    message = _problem(url)
    assert message.startswith(f"{url}: This is not a valid M3U, CSV, JSPF or XSPF file: it is a web page")


def test_an_answer_over_the_limit_stops_at_the_limit(web):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.oversize_mb, web.faults.oversize_length = 50, False  # no Content-Length to go by
    assert _problem(url) == f"127.0.0.1:{web.port} sent more than 1 MB for /mix.m3u (OUTSIDE_MAX_MB)."


def test_an_empty_playlist(web):
    url = _serve(web, "/empty.m3u", "#EXTM3U\n#PLAYLIST:Nothing yet\n")
    assert _problem(url) == f"{url} is empty: the file has no tracks in it."


def test_a_playlist_of_skipped_tracks_is_empty_and_says_why(web):
    track = "<track><location>file:///music/unknown.flac</location></track>"
    url = _serve(web, "/files.xspf", f"<playlist><trackList>{track * 2}</trackList></playlist>")
    assert _problem(url) == f"{url} is empty: 2 tracks skipped: only a location, no artist or title."


def test_invalid_encoding(web):
    url = _serve(web, "/mix.jspf", json.dumps(JSPF, ensure_ascii=False).encode("latin-1"))
    assert _problem(url) == f"{url}: this is not valid UTF-8 text (byte 0xf3 at position 60)."


def test_a_legacy_m3u_in_a_windows_code_page_is_still_read(web):
    url = _serve(web, "/old.m3u", M3U.encode("cp1252"))
    assert read_source(url).entries[0] == Entry("Björk", "Jóga", "", 200000)


def test_too_many_redirects(web):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.redirect_to = web.url + "{path}"  # to itself, for ever
    assert _problem(url) == f"127.0.0.1:{web.port} redirected more than 5 times for /mix.m3u."


def test_not_http_at_all(web):
    url = _serve(web, "/mix.m3u", M3U)
    web.faults.garbage = True
    assert _problem(url) == f"127.0.0.1:{web.port} did not answer in HTTP for /mix.m3u."


# --- ListenBrainz ----------------------------------------------------------------------------

SONGS = [
    Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000, mbid="5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01"),
    Entry("YOASOBI", "夜に駆ける", mbid="0c5b2a1e-1d6f-4b2b-9d0a-6c1e7f3a2b11"),
    Entry("Daft Punk", "Get Lucky", "Random Access Memories", 369000, isrc="USQX91300108"),
]


def test_a_listenbrainz_playlist_by_url_or_id(fake_listenbrainz):
    playlist = fake_listenbrainz.add_playlist("Autumn", SONGS)
    for spec in (
        f"https://listenbrainz.org/playlist/{playlist.mbid}",
        f"https://listenbrainz.org/playlist/{playlist.mbid}/?utm=x",
        f"https://api.listenbrainz.org/1/playlist/{playlist.mbid}",
        playlist.mbid.upper(),
    ):
        read = read_source(spec)
        assert read.title == "Autumn"
        assert read.origin == f"ListenBrainz playlist {playlist.mbid}"
    # The ISRC is Deezer's; JSPF carries recording ids only.
    assert read.entries == [*SONGS[:2], Entry("Daft Punk", "Get Lucky", "Random Access Memories", 369000)]
    assert fake_listenbrainz.requests[("GET", "/1/playlist/{mbid}")] == 4


def test_a_listenbrainz_identifier_may_be_a_single_string(fake_listenbrainz):
    fake_listenbrainz.identifier_as_list = False
    playlist = fake_listenbrainz.add_playlist("Autumn", SONGS)
    assert [e.mbid for e in read_source(playlist.mbid).entries] == [SONGS[0].mbid, SONGS[1].mbid, ""]


def test_weekly_exploration_is_the_newest_of_its_kind(fake_listenbrainz):
    for week in (1, 3, 2):
        fake_listenbrainz.add_playlist(
            f"Weekly Exploration, week {week}",
            SONGS[:week],
            created_for="alice",
            source_patch="weekly-exploration",
            date=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(weeks=week),
        )
    jams = fake_listenbrainz.add_playlist(
        "Weekly Jams", SONGS, created_for="alice", source_patch="weekly-jams"
    )
    fake_listenbrainz.add_playlist("Bob's", SONGS, created_for="bob", source_patch="weekly-exploration")
    playlist = read_source("listenbrainz:alice/weekly-exploration")
    assert playlist.title == "Weekly Exploration, week 3"
    assert len(playlist.entries) == 3
    assert read_source("listenbrainz:alice/Weekly-Jams").origin == (
        f"ListenBrainz weekly-jams for alice (playlist {jams.mbid})"
    )
    # One listing and one playlist a call.
    assert fake_listenbrainz.requests[("GET", "/1/user/{user}/playlists/createdfor")] == 2
    assert fake_listenbrainz.requests[("GET", "/1/playlist/{mbid}")] == 2


def test_a_listenbrainz_user_without_that_kind(fake_listenbrainz):
    fake_listenbrainz.add_playlist("Weekly Jams", SONGS, created_for="alice", source_patch="weekly-jams")
    assert _problem("listenbrainz:alice/daily-jams") == (
        "ListenBrainz has no daily-jams playlist for alice (it has weekly-jams)."
    )
    fake_listenbrainz.users.add("carol")
    assert _problem("listenbrainz:carol/weekly-jams") == (
        "ListenBrainz has no weekly-jams playlist for carol (it has made none for this user yet)."
    )


def test_an_unknown_listenbrainz_user_or_playlist(fake_listenbrainz):
    where = f"ListenBrainz at 127.0.0.1:{fake_listenbrainz.port}"
    assert _problem("listenbrainz:nobody/weekly-jams") == f"{where} has no user nobody (HTTP 404)."
    mbid = "7b2fd8b0-7b9e-4c5d-8a0b-5f0c2e1f8d4a"
    assert _problem(mbid) == f"{where} has no playlist {mbid} (HTTP 404)."


def test_an_empty_listenbrainz_playlist(fake_listenbrainz):
    playlist = fake_listenbrainz.add_playlist("Nothing", [])
    assert _problem(playlist.mbid) == (
        f"ListenBrainz playlist {playlist.mbid} is empty: the file has no tracks in it."
    )


def test_listenbrainz_answering_a_web_page(fake_listenbrainz):
    fake_listenbrainz.add_playlist("Weekly Jams", SONGS, created_for="alice", source_patch="weekly-jams")
    fake_listenbrainz.answer = lambda *args: (
        "/",
        200,
        "text/html",
        b"<!doctype html><html>Down for maintenance</html>",
    )
    assert _problem("listenbrainz:alice/weekly-jams") == (
        f"ListenBrainz at 127.0.0.1:{fake_listenbrainz.port} sent a web page (HTML) for user alice."
    )


# --- Deezer ----------------------------------------------------------------------------------


def _many(n):
    return [
        Entry(f"Artist {i}", f"Song {i}", f"Album {i}", 200000 + i * 1000, isrc=f"GBAYE{i:07d}")
        for i in range(n)
    ]


def test_a_deezer_playlist_with_isrcs(fake_deezer):
    playlist_id = fake_deezer.add_playlist("Road Trip", SONGS)
    for spec in (
        f"https://www.deezer.com/en/playlist/{playlist_id}",
        f"https://www.deezer.com/playlist/{playlist_id}?utm_source=share",
        f"https://deezer.com/fr-fr/playlist/{playlist_id}/",
    ):
        read = read_source(spec)
        assert (read.title, read.origin) == ("Road Trip", f"Deezer playlist {playlist_id}")
    # Deezer durations are whole seconds, and it has no MusicBrainz ids.
    assert read.entries == [
        Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000),
        Entry("YOASOBI", "夜に駆ける"),
        Entry("Daft Punk", "Get Lucky", "Random Access Memories", 369000, isrc="USQX91300108"),
    ]


def test_a_long_deezer_playlist_is_read_page_by_page(fake_deezer):
    fake_deezer.embedded = 100
    songs = _many(180)
    playlist_id = fake_deezer.add_playlist("Long", songs)
    read = read_source(f"https://www.deezer.com/playlist/{playlist_id}")
    assert read.entries == songs
    # The playlist with 100 embedded, then pages of 25 for the other 80.
    assert fake_deezer.requests == {("GET", "/playlist/{id}"): 1, ("GET", "/playlist/{id}/tracks"): 4}


def test_a_deezer_listing_without_isrcs_still_reads(fake_deezer):
    fake_deezer.isrc_in_listing = False
    playlist_id = fake_deezer.add_playlist("Road Trip", _many(3))
    assert [e.isrc for e in read_source(f"https://www.deezer.com/playlist/{playlist_id}").entries] == [
        "",
        "",
        "",
    ]


def test_a_deezer_error_object(fake_deezer):
    assert _problem("https://www.deezer.com/playlist/42") == (
        "Deezer has no public playlist 42 (it says: no data)."
    )
    playlist_id = fake_deezer.add_playlist("Road Trip", SONGS)
    fake_deezer.faults_error = QUOTA
    assert _problem(f"https://www.deezer.com/playlist/{playlist_id}") == (
        f"Deezer refused playlist {playlist_id}: Quota limit exceeded (Exception, code 4)."
    )


def test_an_empty_deezer_playlist(fake_deezer):
    playlist_id = fake_deezer.add_playlist("Nothing yet", [])
    assert _problem(f"https://www.deezer.com/playlist/{playlist_id}") == (
        f"Deezer playlist {playlist_id} is empty: it has no tracks."
    )


def test_a_deezer_playlist_over_the_entry_limit(fake_deezer, settings):
    settings.IMPORT_MAX_ENTRIES = 30
    playlist_id = fake_deezer.add_playlist("Long", _many(80))
    message = _problem(f"https://www.deezer.com/playlist/{playlist_id}")
    assert message.startswith(
        f"Deezer playlist {playlist_id} has more than 30 tracks, the most MediaSage reads"
    )
