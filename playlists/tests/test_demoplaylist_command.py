"""`manage.py demoplaylist`: the demo's subscription, made once, that runs against the
fake ListenBrainz serving playlists of the demo library."""

import pytest
from django.core.management import call_command

from playlists import runs
from playlists.fakes.demo import fill_listenbrainz
from playlists.models import SavedPlaylist
from playlists.vocab import Outcome

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_subscription_is_added_once_and_runs(synced, fake_listenbrainz, settings, capsys):
    settings.DEMO_MODE = True
    fill_listenbrainz(fake_listenbrainz, synced.library)
    call_command("demoplaylist")
    call_command("demoplaylist")
    (saved,) = SavedPlaylist.objects.all()
    assert saved.name == "Weekly Exploration (demo)" and saved.schedule_label == "every day"
    assert "Added the demo subscription" in capsys.readouterr().out

    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.added > 40 and record.unmatched == 2
    assert record.detail["source"].startswith("Weekly Exploration for demo")


def test_outside_the_demo_nothing_is_added(fake_plex, settings):
    settings.DEMO_MODE = False
    call_command("demoplaylist")
    assert not SavedPlaylist.objects.exists()
