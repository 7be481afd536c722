"""What only Plex does when saving playlists, against the fake Plex over HTTP. What every
server does is in test_sync_contract.py."""

import pytest

from library.sources import SourceError
from library.sources.plex import PlexSource


@pytest.fixture
def plex(fake_plex):
    return PlexSource(fake_plex.url, fake_plex.token, timeout=2)


def _keys(fake_plex, n):
    return [str(k) for k in list(fake_plex.library.tracks)[:n]]


def _contents(fake_plex, playlist_id):
    return [str(k) for k in fake_plex.playlists[int(playlist_id)].items]


def test_create_writes_the_tracks_in_order_with_few_requests(plex, fake_plex):
    keys = _keys(fake_plex, 120)[::-1]
    fake_plex.reset_counts()
    saved = plex.save_playlist("Road trip ✈", keys)
    assert _contents(fake_plex, saved.id) == keys
    assert fake_plex.playlists[int(saved.id)].title == "Road trip ✈"
    assert saved.added == 120 and saved.removed == 0
    # identity, then one create: not one request per track
    assert fake_plex.total_requests == saved.requests == 2
    assert saved.url.startswith(fake_plex.url + "/web/index.html#!/server/" + fake_plex.machine_identifier)


def test_large_playlists_are_chunked_under_the_url_limit(plex, fake_plex):
    fake_plex.library.add_tracks(3000)
    keys = [str(k) for k in fake_plex.library.tracks][:3000]
    fake_plex.reset_counts()
    saved = plex.save_playlist("Everything", keys)
    assert _contents(fake_plex, saved.id) == keys
    puts = fake_plex.requests[("PUT", "/playlists/{id}/items")]
    assert puts >= 1  # an unchunked create would have been refused with 414
    assert saved.requests == 2 + puts <= 2 + 3000 // 600 + 1


def _second_add_fails(plex, fake_plex):
    """Plex fails on the second request that adds items, with ~30 keys a request."""
    plex.max_url_chars = 200
    fake_plex.faults.fail_playlist_adds_after = 1


def test_plex_down_while_creating_leaves_no_half_playlist(plex, fake_plex):
    _second_add_fails(plex, fake_plex)
    with pytest.raises(SourceError):
        plex.save_playlist("Everything", _keys(fake_plex, 100))
    assert fake_plex.playlists == {}


def test_failed_replace_of_a_long_playlist_puts_it_back_as_it_was(plex, fake_plex):
    old = _keys(fake_plex, 100)[40:]
    first = plex.save_playlist("Mix", old)
    _second_add_fails(plex, fake_plex)
    with pytest.raises(SourceError):
        plex.save_playlist("Mix", _keys(fake_plex, 100)[:40], mode="replace", playlist_id=first.id)
    assert _contents(fake_plex, first.id) == old


def _builtin(fake_plex, smart):
    return next(p for p in fake_plex.builtin_playlists.values() if p.smart == smart)


def test_smart_playlists_are_never_offered_as_targets(plex, fake_plex):
    offered = {p.title for p in plex.list_playlists()}
    assert not offered & {p.title for p in fake_plex.builtin_playlists.values()}
    saved = plex.save_playlist("Mix", _keys(fake_plex, 3))
    assert [p.id for p in plex.list_playlists()] == [saved.id]


@pytest.mark.parametrize(
    ("smart", "said"), [(True, "is a smart playlist"), (False, "is a read-only playlist")]
)
@pytest.mark.parametrize("mode", ["replace", "append"])
def test_saving_to_a_smart_or_read_only_playlist_says_plex_does_not_allow_it(
    plex, fake_plex, smart, said, mode
):
    target = _builtin(fake_plex, smart)
    before = target.listed(fake_plex.library)
    with pytest.raises(SourceError) as exc:
        plex.save_playlist("Mix", _keys(fake_plex, 3), mode=mode, playlist_id=str(target.key))
    assert f"{target.title!r} {said}: Plex does not let apps change it." == exc.value.message
    assert target.listed(fake_plex.library) == before


@pytest.mark.django_db(transaction=True)
def test_saving_by_the_id_of_a_smart_playlist_explains_itself(fake_plex):
    from library.sync import sync
    from playlists import saving

    sync("plex")
    smart = _builtin(fake_plex, True)
    with pytest.raises(SourceError, match="is a smart playlist: Plex does not let apps change it"):
        saving.save("plex", "Mix", _keys(fake_plex, 3), mode="replace", playlist_id=str(smart.key))
    with pytest.raises(SourceError, match="has no playlist '999999'"):
        saving.save("plex", "Mix", _keys(fake_plex, 3), mode="append", playlist_id="999999")


# -- writing in place -------------------------------------------------------------------------


def _made(plex, fake_plex, n):
    fake_plex.library.add_tracks(max(0, n + 10 - len(fake_plex.library.tracks)))
    return plex.create_playlist("Mix", _keys(fake_plex, n)).id


def _writes(fake_plex):
    """Requests that changed a playlist or read it again, by route."""
    return {route: n for route, n in fake_plex.requests.items() if "/playlists/{id}/items" in route[1]}


def test_only_out_of_place_tracks_move(plex, fake_plex):
    playlist_id = _made(plex, fake_plex, 20)
    keys = _keys(fake_plex, 20)
    wanted = keys[:3] + keys[4:15] + [keys[3]] + keys[15:]  # one track further down
    wanted[17], wanted[18] = wanted[18], wanted[17]  # and two neighbours swapped
    entries = plex.read_playlist(playlist_id)
    fake_plex.reset_counts()
    saved = plex.update_playlist(playlist_id, wanted, entries=entries)
    assert _contents(fake_plex, playlist_id) == wanted
    assert _writes(fake_plex) == {("PUT", "/playlists/{id}/items/{id}/move"): 2}
    assert saved.requests == 2 and (saved.added, saved.removed) == (0, 0)
    # The entries kept their playlistItemIDs: nothing was removed and added again.
    assert sorted(plex.read_playlist(playlist_id)) == sorted(entries)


def test_tracks_added_mid_playlist_cost_one_move_each(plex, fake_plex):
    """Plex adds only at the end, and does not say which playlistItemIDs it gave: the
    new entries are read back (one request), then moved into place (one each)."""
    playlist_id = _made(plex, fake_plex, 200)
    old, extra = _keys(fake_plex, 200), _keys(fake_plex, 205)[200:]
    wanted = [k for i, k in enumerate(old) if i % 40 != 7]
    for n, key in enumerate(extra):
        wanted.insert(20 + 40 * n, key)
    entries = plex.read_playlist(playlist_id)
    fake_plex.reset_counts()
    saved = plex.update_playlist(playlist_id, wanted, entries=entries)
    assert _contents(fake_plex, playlist_id) == wanted
    assert _writes(fake_plex) == {
        ("PUT", "/playlists/{id}/items"): 1,
        ("DELETE", "/playlists/{id}/items/{id}"): 5,
        ("GET", "/playlists/{id}/items"): 1,  # the five new entries only
        ("PUT", "/playlists/{id}/items/{id}/move"): 5,
    }
    assert saved.requests == 12


def test_a_failed_move_puts_the_playlist_back_in_order(plex, fake_plex):
    playlist_id = _made(plex, fake_plex, 30)
    old = _contents(fake_plex, playlist_id)
    fake_plex.faults.fail_playlist_moves_after = 3
    with pytest.raises(SourceError, match="answered HTTP 500 for the playlist's order"):
        plex.update_playlist(playlist_id, _keys(fake_plex, 40)[5:][::-1])
    assert _contents(fake_plex, playlist_id) == old


def test_a_failure_that_cannot_be_undone_says_so(plex, fake_plex):
    playlist_id = _made(plex, fake_plex, 30)
    fake_plex.faults.fail_playlist_moves_after = 0
    fake_plex.faults.fail_playlist_removes_after = 5  # the five the update removes, then none
    with pytest.raises(SourceError) as exc:
        plex.update_playlist(playlist_id, _keys(fake_plex, 35)[5:][::-1])
    plex_at = f"Plex at {fake_plex.url.removeprefix('http://')}"
    assert exc.value.message == (
        f"{plex_at} answered HTTP 500 for the playlist's order. Putting it back as it was failed too, "
        f"so it may be half changed: {plex_at} answered HTTP 500 for the playlist."
    )


def test_a_summary_that_cannot_be_set_leaves_no_playlist_behind(plex, fake_plex, monkeypatch):
    monkeypatch.setattr(fake_plex, "max_url_length", 600)  # the summary's request gets 414
    with pytest.raises(SourceError, match="answered HTTP 414 for the playlist's summary"):
        plex.create_playlist("Rainy Sunday", _keys(fake_plex, 4), summary="Slow jazz. " * 60)
    assert fake_plex.playlists == {}


def test_a_long_summary_is_cut_short_to_fit_a_url(plex, fake_plex):
    summary = "雨の日曜日のジャズ。" * 300  # 27 KB in a URL
    saved = plex.create_playlist("Rainy Sunday", _keys(fake_plex, 4), summary=summary)
    kept = fake_plex.playlists[int(saved.id)].summary
    assert kept.endswith("…") and summary.startswith(kept[:-1]) and len(kept) > 600


def test_a_reshuffle_clears_and_refills_rather_than_moving_every_track(plex, fake_plex):
    playlist_id = _made(plex, fake_plex, 200)
    wanted = _keys(fake_plex, 200)[::-1]  # 199 moves in place
    entries = plex.read_playlist(playlist_id)
    fake_plex.reset_counts()
    saved = plex.update_playlist(playlist_id, wanted, entries=entries)
    assert _contents(fake_plex, playlist_id) == wanted
    assert _writes(fake_plex) == {("DELETE", "/playlists/{id}/items"): 1, ("PUT", "/playlists/{id}/items"): 1}
    assert (saved.id, saved.requests, saved.added, saved.removed) == (playlist_id, 2, 0, 0)


def test_a_failed_refill_puts_the_playlist_back_as_it_was(plex, fake_plex):
    playlist_id = _made(plex, fake_plex, 100)
    old = _contents(fake_plex, playlist_id)
    plex.max_url_chars = 200  # about 30 keys an add
    fake_plex.faults.fail_playlist_adds_after = 1
    with pytest.raises(SourceError, match="answered HTTP 500 for the playlist"):
        plex.update_playlist(playlist_id, old[::-1])
    assert _contents(fake_plex, playlist_id) == old
