"""Plex and Jellyfin configured together: separate caches, statuses and playlists."""

import pytest
from django.core.management import call_command

from library.fakes.jellyfin import item_id
from library.models import Track
from library.sync import sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def both(fake_plex, fake_jellyfin):
    for source in ("plex", "jellyfin"):
        sync(source)
    return fake_plex, fake_jellyfin


def test_each_server_has_its_own_cache(both):
    assert Track.objects.filter(source="plex").count() == 150
    assert Track.objects.filter(source="jellyfin").count() == 150
    # The same generated library on both: the same songs, never the same rows.
    assert not set(Track.objects.filter(source="plex").values_list("rating_key", flat=True)) & set(
        Track.objects.filter(source="jellyfin").values_list("rating_key", flat=True)
    )


def test_status_and_footer_show_each_server(client, both):
    data = client.get("/api/library/status").json()
    assert [s["source"] for s in data["servers"]] == ["plex", "jellyfin"]
    assert all(s["track_count"] == 150 for s in data["servers"])
    footer = client.get("/library/footer").content.decode()
    assert "Plex library:" in footer and "Jellyfin library:" in footer


def test_a_sync_of_one_server_leaves_the_other_free(client, both):
    assert client.post("/api/library/sync", {"source": "jellyfin"}).status_code == 202
    assert client.post("/api/library/sync", {"source": "jellyfin"}).status_code == 409
    assert client.post("/api/library/sync", {"source": "plex"}).status_code == 202


def test_a_failing_server_does_not_touch_the_other(both):
    plex, jellyfin = both
    jellyfin.faults.status = 500
    with pytest.raises(Exception):  # noqa: B017 - the kind is tested in test_jellyfin
        sync("jellyfin")
    assert sync("plex").track_count == 150
    assert Track.objects.filter(source="jellyfin").count() == 150


def test_builder_and_save_work_against_jellyfin(client, both):
    _, jellyfin = both
    page = client.get("/", {"source": "jellyfin"}).content.decode()
    assert 'data-testid="match-count">150<' in page and 'aria-current="page">Jellyfin' in page
    keys = list(Track.objects.filter(source="jellyfin").values_list("rating_key", flat=True)[:20])
    result = client.post(
        "/playlists/save", {"source": "jellyfin", "title": "Fin", "keys": ",".join(keys)}
    ).content.decode()
    assert "Saved “Fin” to Jellyfin: 20 tracks added" in result
    (playlist,) = jellyfin.playlists.values()
    assert playlist.items == keys


def test_importplaylist_to_jellyfin(both, tmp_path, capsys):
    _, jellyfin = both
    tracks = Track.objects.filter(source="jellyfin", is_live=False).order_by("rating_key")[:3]
    path = tmp_path / "list.csv"
    path.write_text("artist,title\n" + "".join(f'"{t.artist}","{t.title}"\n' for t in tracks))
    call_command("importplaylist", str(path), "--to", "jellyfin", "--name", "From CSV", "--mode", "create")
    out = capsys.readouterr().out
    assert "Saved “From CSV” to jellyfin" in out
    (playlist,) = jellyfin.playlists.values()
    assert set(playlist.items) <= {t.rating_key for t in Track.objects.filter(source="jellyfin")}
    assert jellyfin.total_requests < 15


def test_admin_separates_the_servers(admin_client, both):
    page = admin_client.get("/admin/library/track/", {"source__exact": "jellyfin"}).content.decode()
    assert "\n150 tracks\n" in page
    assert "source__exact=jellyfin" in page
    states = admin_client.get("/admin/library/syncstate/").content.decode()
    assert "Plex" in states and "Jellyfin" in states


def test_a_song_with_a_guest_is_one_credit_on_plex_and_two_on_jellyfin(both):
    plex, _ = both
    key, track = next((k, t) for k, t in plex.library.tracks.items() if " feat. " in (t.track_artist or ""))
    on_plex = Track.objects.get(source="plex", rating_key=str(key))
    on_jellyfin = Track.objects.get(source="jellyfin", rating_key=item_id(key))
    host, guest = track.track_artist.split(" feat. ")
    assert (on_plex.artist, on_plex.artists) == (track.track_artist, [track.track_artist])
    assert (on_jellyfin.artist, on_jellyfin.artists) == (f"{host}, {guest}", [host, guest])
    assert on_plex.title == on_jellyfin.title
