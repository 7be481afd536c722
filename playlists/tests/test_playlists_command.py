"""`manage.py playlists add|run|list|remove`, against the fake Plex over HTTP."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from library.sync import sync
from playlists.models import SavedPlaylist
from playlists.tests.conftest import studio_tracks


@pytest.fixture
def plex(fake_plex, transactional_db):
    sync("plex")
    fake_plex.reset_counts()
    return fake_plex


def playlists(*args):
    from io import StringIO

    out = StringIO()
    call_command("playlists", *args, stdout=out)
    return out.getvalue()


def test_add_run_list_and_remove_a_subscription(plex, tmp_path):
    tracks = studio_tracks(4)
    source = tmp_path / "mix.m3u"
    source.write_text("\n".join(f"#EXTINF:1,{t.artist} - {t.title}\nx.mp3" for t in tracks))

    assert "Saved 'Mix': subscription to Plex, replace" in playlists(
        "add", "Mix", "--source", str(source), "--to", "plex", "--every", "1d"
    )
    out = playlists("run", "Mix")
    assert "added 4, removed 0, kept 0, unmatched 0" in out
    assert f"requests: plex {plex.total_requests}" in out
    [made] = plex.playlists.values()
    assert made.title == "Mix" and [str(k) for k in made.items] == [t.rating_key for t in tracks]

    listed = playlists("list")
    assert (
        "Mix: subscription to Plex, replace: the playlist becomes the result, every day; last run" in listed
    )
    assert listed.rstrip().endswith(": Done")

    assert "Removed 'Mix'" in playlists("remove", "Mix")
    assert not SavedPlaylist.objects.exists() and plex.playlists  # the server's playlist stays


def test_a_dry_run_says_so_and_writes_nothing(plex):
    playlists("add", "Top", "--source", "smart", "--filters", "count=5", "--to", "plex")
    out = playlists("run", "Top", "--dry-run")
    assert "(dry run: nothing written)" in out and "added 5" in out
    assert plex.playlists == {}


def test_a_failed_run_exits_non_zero_with_one_line(plex, tmp_path):
    playlists("add", "Gone", "--source", str(tmp_path / "missing.m3u"), "--to", "plex")
    with pytest.raises(CommandError) as failed:
        playlists("run", "Gone")
    assert str(failed.value) == f"There is no file at {tmp_path / 'missing.m3u'}."


def test_mistakes_are_one_line_errors(plex):
    with pytest.raises(CommandError, match="No saved playlist called 'Nope'"):
        playlists("run", "Nope")
    with pytest.raises(CommandError, match="not onto itself"):
        playlists("add", "Loop", "--source", "plex:Loop", "--to", "plex")
    with pytest.raises(CommandError, match="6h, 1d, 1w"):
        playlists("add", "Often", "--source", "smart", "--to", "plex", "--every", "hourly")
