"""What only Jellyfin does when writing playlists in place, against the fake Jellyfin over
HTTP. What every server does is in test_playlist_contract.py.

Jellyfin appends only, skips a track the playlist holds already, removes every copy of a
track at once, and lets no API key move an entry: a track out of place is removed and
added again, with everything after it."""

import pytest

from library.fakes.jellyfin import item_id
from library.sources import SourceError
from library.sources.jellyfin import JellyfinSource


@pytest.fixture
def jellyfin(fake_jellyfin):
    fake_jellyfin.library.add_tracks(100)  # 250 tracks
    return JellyfinSource(fake_jellyfin.url, fake_jellyfin.api_key, timeout=1)


def _keys(fake, n):
    return [item_id(k) for k in list(fake.library.tracks)[:n]]


def _made(jellyfin, fake, keys):
    playlist_id = jellyfin.create_playlist("Mix", keys).id
    fake.reset_counts()
    return playlist_id, fake.playlists[playlist_id]


def _writes(fake):
    return {route: n for route, n in fake.requests.items() if route[0] != "GET"}


def test_a_change_costs_a_removal_and_an_add_per_170_tracks_from_it_to_the_end(jellyfin, fake_jellyfin):
    playlist_id, stored = _made(jellyfin, fake_jellyfin, _keys(fake_jellyfin, 200))
    wanted = [k for i, k in enumerate(_keys(fake_jellyfin, 200)) if i % 40 != 7]
    for n, key in enumerate(_keys(fake_jellyfin, 205)[200:]):
        wanted.insert(20 + 40 * n, key)  # five new tracks all over it
    saved = jellyfin.update_playlist(playlist_id, wanted)
    assert stored.items == wanted
    assert (saved.added, saved.removed) == (5, 5)
    # From the first new track (the 21st) on, 180 ids go and come back, 170 a request.
    assert _writes(fake_jellyfin) == {
        ("DELETE", "/Playlists/{id}/Items"): 2,
        ("POST", "/Playlists/{id}/Items"): 2,
    }


def test_tracks_before_the_first_change_stay_and_the_rest_come_again(jellyfin, fake_jellyfin):
    keys = _keys(fake_jellyfin, 10)
    playlist_id, stored = _made(jellyfin, fake_jellyfin, keys)
    wanted = keys[:6] + keys[7:] + [keys[6]]  # the seventh track goes last
    jellyfin.update_playlist(playlist_id, wanted)
    assert stored.items == wanted
    assert fake_jellyfin.requests[("DELETE", "/Playlists/{id}/Items")] == 1
    assert fake_jellyfin.requests[("POST", "/Playlists/{id}/Items")] == 1
    # No move: Jellyfin refuses an API key that (jellyfin#12999).
    assert fake_jellyfin.requests[("POST", "/Playlists/{id}/Items/{id}/Move/{index}")] == 0


def test_a_track_held_twice_ends_up_once_where_it_belongs(jellyfin, fake_jellyfin):
    keys = _keys(fake_jellyfin, 6)
    playlist_id, stored = _made(jellyfin, fake_jellyfin, keys)
    stored.items = keys[:3] + [keys[1]] + keys[3:]  # as older Jellyfin versions allowed
    assert [key for _, key in jellyfin.read_playlist(playlist_id)] == stored.items
    jellyfin.update_playlist(playlist_id, keys)
    assert stored.items == keys


def test_a_failure_that_cannot_be_undone_says_so(jellyfin, fake_jellyfin):
    keys = _keys(fake_jellyfin, 30)
    playlist_id, _ = _made(jellyfin, fake_jellyfin, keys)
    fake_jellyfin.faults.fail_playlist_adds_after = 0
    fake_jellyfin.faults.fail_playlist_removes_after = 1  # the update's removal, then none
    with pytest.raises(SourceError) as exc:
        jellyfin.update_playlist(playlist_id, keys[:10] + keys[20:] + keys[10:20])
    jellyfin_at = f"Jellyfin at {fake_jellyfin.url.removeprefix('http://')}"
    assert exc.value.message == (
        f"{jellyfin_at} answered HTTP 500 for the playlist. Putting it back as it was failed too, "
        f"so it may be half changed: {jellyfin_at} answered HTTP 500 for the playlist's entries."
    )


def test_setting_the_overview_keeps_the_rest_of_the_playlist(jellyfin, fake_jellyfin):
    playlist_id, stored = _made(jellyfin, fake_jellyfin, _keys(fake_jellyfin, 3))
    jellyfin.set_playlist_summary(playlist_id, "Rainy Sunday jazz. Nothing live.")
    assert (stored.name, stored.overview, stored.items) == (
        "Mix",
        "Rainy Sunday jazz. Nothing live.",
        _keys(fake_jellyfin, 3),
    )
    # Read the item, post it back whole: the only way to an Overview (no playlist route takes one).
    assert fake_jellyfin.requests == {("GET", "/Items/{id}"): 1, ("POST", "/Items/{id}"): 1}
