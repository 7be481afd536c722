"""Runs of saved playlists against the fake servers over HTTP: in place, by mode, safely."""

from datetime import timedelta

import pytest
from django.utils import timezone

from library.fakes.jellyfin import item_id
from library.models import SyncState, Track
from library.sources import get_source
from library.sync import sync
from library.vocab import Phase
from playlists import runs
from playlists.fakes.listenbrainz import FakeListenBrainzServer
from playlists.fakes.llm import Misbehaviour
from playlists.fakes.web import FakeWebServer
from playlists.importers import Entry
from playlists.matching import entry_key
from playlists.models import PlaylistRun, RememberedMatch, SavedPlaylist
from playlists.tests.conftest import studio_tracks
from playlists.vocab import Outcome

pytestmark = pytest.mark.postgres


@pytest.fixture
def plex(fake_plex, transactional_db):
    sync("plex")
    fake_plex.reset_counts()
    return fake_plex


@pytest.fixture
def source_file(tmp_path):
    """write(tracks, extra=[(artist, title)]): the subscription's M3U, rewritten."""
    path = tmp_path / "weekly.m3u8"

    def write(tracks, extra=()):
        lines = ["#EXTM3U"]
        for artist, title in [(t.artist, t.title) for t in tracks] + list(extra):
            lines += [f"#EXTINF:200,{artist} - {title}", "x.mp3"]
        path.write_text("\n".join(lines), encoding="utf-8")
        return str(path)

    return write


def subscription(spec, mode="replace", name="Weekly", to=("plex",), **options):
    return SavedPlaylist.add(name, spec, list(to), mode=mode, **options)


def contents(fake, saved, server="plex"):
    """The keys of the saved playlist's target on the fake, as the cache names them."""
    playlist_id = saved.targets.get(server=server).playlist_id
    if server == "plex":
        return [str(k) for k in fake.playlists[int(playlist_id)].items]
    return list(fake.playlists[playlist_id].items)


def writes(fake):
    return sum(count for (method, _), count in fake.requests.items() if method != "GET")


def keys(tracks):
    return [t.rating_key for t in tracks]


def test_runs_keep_the_same_playlist_and_follow_the_source(plex, source_file):
    tracks = studio_tracks(25)
    saved = subscription(source_file(tracks[:20]))
    first = runs.run(saved.pk)
    assert first.outcome == Outcome.DONE and first.added == 20
    playlist_id = saved.targets.get().playlist_id
    assert contents(plex, saved) == keys(tracks[:20])

    source_file(tracks[2:10] + tracks[20:23] + tracks[10:20])
    second = runs.run(saved.pk)
    assert saved.targets.get().playlist_id == playlist_id
    assert list(plex.playlists) == [int(playlist_id)]
    assert contents(plex, saved) == keys(tracks[2:10] + tracks[20:23] + tracks[10:20])
    assert (second.added, second.removed, second.kept, second.unmatched) == (3, 2, 18, 0)


def test_a_playlist_deleted_on_the_server_is_made_again(plex, source_file):
    tracks = studio_tracks(6)
    saved = subscription(source_file(tracks))
    runs.run(saved.pk)
    del plex.playlists[int(saved.targets.get().playlist_id)]  # the user deleted it in Plex

    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.added == 6
    assert "made again" in record.detail["targets"]["plex"]["notice"]
    assert contents(plex, saved) == keys(tracks)


def test_merge_keeps_a_track_added_by_hand(plex, source_file):
    tracks = studio_tracks(13)
    saved = subscription(source_file(tracks[:10]), mode="merge")
    runs.run(saved.pk)
    playlist_id = saved.targets.get().playlist_id
    by_hand = tracks[12]
    get_source("plex").save_playlist("Weekly", [by_hand.rating_key], mode="append", playlist_id=playlist_id)

    source_file(tracks[1:11])
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE
    assert contents(plex, saved) == keys(tracks[1:11]) + [by_hand.rating_key]

    # A track the last run wrote and the source dropped goes, though: only hand-added ones stay.
    source_file(tracks[2:11])
    runs.run(saved.pk)
    assert contents(plex, saved) == keys(tracks[2:11]) + [by_hand.rating_key]


def test_append_never_removes(plex, source_file):
    tracks = studio_tracks(8)
    saved = subscription(source_file(tracks[:5]), mode="append")
    runs.run(saved.pk)

    source_file(tracks[3:8])
    record = runs.run(saved.pk)
    assert contents(plex, saved) == keys(tracks)
    assert (record.added, record.removed, record.kept) == (3, 0, 5)


def test_dry_run_shows_the_diff_and_writes_nothing(plex, source_file):
    tracks = studio_tracks(12)
    saved = subscription(source_file(tracks[:10]))
    runs.run(saved.pk)
    source_file(tracks[2:12], extra=[("Nobody Here", "Not A Real Song")])
    plex.reset_counts()

    record = runs.run(saved.pk, dry_run=True)
    assert record.dry_run and record.outcome == Outcome.DONE
    assert writes(plex) == 0
    assert contents(plex, saved) == keys(tracks[:10])
    target = record.detail["targets"]["plex"]
    assert target["to_add"] == keys(tracks[10:12])
    assert target["to_remove"] == keys(tracks[:2])
    assert [(e["artist"], e["title"], e["status"]) for e in target["review"]] == [
        ("Nobody Here", "Not A Real Song", "unmatched")
    ]
    assert saved.targets.get().written_keys == keys(tracks[:10])


def test_a_200_track_playlist_with_10_changes_costs_at_most_10_requests(
    plex_factory, settings, transactional_db, source_file
):
    server = plex_factory(1500, seed=5, token="big-token")
    settings.PLEX_URL, settings.PLEX_TOKEN, settings.PLEX_LIBRARY = server.url, server.token, ""
    sync("plex")
    tracks = studio_tracks(205)
    saved = subscription(source_file(tracks[:200]))
    runs.run(saved.pk)
    server.reset_counts()

    source_file(tracks[5:200] + tracks[200:205])
    record = runs.run(saved.pk)
    assert (record.added, record.removed, record.kept) == (5, 5, 195)
    assert record.requests == {"plex": server.total_requests}
    assert server.total_requests <= 10
    assert contents(server, saved) == keys(tracks[5:205])


def test_a_remembered_match_is_used_by_a_second_playlist(plex, source_file):
    tracks = studio_tracks(5)
    spec = source_file(tracks, extra=[("Nobody Here", "Not A Real Song"), ("Ghost Band", "Phantom")])
    first = runs.run(subscription(spec).pk)
    review = first.detail["targets"]["plex"]["review"]
    assert first.unmatched == 2 and {e["title"] for e in review} == {"Not A Real Song", "Phantom"}

    chosen = Track.objects.exclude(rating_key__in=keys(tracks)).first()
    RememberedMatch.remember(entry_key(Entry("Nobody Here", "Not A Real Song")), "plex", chosen.rating_key)
    RememberedMatch.remember(entry_key(Entry("Ghost Band", "Phantom")), "plex")

    second = subscription(spec, name="Another")
    record = runs.run(second.pk)
    assert contents(plex, second) == keys(tracks) + [chosen.rating_key]
    assert record.unmatched == 0 and record.detail["targets"]["plex"]["not_in_library"] == 1


def test_a_failing_source_leaves_the_target_untouched(plex, source_file, tmp_path):
    tracks = studio_tracks(6)
    spec = source_file(tracks)
    saved = subscription(spec)
    runs.run(saved.pk)
    plex.reset_counts()

    (tmp_path / "weekly.m3u8").write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED
    assert "web page" in record.error and "\n" not in record.error
    assert writes(plex) == 0 and contents(plex, saved) == keys(tracks)

    (tmp_path / "weekly.m3u8").unlink()
    assert runs.run(saved.pk).error == f"There is no file at {spec}."
    assert contents(plex, saved) == keys(tracks)


def test_an_empty_result_keeps_the_target_unless_allowed(plex, source_file):
    tracks = studio_tracks(6)
    saved = subscription(source_file(tracks))
    runs.run(saved.pk)
    plex.reset_counts()

    source_file([], extra=[("Nobody Here", "Not A Real Song")])
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.EMPTY
    assert writes(plex) == 0 and contents(plex, saved) == keys(tracks)

    SavedPlaylist.objects.filter(pk=saved.pk).update(allow_empty=True)
    assert runs.run(saved.pk).outcome == Outcome.DONE
    assert contents(plex, saved) == []


def test_a_server_failure_fails_the_run_and_keeps_the_target(plex, source_file):
    tracks = studio_tracks(8)
    saved = subscription(source_file(tracks[:5]))
    runs.run(saved.pk)

    source_file(tracks[3:8])
    plex.faults.fail_playlist_adds_after = 0
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED and record.error.startswith("Plex: ")
    assert contents(plex, saved) == keys(tracks[:5])
    assert saved.targets.get().written_keys == keys(tracks[:5])
    assert plex.token not in record.error


def test_a_smart_playlist_picks_from_the_cache(plex):
    saved = SavedPlaylist.add("Twenty", "smart", ["plex"], filters="count=20&source=plex")
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.added == 20
    assert len(contents(plex, saved)) == 20
    assert set(contents(plex, saved)) <= set(Track.objects.values_list("rating_key", flat=True))
    # Asking the server for nothing but the playlist itself: no search per track.
    assert plex.requests[("GET", "/library/sections/{key}/all")] == 0


def test_a_smart_recipe_stored_with_a_bad_filter_fails_the_run_with_its_name(plex):
    saved = SavedPlaylist.add("Twenty", "smart", ["plex"], filters="count=20")
    SavedPlaylist.objects.filter(pk=saved.pk).update(recipe={"filters": "count=lots"})
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED
    assert record.error.startswith("The smart playlist's filters are wrong: ")
    assert plex.playlists == {}


def test_a_mirror_copies_a_plex_playlist_to_jellyfin(plex, fake_jellyfin, source_file):
    tracks = studio_tracks(10)  # Plex's, before the Jellyfin cache holds any
    sync("jellyfin")
    made = get_source("plex").save_playlist("Road Trip", keys(tracks), mode="create")
    saved = SavedPlaylist.add("Road Trip on Jellyfin", "plex:road trip", ["jellyfin"])

    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.added == 10 and record.unmatched == 0
    # The same files: Jellyfin's ids for the Plex tracks, in the Plex playlist's order.
    assert contents(fake_jellyfin, saved, "jellyfin") == [item_id(int(t.rating_key)) for t in tracks]
    assert set(record.requests) == {"plex", "jellyfin"}

    get_source("plex").save_playlist("Road Trip", keys(tracks[:4]), mode="replace", playlist_id=made.id)
    record = runs.run(saved.pk)
    assert (record.added, record.removed, record.kept) == (0, 6, 4)
    assert len(contents(fake_jellyfin, saved, "jellyfin")) == 4


def test_an_empty_cache_is_synced_before_the_run(fake_plex, transactional_db):
    saved = SavedPlaylist.add("Ten", "smart", ["plex"], filters="count=10")
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.detail["synced"] == ["plex"]
    assert len(contents(fake_plex, saved)) == 10


def test_a_sync_queued_for_the_busy_worker_is_taken_over(fake_plex, transactional_db):
    SyncState.claim("plex", phase=Phase.QUEUED)
    saved = SavedPlaylist.add("Ten", "smart", ["plex"], filters="count=10")
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.detail["synced"] == ["plex"]
    assert not SyncState.for_source("plex").is_syncing


def test_a_smart_playlist_for_jellyfin_picks_from_its_cache(fake_jellyfin, transactional_db):
    saved = SavedPlaylist.add("Ten", "smart", ["jellyfin"], filters="count=10")
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.DONE and record.requests.keys() == {"jellyfin"}
    assert len(contents(fake_jellyfin, saved, "jellyfin")) == 10


def test_a_failed_cache_sync_fails_the_run_with_its_reason(fake_plex, transactional_db):
    saved = SavedPlaylist.add("Ten", "smart", ["plex"], filters="count=10")
    fake_plex.faults.status = 500
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED
    assert record.error.startswith("The Plex cache could not be synced: ")
    assert fake_plex.playlists == {}


def test_a_second_run_while_one_is_under_way_does_nothing(plex, source_file):
    saved = subscription(source_file(studio_tracks(3)))
    PlaylistRun.objects.create(saved=saved)
    assert runs.run(saved.pk) is None
    assert plex.total_requests == 0 and plex.playlists == {}


def test_a_run_whose_worker_died_no_longer_blocks(plex, source_file, settings):
    saved = subscription(source_file(studio_tracks(3)))
    dead = PlaylistRun.objects.create(saved=saved, started_at=timezone.now() - timedelta(days=1))
    assert runs.run(saved.pk).outcome == Outcome.DONE
    dead.refresh_from_db()
    assert dead.outcome == Outcome.FAILED and "worker stopped" in dead.error


@pytest.fixture
def web(settings):
    settings.OUTSIDE_TIMEOUT, settings.OUTSIDE_MAX_MB = 2, 1
    with FakeWebServer() as server:
        yield server


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "404"),
        (b"<!DOCTYPE html><html><body>Sign in to see this playlist</body></html>", "web page"),
        (b"#EXTM3U\n", "is empty"),
        (b"#EXTM3U\n" + b"#EXTINF:1,A - B\nx.mp3\n" * 60_000, "more than 1 MB"),
        (b"\x00\x01\x02\xff" * 100, "binary"),
    ],
    ids=["not found", "html", "empty", "too large", "not text"],
)
def test_every_bad_source_fails_the_run_and_leaves_the_target_untouched(plex, web, body, why):
    tracks = studio_tracks(5)
    text = "#EXTM3U\n" + "".join(f"#EXTINF:1,{t.artist} - {t.title}\nx.mp3\n" for t in tracks)
    web.files["/weekly.m3u"] = ("audio/x-mpegurl", text.encode())
    saved = subscription(web.url + "/weekly.m3u")
    runs.run(saved.pk)
    plex.reset_counts()

    if body is None:
        del web.files["/weekly.m3u"]
    else:
        web.files["/weekly.m3u"] = ("audio/x-mpegurl", body)
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED and why in record.error and "\n" not in record.error
    assert writes(plex) == 0 and contents(plex, saved) == keys(tracks)


def test_an_unreachable_source_fails_the_run(plex, web):
    saved = subscription(web.url + "/weekly.m3u")
    web.stop()
    record = runs.run(saved.pk)
    assert record.outcome == Outcome.FAILED and record.error and plex.playlists == {}


def test_a_listenbrainz_weekly_exploration_follows_the_newest_one(plex, settings):
    tracks = studio_tracks(8)
    with FakeListenBrainzServer() as listenbrainz:
        settings.LISTENBRAINZ_API_URL = listenbrainz.url
        as_entries = [Entry(t.artist, t.title, t.album) for t in tracks]
        kind = "weekly-exploration"
        listenbrainz.add_playlist("Week 1", as_entries[:5], created_for="rob", source_patch=kind)
        saved = subscription(f"listenbrainz:rob/{kind}", every=timedelta(weeks=1))
        assert runs.run(saved.pk).detail["source"] == "Week 1"
        assert contents(plex, saved) == keys(tracks[:5])

        listenbrainz.add_playlist("Week 2", as_entries[3:], created_for="rob", source_patch=kind)
        record = runs.run(saved.pk)
    assert record.detail["source"] == "Week 2"
    assert contents(plex, saved) == keys(tracks[3:])


def test_a_prompt_playlist_is_a_fresh_selection_each_run_in_place_with_its_description(plex, fake_llm):
    saved = SavedPlaylist.add("Loud", "prompt:only motorhead", ["plex"], filters="tracks=6")
    first = runs.run(saved.pk)
    assert first.outcome == Outcome.DONE, first.error
    playlist_id = saved.targets.get().playlist_id
    made = plex.playlists[int(playlist_id)]
    assert len(made.items) == 6 and made.summary == first.detail["description"]
    credited = Track.objects.filter(rating_key__in=[str(k) for k in made.items])
    assert all("Motörhead" in {*t.artists, t.album_artist, t.artist} for t in credited)
    second = runs.run(saved.pk)
    assert second.outcome == Outcome.DONE
    assert saved.targets.get().playlist_id == playlist_id  # updated in place
    assert "only motorhead" in fake_llm.chat_bodies[-1]["messages"][1]["content"]


def test_a_prompt_playlist_whose_model_fails_leaves_the_target_untouched(plex, fake_llm):
    saved = SavedPlaylist.add("Loud", "prompt:only motorhead", ["plex"], filters="tracks=6")
    runs.run(saved.pk)
    playlist_id = int(saved.targets.get().playlist_id)
    before = list(plex.playlists[playlist_id].items)
    plex.reset_counts()
    fake_llm.misbehave = Misbehaviour.WRONG_KIND
    failed = runs.run(saved.pk)
    assert failed.outcome == Outcome.FAILED and "did not answer with the JSON asked for" in failed.error
    assert plex.playlists[playlist_id].items == before and writes(plex) == 0
