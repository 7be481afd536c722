"""The saved playlist pages over real URLs, against the fake Plex (and Jellyfin) over HTTP:
creating each kind, the form's messages, Run now and the dry run, deleting, the review
page and the cache warnings."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from library.models import SyncState, Track
from library.sources import get_source
from library.sync import sync
from playlists import runs
from playlists.models import RememberedMatch, SavedPlaylist
from playlists.tasks import run_saved_playlist
from playlists.tests.conftest import studio_tracks

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"every_count": "1", "every_unit": "d", "mode": "replace", "targets": ["plex"]}


def m3u(tracks, extra=()):
    lines = ["#EXTM3U"]
    for artist, title in [(t.artist, t.title) for t in tracks] + list(extra):
        lines += [f"#EXTINF:200,{artist} - {title}", "x.mp3"]
    return "\n".join(lines).encode()


def page(response):
    return response.content.decode()


def test_a_smart_playlist_is_made_from_the_builders_filters_with_a_live_count(client, synced):
    form = page(client.get("/playlists/saved/new", {"kind": "smart", "filters": "count=20&exclude_live=on"}))
    live = Track.objects.filter(is_live=False).count()
    assert 'value="count=20&amp;exclude_live=on"' in form
    assert f"<strong>{live}</strong> matching tracks now" in form
    assert f"<strong>{Track.objects.count()}</strong>" in page(
        client.get("/playlists/saved/count", {"filters": ""})
    )

    made = client.post(
        "/playlists/saved/new",
        {**FORM, "kind": "smart", "name": "Studio", "filters": "count=20&exclude_live=on"},
    )
    saved = SavedPlaylist.objects.get(name="Studio")
    assert made.status_code == 302 and made.url == f"/playlists/saved/{saved.pk}"
    assert saved.kind == "smart" and saved.recipe["filters"] == "count=20&exclude_live=on&source=plex"
    listed = page(client.get("/playlists/saved"))
    assert "Studio" in listed and "Every day" in listed and "Never run yet." in listed
    assert Schedule.objects.get(name=saved.schedule_name).minutes == 1440


def test_a_subscription_from_an_uploaded_file_is_kept_under_the_data_dir(client, synced, settings):
    upload = SimpleUploadedFile("friday.m3u8", m3u(studio_tracks(3)))
    made = client.post(
        "/playlists/saved/new", {**FORM, "kind": "subscription", "name": "Friday", "upload": upload}
    )
    assert made.status_code == 302
    saved = SavedPlaylist.objects.get(name="Friday")
    assert saved.recipe["source"].startswith(str(settings.DATA_DIR / "uploads"))
    record = runs.run(saved.pk)
    assert record.added == 3 and len(synced.playlists) == 1


def test_the_import_report_offers_to_keep_the_file_in_sync(client, synced):
    upload = SimpleUploadedFile("friday.m3u8", m3u(studio_tracks(3)))
    report = page(client.post("/playlists/import", {"source": "plex", "file": upload}))
    (link,) = re.findall(r'href="(/playlists/saved/new\?kind=subscription[^"]*)"', report)
    form = page(client.get(link.replace("&amp;", "&")))
    assert "/uploads/" in form and "New subscription" in form


def test_a_listenbrainz_subscription_is_saved_by_its_spec(client, synced):
    client.post(
        "/playlists/saved/new",
        {
            **FORM,
            "kind": "subscription",
            "name": "Exploration",
            "source": "listenbrainz:alice/weekly-exploration",
        },
    )
    assert SavedPlaylist.objects.get(name="Exploration").recipe == {
        "source": "listenbrainz:alice/weekly-exploration"
    }


def test_a_mirror_is_offered_the_other_servers_playlists(client, synced, fake_jellyfin):
    keys = [t.rating_key for t in Track.objects.filter(source="plex")[:5]]
    get_source("plex").save_playlist("Road Trip", keys, mode="create")
    listed = page(client.get("/playlists/saved"))
    assert 'from=plex">Mirror to Jellyfin</a>' in listed and 'from=jellyfin">Mirror to Plex</a>' in listed
    fake_jellyfin.reset_counts()
    form = page(client.get("/playlists/saved/new", {"kind": "mirror", "from": "plex"}))
    assert '<option value="plex:Road Trip">Plex: Road Trip</option>' in form
    assert re.search(r'value="jellyfin"[^>]*checked', form) and not re.search(
        r'value="plex"[^>]*checked', form
    )
    assert not fake_jellyfin.requests  # only the server mirrored from is asked for its playlists
    client.post(
        "/playlists/saved/new",
        {**FORM, "kind": "mirror", "name": "Road Trip", "mirror": "plex:Road Trip", "targets": ["jellyfin"]},
    )
    saved = SavedPlaylist.objects.get(name="Road Trip")
    assert saved.recipe == {"server": "plex", "title": "Road Trip"}
    assert [t.server for t in saved.targets.all()] == ["jellyfin"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": " "}, "This field is required."),
        ({"filters": "decade=1890x"}, "decade"),
        ({"targets": []}, "This field is required."),
        ({"every_count": "", "every_unit": "h"}, "Say how many hours, days or weeks between runs."),
        ({"kind": "subscription", "source": "/etc/passwd"}, "That is not a URL or a ListenBrainz source"),
        ({"kind": "subscription", "source": ""}, "Give a playlist URL"),
        ({"kind": "mirror"}, "Choose the playlist to mirror."),
    ],
)
def test_the_form_says_what_is_wrong(client, synced, fields, message):
    answer = client.post("/playlists/saved/new", {**FORM, "kind": "smart", "name": "Mine", **fields})
    assert answer.status_code == 400 and message in page(answer)
    assert not SavedPlaylist.objects.exists()


def test_a_second_playlist_of_the_same_name_is_refused(client, synced):
    SavedPlaylist.add("Mine", "smart", ["plex"])
    answer = client.post("/playlists/saved/new", {**FORM, "kind": "smart", "name": "Mine"})
    assert answer.status_code == 400 and "There is already a saved playlist called &#x27;Mine&#x27;" in page(
        answer
    )


def test_editing_changes_the_schedule_and_keeps_the_target(client, synced):
    saved = SavedPlaylist.add("Mine", "smart", ["plex"], filters="count=5")
    runs.run(saved.pk)
    target_id = saved.targets.get().playlist_id
    form = page(client.get(f"/playlists/saved/{saved.pk}/edit"))
    assert 'value="count=5&amp;source=plex"' in form
    client.post(
        f"/playlists/saved/{saved.pk}/edit",
        {
            **FORM,
            "kind": "smart",
            "name": "Mine",
            "filters": "count=5",
            "every_count": "6",
            "every_unit": "h",
        },
    )
    saved.refresh_from_db()
    assert saved.schedule_label == "every 6 hours" and saved.targets.get().playlist_id == target_id
    assert Schedule.objects.get(name=saved.schedule_name).minutes == 360


def test_a_prompt_playlist_is_edited_as_its_sentence_and_stays_a_prompt_playlist(client, synced):
    saved = SavedPlaylist.add("Sunday", "prompt:rainy Sunday jazz", ["plex"], filters="tracks=30")
    listed = page(client.get("/playlists/saved"))
    assert "Sunday" in listed and "Prompt playlist" in listed
    form = page(client.get(f"/playlists/saved/{saved.pk}/edit"))
    assert "rainy Sunday jazz" in form and 'value="tracks=30"' in form
    client.post(
        f"/playlists/saved/{saved.pk}/edit",
        {**FORM, "kind": "prompt", "name": "Sunday", "prompt": "rainy Sunday jazz, no live", "filters": ""},
    )
    saved.refresh_from_db()
    assert saved.kind == "prompt" and saved.recipe["prompt"] == "rainy Sunday jazz, no live"
    assert "tracks" not in saved.recipe

    empty = client.post("/playlists/saved/new", {**FORM, "kind": "prompt", "name": "Blank", "prompt": " "})
    assert empty.status_code == 400 and "Say what the playlist should be." in page(empty)
    assert client.get("/playlists/saved/new", {"kind": "prompt"}).status_code == 200


def test_run_now_queues_only_the_id_and_the_row_polls_until_it_is_done(client, synced, settings):
    saved = SavedPlaylist.add("Mine", "smart", ["plex"], filters="count=5")
    row = client.post(f"/playlists/saved/{saved.pk}/run", headers={"HX-Request": "true"})
    [queued] = OrmQ.objects.all()
    assert queued.task["args"] == (saved.pk,) and queued.task["kwargs"] == {"dry_run": False}
    assert settings.PLEX_TOKEN not in str(queued.task)
    assert "Running…" in page(row) and 'hx-trigger="every 1s"' in page(row)
    (poll,) = re.findall(r'hx-get="([^"]*/row[^"]*)"', page(row))
    assert client.get(poll.replace("&amp;", "&")).status_code == 200  # the worker has not run it yet

    run_saved_playlist(saved.pk)  # as the worker does
    done = client.get(poll.replace("&amp;", "&"))
    assert done.status_code == 286
    assert "<strong>Done</strong>" in page(done) and "5 added, 0 removed, 0 kept, 0 unmatched" in page(done)
    assert len(synced.playlists) == 1


def test_a_dry_run_shows_the_diff_and_writes_nothing(client, synced):
    tracks = studio_tracks(4)
    saved = SavedPlaylist.add("Friday", "smart", ["plex"], filters="count=4")
    saved.recipe = {"source": _upload(tracks, extra=[("Ghost Band", "Phantom")])}
    saved.kind = "subscription"
    saved.save()
    row = page(client.post(f"/playlists/saved/{saved.pk}/run", {"dry": "1"}, headers={"HX-Request": "true"}))
    assert "Dry run…" in row
    run_saved_playlist(saved.pk, dry_run=True)
    (poll,) = re.findall(r'hx-get="([^"]*/row[^"]*)"', row)
    done = page(client.get(poll.replace("&amp;", "&")))
    assert "Dry run: nothing was written." in done
    assert "Plex: 4 to add, 0 to remove, 1 unmatched" in done
    assert f"+ {tracks[0].artist} — {tracks[0].title}".replace("'", "&#x27;") in done
    assert "? Ghost Band — Phantom" in done
    assert synced.playlists == {} and saved.targets.get().playlist_id == ""


def _upload(tracks, extra=()):
    from playlists.outside import store_upload

    return store_upload(m3u(tracks, extra), "friday.m3u8")


def test_deleting_removes_the_schedule_and_leaves_the_server_playlist(client, synced):
    saved = SavedPlaylist.add("Mine", "smart", ["plex"], filters="count=5", every=timedelta(hours=1))
    runs.run(saved.pk)
    assert Schedule.objects.filter(name=saved.schedule_name).exists()
    assert "confirm(" in page(client.get("/playlists/saved"))
    assert client.post(f"/playlists/saved/{saved.pk}/delete").status_code == 302
    assert not SavedPlaylist.objects.exists() and not Schedule.objects.exists()
    assert len(synced.playlists) == 1


def test_a_review_choice_is_stored_and_used_by_the_next_run_of_another_playlist(client, synced):
    tracks = studio_tracks(3)
    spec = _upload(tracks, extra=[("Nobody Here", "Not A Real Song"), ("Ghost Band", "Phantom")])
    first = SavedPlaylist.add("First", spec, ["plex"])
    runs.run(first.pk)
    assert "2 unmatched" in page(client.get("/playlists/saved"))
    review = page(client.get(f"/playlists/saved/{first.pk}/review"))
    assert review.count('data-testid="review-row"') == 2
    keys = _entry_keys(review)

    wanted = Track.objects.exclude(rating_key__in=[t.rating_key for t in tracks]).order_by("title").first()
    found = page(
        client.get("/playlists/saved/search", {"server": "plex", "q": f"{wanted.artist} {wanted.title}"})
    )
    assert f'value="{wanted.rating_key}"' in found
    chose = client.post(
        f"/playlists/saved/{first.pk}/review",
        {"server": "plex", "entry_key": keys["Not A Real Song"], "choice": wanted.rating_key},
        headers={"HX-Request": "true"},
    )
    assert "Remembered" in page(chose)
    client.post(
        f"/playlists/saved/{first.pk}/review", {"server": "plex", "entry_key": keys["Phantom"], "choice": ""}
    )
    assert RememberedMatch.objects.get(entry_key=keys["Phantom"]).not_in_library
    assert 'data-testid="review-empty"' in page(client.get(f"/playlists/saved/{first.pk}/review"))

    second = SavedPlaylist.add("Second", spec, ["plex"])
    record = runs.run(second.pk)
    playlist = synced.playlists[int(second.targets.get().playlist_id)]
    assert record.unmatched == 0 and str(playlist.items[-1]) == wanted.rating_key


def _entry_keys(review):
    """{title: entry_key} of the review page's rows."""
    found = {}
    for row in review.split('data-testid="review-row"')[1:]:
        title = re.search(r"— ([^<]*?)(?: <span|</span>)", row)[1]
        found[title] = re.search(r'name="entry_key" value="([^"]*)"', row)[1].replace("&#x27;", "'")
    return found


def test_a_choice_of_a_track_the_cache_does_not_hold_is_refused(client, synced):
    saved = SavedPlaylist.add("Mine", "smart", ["plex"])
    answer = client.post(
        f"/playlists/saved/{saved.pk}/review", {"server": "plex", "entry_key": "x|y|", "choice": "999999"}
    )
    assert answer.status_code == 400 and "That track is no longer in the cache" in page(answer)
    assert not RememberedMatch.objects.exists()


def test_an_empty_or_stale_cache_is_warned_per_playlist(client, fake_plex):
    SavedPlaylist.add("Mine", "smart", ["plex"])
    listed = page(client.get("/playlists/saved"))
    assert 'data-testid="saved-warning"' in listed and "The Plex cache is empty: build it first" in listed
    assert "Sync the cache now" in listed

    sync("plex")
    assert 'data-testid="saved-warning"' not in page(client.get("/playlists/saved"))
    SyncState.objects.filter(source="plex").update(last_sync_at=timezone.now() - timedelta(days=30))
    stale = page(client.get("/playlists/saved"))
    assert "The Plex cache was last synced 4\xa0weeks, 2\xa0days ago" in stale and "Sync it first" in stale


def test_the_detail_page_lists_the_last_runs_and_no_secret(client, synced, settings):
    saved = SavedPlaylist.add("Mine", "smart", ["plex"], filters="count=5")
    runs.run(saved.pk)
    runs.run(saved.pk, dry_run=True)
    detail = page(client.get(f"/playlists/saved/{saved.pk}"))
    assert detail.count("<tr>") == 3  # the header and two runs
    assert "dry run" in detail and re.search(r"Plex \d+", detail)
    playlist_id = saved.targets.get().playlist_id
    assert f"playlist?key=%2Fplaylists%2F{playlist_id}" in detail
    for url in ("/playlists/saved", f"/playlists/saved/{saved.pk}", f"/playlists/saved/{saved.pk}/edit"):
        assert settings.PLEX_TOKEN not in page(client.get(url))
