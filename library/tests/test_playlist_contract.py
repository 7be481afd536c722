"""Writing playlists in place, the same on every server (the `server` fixture: Plex, then
Jellyfin): the playlist keeps its id, ends up exactly as asked, costs few requests, and is
put back as it was when the server fails midway. What only one server does is in
test_plex_playlists.py and test_jellyfin_playlists.py."""

import random

import pytest

from library.sources import SourceError


@pytest.fixture
def adapter(server):
    server.fake.library.add_tracks(150)  # 300 tracks
    return server.adapter.from_settings()


def _made(server, adapter, keys):
    return adapter.create_playlist("Mix", keys).id


def _ten_changes(server):
    """A 200-track playlist, and what it becomes when five of its tracks go (from all over
    it) and five new ones come at its end."""
    old = server.keys(200)
    new = [k for i, k in enumerate(old) if i % 40 != 7] + server.keys(205)[200:]
    return old, new


def test_update_in_place_keeps_playlist_id(server, adapter):
    playlist_id = _made(server, adapter, server.keys(30))
    for wanted in (server.keys(40)[10:], server.keys(40)[::-1], server.keys(5), server.keys(60)[::3]):
        saved = adapter.update_playlist(playlist_id, wanted)
        assert saved.id == playlist_id
        assert server.contents(playlist_id) == wanted
    assert [p.id for p in adapter.list_playlists()] == [playlist_id]


def test_any_change_ends_with_exactly_the_tracks_asked_for_in_order(server, adapter):
    rng = random.Random(15)
    keys = server.keys(300)
    playlist_id = _made(server, adapter, rng.sample(keys, 50))
    for _ in range(12):
        current = server.contents(playlist_id)
        wanted = [k for k in current if rng.random() > 0.2]  # some go
        for key in rng.sample(keys, 8):  # some come, anywhere (or move, if already there)
            if key in wanted:
                wanted.remove(key)
            wanted.insert(rng.randrange(len(wanted) + 1), key)
        if rng.random() < 0.3:
            rng.shuffle(wanted)
        adapter.update_playlist(playlist_id, wanted + wanted[:3])  # a key twice counts once
        assert server.contents(playlist_id) == wanted


def test_counts_say_what_changed_not_what_moved(server, adapter):
    old, new = _ten_changes(server)
    playlist_id = _made(server, adapter, old)
    saved = adapter.update_playlist(playlist_id, new[::-1], title="Mix")
    assert (saved.title, saved.added, saved.removed) == ("Mix", 5, 5)
    assert server.contents(playlist_id) == new[::-1]


def test_ten_changes_cost_at_most_ten_requests(server, adapter):
    old, new = _ten_changes(server)
    playlist_id = _made(server, adapter, old)
    entries = adapter.read_playlist(playlist_id)
    server.fake.reset_counts()
    saved = adapter.update_playlist(playlist_id, new, entries=entries)
    assert server.contents(playlist_id) == new
    assert saved.requests == server.fake.total_requests <= 10


def test_an_unchanged_playlist_costs_only_the_read(server, adapter):
    playlist_id = _made(server, adapter, server.keys(200))
    server.fake.reset_counts()
    adapter.read_playlist(playlist_id)
    read = server.fake.total_requests
    server.fake.reset_counts()
    saved = adapter.update_playlist(playlist_id, server.keys(200))
    assert (saved.added, saved.removed) == (0, 0)
    assert saved.requests == server.fake.total_requests == read


def test_read_playlist_names_each_entry_and_its_track(server, adapter):
    playlist_id = _made(server, adapter, server.keys(3)[::-1])
    entries = adapter.read_playlist(playlist_id)
    assert [key for _, key in entries] == server.keys(3)[::-1]
    assert all(entry for entry, _ in entries)


@pytest.mark.parametrize("change", ["adds", "removes"])
def test_failure_midway_leaves_playlist_as_it_was(server, adapter, change):
    old = server.keys(200)
    new = [k for i, k in enumerate(old) if i % 10 != 3]  # twenty go, twenty come all over it
    for n, key in enumerate(server.keys(220)[200:]):
        new.insert(5 + 9 * n, key)
    playlist_id = _made(server, adapter, old)
    adapter.max_url_chars = 100  # a few ids an add or removal, so there are several
    setattr(server.fake.faults, f"fail_playlist_{change}_after", 1)
    with pytest.raises(SourceError) as exc:
        adapter.update_playlist(playlist_id, new)
    assert "answered HTTP 500 for the playlist" in exc.value.message
    assert "half changed" not in exc.value.message
    assert server.contents(playlist_id) == old


def test_the_modes_of_save_playlist_write_in_place(server, adapter):
    playlist_id = _made(server, adapter, server.keys(10))
    first = server.keys(20)[5:][::-1]
    replaced = adapter.save_playlist("Mix", first, mode="replace", playlist_id=playlist_id)
    assert (replaced.id, replaced.added, replaced.removed) == (playlist_id, 10, 5)
    appended = adapter.save_playlist("Mix", server.keys(25), mode="append", playlist_id=playlist_id)
    assert server.contents(playlist_id) == first + server.keys(5) + server.keys(25)[20:]
    assert (appended.added, appended.removed) == (10, 0)


def test_a_new_playlist_gets_its_summary_and_the_summary_can_change(server, adapter):
    saved = adapter.create_playlist("Rainy Sunday", server.keys(4), summary="Slow jazz. Nothing live.")
    assert server.contents(saved.id) == server.keys(4)
    assert server.summary(saved.id) == "Slow jazz. Nothing live."
    adapter.set_playlist_summary(saved.id, "Slower jazz. Still nothing live.")
    assert server.summary(saved.id) == "Slower jazz. Still nothing live."
    assert [p.title for p in adapter.list_playlists()] == ["Rainy Sunday"]
