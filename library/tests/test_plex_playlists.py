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
