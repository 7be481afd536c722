"""Saved playlists: their schedules follow them, and recipes come from sources as named."""

from datetime import timedelta

import pytest
from django_q.models import Schedule

from playlists.models import RecipeError, RememberedMatch, SavedPlaylist, parse_every, recipe_for
from playlists.vocab import Recipe

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def servers(settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "secret-plex-token"
    settings.JELLYFIN_URL, settings.JELLYFIN_API_KEY = "http://jellyfin.invalid:8096", "secret-jellyfin-key"


def schedules():
    return list(Schedule.objects.filter(name__startswith="saved playlist"))


def test_a_scheduled_playlist_gets_a_worker_schedule_that_follows_it():
    saved = SavedPlaylist.add("Morning", "smart", ["plex"], every=timedelta(hours=6), filters="count=20")
    [schedule] = schedules()
    assert schedule.func == "playlists.tasks.run_saved_playlist"
    assert schedule.minutes == 360 and schedule.repeats == -1
    assert saved.schedule_label == "every 6 hours"
    assert saved.next_run_at == schedule.next_run

    saved.every = timedelta(days=1)
    saved.save()
    [schedule] = schedules()
    assert schedule.minutes == 1440 and saved.next_run_at == schedule.next_run

    saved.every = None
    saved.save()
    assert schedules() == [] and saved.next_run_at is None
    assert saved.schedule_label == "only when asked"


def test_deleting_a_saved_playlist_removes_its_schedule():
    SavedPlaylist.add("Nightly", "smart", ["plex"], every=timedelta(days=1))
    SavedPlaylist.add("Weekly", "smart", ["plex"], every=timedelta(weeks=1))
    SavedPlaylist.objects.get(name="Nightly").delete()
    assert [s.minutes for s in schedules()] == [7 * 1440]


def test_a_schedule_carries_the_id_and_no_secret():
    saved = SavedPlaylist.add(
        "Morning", "https://example.com/list.jspf", ["plex", "jellyfin"], every=timedelta(hours=1)
    )
    [schedule] = schedules()
    assert schedule.args == repr(saved.pk) and not schedule.kwargs
    assert "secret" not in f"{schedule.args} {schedule.kwargs} {schedule.name}"


def test_sources_become_recipes():
    assert recipe_for("smart", "?genre=Rock&count=20") == (Recipe.SMART, {"filters": "genre=Rock&count=20"})
    assert recipe_for("plex:Road Trip") == (Recipe.MIRROR, {"server": "plex", "title": "Road Trip"})
    assert recipe_for("listenbrainz:rob/weekly-exploration") == (
        Recipe.SUBSCRIPTION,
        {"source": "listenbrainz:rob/weekly-exploration"},
    )
    assert recipe_for("https://x.example/a.m3u")[0] == Recipe.SUBSCRIPTION


@pytest.mark.parametrize(
    ("text", "every"),
    [("6h", timedelta(hours=6)), ("1d", timedelta(days=1)), ("1w", timedelta(weeks=1)), ("", None)],
)
def test_how_often_is_read_from_short_words(text, every):
    assert parse_every(text) == every


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Mirror", "plex:Road Trip", ["plex"]), "not onto itself"),
        (("Mirror", "jellyfin:", ["plex"]), "Name the jellyfin playlist"),
        (("", "smart", ["plex"]), "Give the saved playlist a name"),
        (("Nowhere", "smart", []), "which server"),
        (("Bad", "smart", ["plex"], {"filters": "count=lots"}), "is not"),
    ],
)
def test_a_saved_playlist_that_makes_no_sense_is_refused(args, message):
    *args, options = args if isinstance(args[-1], dict) else (*args, {})
    with pytest.raises(RecipeError, match=message):
        SavedPlaylist.add(*args, **options)
    assert not SavedPlaylist.objects.exists()


def test_an_unconfigured_server_and_a_taken_name_are_refused(settings):
    settings.JELLYFIN_URL = ""
    with pytest.raises(RecipeError, match="jellyfin is not configured"):
        SavedPlaylist.add("Morning", "smart", ["jellyfin"])
    SavedPlaylist.add("Morning", "smart", ["plex"])
    with pytest.raises(RecipeError, match="already a saved playlist called 'Morning'"):
        SavedPlaylist.add(" Morning ", "smart", ["plex"])
    with pytest.raises(RecipeError, match="not 'often'"):
        parse_every("often")


def test_a_choice_is_remembered_once_per_entry_and_server():
    RememberedMatch.remember("text:a|b|", "plex", "123")
    RememberedMatch.remember("text:a|b|", "plex")
    RememberedMatch.remember("text:a|b|", "jellyfin", "abc")
    assert sorted(RememberedMatch.objects.values_list("server", "rating_key", "not_in_library")) == [
        ("jellyfin", "abc", False),
        ("plex", "", True),
    ]
