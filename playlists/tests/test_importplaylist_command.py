import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playlists.tests.conftest import studio_tracks

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_reports_matches_saves_and_counts_requests(synced, m3u, capsys):
    tracks = studio_tracks(10)
    call_command("importplaylist", str(m3u(tracks)), "--to", "plex")
    out = capsys.readouterr().out
    assert "12 entries: 10 matched, 0 ambiguous, 2 unmatched" in out
    assert "✗  Nobody Here - Not A Real Song: not in the library" in out
    (playlist,) = synced.playlists.values()
    assert playlist.title == "Friday Night"
    assert [str(k) for k in playlist.items] == [t.rating_key for t in tracks]
    # identity, list playlists, create: nothing per track
    assert "Requests to the media server: 3." in out
    assert synced.total_requests == 3


def test_import_takes_the_original_album_of_a_recording_also_on_a_best_of(fake_plex, best_of, m3u, capsys):
    original, copy = best_of
    call_command("importplaylist", str(m3u([original])))
    out = capsys.readouterr().out
    assert "3 entries: 1 matched, 0 ambiguous, 2 unmatched" in out
    assert f"on 2 albums; took {original.album} (1985)" in out
    (playlist,) = fake_plex.playlists.values()
    assert [str(k) for k in playlist.items] == [original.rating_key]


def test_reimport_updates_the_same_playlist(synced, m3u):
    tracks = studio_tracks(10)
    call_command("importplaylist", str(m3u(tracks[:4])))
    call_command("importplaylist", str(m3u(tracks[4:])))
    (playlist,) = synced.playlists.values()
    assert [str(k) for k in playlist.items] == [t.rating_key for t in tracks[4:]]


def test_dry_run_saves_nothing(synced, m3u, capsys):
    call_command("importplaylist", str(m3u(studio_tracks(3))), "--dry-run")
    assert "Dry run" in capsys.readouterr().out
    assert synced.playlists == {}


def test_empty_cache_is_refused_unless_asked_to_sync_first(fake_plex, transactional_db, m3u):
    path = m3u([])
    with pytest.raises(CommandError, match="cache is empty"):
        call_command("importplaylist", str(path))
    call_command("importplaylist", str(path), "--sync-first", "--dry-run")


def test_unreadable_and_malformed_files_fail_with_one_line(synced, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("importplaylist", str(tmp_path / "missing.m3u"))
    bad = tmp_path / "bad.jspf"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not a valid JSPF file: it is not JSON"):
        call_command("importplaylist", str(bad))
