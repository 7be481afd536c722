"""The fake Deezer API answers in Deezer's published format, and its command serves a
playlist from the demo library."""

import re

import pytest
import requests

from library.fakes.plexdata import FakeLibrary
from playlists.fakes.deezer import QUOTA
from playlists.fakes.demo import library_entries
from playlists.outside import read_source


@pytest.fixture(scope="module")
def entries():
    return library_entries(FakeLibrary(tracks=300, seed=3), 60, seed=1)


def test_a_playlist_embeds_its_tracks_with_names_seconds_and_isrc(fake_deezer, entries):
    playlist_id = fake_deezer.add_playlist("Road Trip", entries)
    answer = requests.get(f"{fake_deezer.url}/playlist/{playlist_id}", timeout=5).json()
    assert (answer["id"], answer["title"], answer["nb_tracks"], answer["type"]) == (
        playlist_id,
        "Road Trip",
        60,
        "playlist",
    )
    track = answer["tracks"]["data"][0]
    assert track["title"] == entries[0].title
    assert track["artist"]["name"] == entries[0].artist and track["album"]["title"] == entries[0].album
    assert track["duration"] == round(entries[0].duration_ms / 1000)
    assert track["isrc"] == entries[0].isrc
    assert "next" not in answer["tracks"]


def test_the_embedded_list_may_lack_isrc(fake_deezer, entries):
    fake_deezer.isrc_in_listing = False
    playlist_id = fake_deezer.add_playlist("Road Trip", entries)
    answer = requests.get(f"{fake_deezer.url}/playlist/{playlist_id}", timeout=5).json()
    assert not any("isrc" in t for t in answer["tracks"]["data"])


def test_long_playlists_page_through_next(fake_deezer, entries):
    fake_deezer.embedded = 20
    playlist_id = fake_deezer.add_playlist("Road Trip", entries)
    listing = requests.get(f"{fake_deezer.url}/playlist/{playlist_id}", timeout=5).json()["tracks"]
    assert listing["next"] == f"{fake_deezer.url}/playlist/{playlist_id}/tracks?index=20"
    page = requests.get(listing["next"], timeout=5).json()
    assert (len(page["data"]), page["total"], page["next"]) == (
        25,
        60,
        f"{fake_deezer.url}/playlist/{playlist_id}/tracks?index=45",
    )
    last = requests.get(page["next"], timeout=5).json()
    assert len(last["data"]) == 15 and "next" not in last


def test_errors_are_200_with_an_error_object(fake_deezer):
    answer = requests.get(f"{fake_deezer.url}/playlist/1", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"error": {"type": "DataException", "message": "no data", "code": 800}}
    fake_deezer.faults_error = QUOTA
    assert requests.get(f"{fake_deezer.url}/playlist/1/tracks", timeout=5).json() == {"error": QUOTA}


def test_requests_are_counted_by_route(fake_deezer, entries):
    playlist_id = fake_deezer.add_playlist("Road Trip", entries)
    requests.get(f"{fake_deezer.url}/playlist/{playlist_id}", timeout=5)
    requests.get(f"{fake_deezer.url}/playlist/{playlist_id}/tracks?index=25", timeout=5)
    assert fake_deezer.requests == {("GET", "/playlist/{id}"): 1, ("GET", "/playlist/{id}/tracks"): 1}


def test_the_command_serves_a_paged_playlist_until_interrupted(serve_command, settings):
    with serve_command("fakedeezer", "--port", "0", "--tracks", "200") as line:
        settings.DEEZER_API_URL = re.search(r"http://[\d.]+:\d+", line)[0]
        playlist = read_source(re.search(r"https://www\.deezer\.com/playlist/\d+", line)[0])
        assert playlist.title == "Road Trip (Deezer)" and len(playlist.entries) == 120
