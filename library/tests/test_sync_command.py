import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from library.models import SyncState, Track

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_command_prints_progress_and_summary(fake_plex, capsys):
    call_command("sync")
    out = capsys.readouterr().out
    assert "Reading tracks..." in out
    assert "150 / 150 tracks" in out
    assert "150 tracks cached (+150 added, 0 updated, -0 removed)" in out
    assert Track.objects.count() == 150


def test_sync_command_if_stale_skips_a_fresh_cache(fake_plex, capsys):
    call_command("sync")
    fake_plex.reset_counts()
    call_command("sync", "--if-stale")
    assert "cache is fresh" in capsys.readouterr().out
    assert fake_plex.total_requests == 0


def test_sync_command_fails_with_one_line_on_error(fake_plex):
    fake_plex.faults.status = 401
    with pytest.raises(CommandError, match="rejected the token"):
        call_command("sync")


def test_sync_command_refuses_while_another_sync_runs(fake_plex):
    SyncState.claim("plex")
    with pytest.raises(CommandError, match="already running"):
        call_command("sync")


def test_sync_command_is_incremental_after_the_first_and_full_when_asked(fake_plex, capsys):
    call_command("sync")
    call_command("sync")
    assert "(incremental sync: only what changed)" in capsys.readouterr().out
    call_command("sync", "--full")
    assert "(full sync: asked for)" in capsys.readouterr().out
