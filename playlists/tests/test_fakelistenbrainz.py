"""The fake ListenBrainz API answers in ListenBrainz's published format, and its
command serves the demo library's playlists."""

import re

import pytest
import requests

from library.fakes.plexdata import FakeLibrary, recording_mbid
from playlists.fakes.demo import fill_listenbrainz, library_entries
from playlists.outside import read_source


@pytest.fixture(scope="module")
def library():
    return FakeLibrary(tracks=300, seed=3)


def test_a_playlist_is_jspf_with_recording_urls_and_the_track_extension(fake_listenbrainz, library):
    entries = library_entries(library, 10, seed=1, strangers=0)
    playlist = fake_listenbrainz.add_playlist("Autumn", entries)
    answer = requests.get(f"{fake_listenbrainz.url}/1/playlist/{playlist.mbid}", timeout=5)
    assert answer.headers["Content-Type"].startswith("application/json")
    jspf = answer.json()["playlist"]
    assert jspf["identifier"] == f"https://listenbrainz.org/playlist/{playlist.mbid}"
    first = jspf["track"][0]
    assert first["title"] == entries[0].title and first["creator"] == entries[0].artist
    if entries[0].mbid:
        assert first["identifier"] == [f"https://musicbrainz.org/recording/{entries[0].mbid}"]
    extension = first["extension"]["https://musicbrainz.org/doc/jspf#track"]
    assert extension["added_by"] == "listenbrainz"
    assert extension["artist_identifiers"][0].startswith("https://musicbrainz.org/artist/")


def test_identifiers_can_come_as_plain_strings(fake_listenbrainz):
    fake_listenbrainz.identifier_as_list = False
    entries = [e for e in library_entries(FakeLibrary(tracks=50), 5, seed=2, strangers=0) if e.mbid]
    playlist = fake_listenbrainz.add_playlist("Autumn", entries)
    track = requests.get(f"{fake_listenbrainz.url}/1/playlist/{playlist.mbid}", timeout=5).json()["playlist"][
        "track"
    ][0]
    assert track["identifier"] == f"https://musicbrainz.org/recording/{entries[0].mbid}"


def test_created_for_lists_newest_first_without_tracks(fake_listenbrainz, library):
    fill_listenbrainz(fake_listenbrainz, library, user="alice", size=5)
    answer = requests.get(
        f"{fake_listenbrainz.url}/1/user/alice/playlists/createdfor?count=4", timeout=5
    ).json()
    assert (answer["count"], answer["offset"], answer["playlist_count"]) == (4, 0, 6)
    listed = [item["playlist"] for item in answer["playlists"]]
    assert [p["date"] for p in listed] == sorted((p["date"] for p in listed), reverse=True)
    assert all(p["track"] == [] for p in listed)
    patches = [
        p["extension"]["https://musicbrainz.org/doc/jspf#playlist"]["additional_metadata"][
            "algorithm_metadata"
        ]["source_patch"]
        for p in listed
    ]
    assert patches == ["weekly-jams", "weekly-exploration"] * 2


def test_unknown_users_and_playlists_are_404_with_a_json_error(fake_listenbrainz):
    answer = requests.get(f"{fake_listenbrainz.url}/1/user/nobody/playlists/createdfor", timeout=5)
    assert (answer.status_code, answer.json()) == (404, {"code": 404, "error": "Cannot find user: nobody"})
    mbid = "7b2fd8b0-7b9e-4c5d-8a0b-5f0c2e1f8d4a"
    answer = requests.get(f"{fake_listenbrainz.url}/1/playlist/{mbid}", timeout=5)
    assert answer.status_code == 404 and answer.json()["error"] == f"Cannot find playlist: {mbid}"


def test_requests_are_counted_by_route(fake_listenbrainz):
    playlist = fake_listenbrainz.add_playlist("Autumn", [])
    for _ in range(2):
        requests.get(f"{fake_listenbrainz.url}/1/playlist/{playlist.mbid}", timeout=5)
    assert fake_listenbrainz.requests == {("GET", "/1/playlist/{mbid}"): 2}


def test_demo_playlists_carry_the_demo_library_recording_ids(library):
    entries = library_entries(library, 40, seed=7, strangers=0)
    known = {recording_mbid(t) for t in library.tracks.values()} - {""}
    tagged = [e for e in entries if e.mbid]
    assert len(entries) == 40 and len(tagged) > 30
    assert all(e.mbid in known for e in tagged)


def test_the_command_serves_weekly_exploration_until_interrupted(serve_command, settings):
    with serve_command("fakelistenbrainz", "--port", "0", "--tracks", "200", "--user", "alice") as line:
        assert "listenbrainz:alice/weekly-exploration" in line
        settings.LISTENBRAINZ_API_URL = re.search(r"http://[\d.]+:\d+", line)[0]
        playlist = read_source("listenbrainz:alice/weekly-exploration")
        assert playlist.title.startswith("Weekly Exploration for alice") and len(playlist.entries) == 50
