"""The prompt page: preview, models, a generation queued for the worker and polled,
the result, saving it; each model failure said plainly; no secret anywhere."""

import logging

import pytest
from django_q.models import OrmQ

from library.models import Track
from library.sync import sync
from playlists import tasks
from playlists.fakes.llm import Misbehaviour
from playlists.generate import Filters, matching
from playlists.models import PromptRun, SavedPlaylist
from playlists.tests.conftest import LLM_KEY
from playlists.vocab import PromptPhase, Recipe


def _start(client, **data):
    return client.post("/playlists/prompt/start", {"source": "plex"} | data)


def _generated(client, **data):
    """Start a generation, run its task as the worker would, and poll once."""
    started = _start(client, **data)
    assert started.status_code == 200, started.content
    [queued] = OrmQ.objects.all()
    run_id = queued.task["args"][0]
    tasks.generate_prompt(*queued.task["args"])
    queued.delete()
    return client.get(f"/playlists/prompt/run/{run_id}"), PromptRun.objects.get(pk=run_id)


def test_without_a_model_the_box_says_how_to_connect_one_and_the_builder_is_unchanged(client, settings):
    settings.LLM_BASE_URL = ""
    page = client.get("/playlists/prompt").content.decode()
    assert "LLM_BASE_URL=http://localhost:11434/v1" in page and "LLM_MODEL=llama3.1" in page
    assert 'name="prompt"' not in page
    assert client.get("/").status_code == 200
    assert _start(client, prompt="jazz").status_code == 400


def test_the_nav_links_the_page_and_the_demo_model_is_labelled(client, fake_llm, settings):
    settings.LLM_DEMO = True
    page = client.get("/").content.decode()
    assert 'href="/playlists/prompt"' in page
    assert "Demo model" in client.get("/playlists/prompt").content.decode()


def test_the_preview_shows_the_rules_the_tracks_they_leave_and_the_tokens(client, synced, fake_llm):
    page = client.get("/playlists/prompt/preview", {"prompt": "only motorhead, nothing live, 10 tracks"})
    text = page.content.decode()
    assert "Artist: Motörhead · No live recordings · Length: 10 tracks" in text
    left = matching(Filters(artists=("Motörhead",), exclude_live=True)).count()
    assert 0 < left < Track.objects.count()
    assert f'data-testid="prompt-count">{left}<' in text
    assert 'data-testid="prompt-tokens">' in text
    assert not fake_llm.chat_bodies  # the preview never asks the model


def test_the_endpoints_models_are_offered_and_a_failure_shown_plainly(client, fake_llm):
    page = client.get("/playlists/prompt/models").content.decode()
    assert '<option value="fake-small" selected>' in page and "fake-large" in page
    fake_llm.misbehave = Misbehaviour.UNAUTHORIZED
    page = client.get("/playlists/prompt/models").content.decode()
    assert "fake-small" in page  # listed a moment ago: reused, not asked again
    from django.core.cache import cache

    cache.clear()
    page = client.get("/playlists/prompt/models").content.decode()
    assert "refused the API key (401): check LLM_API_KEY" in page


def test_a_generation_shows_title_reasons_tokens_and_time(client, synced, fake_llm):
    page, run = _generated(client, prompt="pop and rock, 8 tracks")
    assert page.status_code == 286  # htmx: stop polling
    text = page.content.decode()
    assert run.phase == PromptPhase.DONE and len(run.picks) == 8
    assert run.title in text and run.description in text
    assert "Matches " in text  # the model's reasons
    assert f"{run.prompt_tokens + run.completion_tokens:,} tokens used" in text
    assert "s the model" in text and "More like this" in text
    assert not synced.requests  # nothing asked of Plex until saved


def test_a_run_not_finished_keeps_the_page_polling(client, synced, fake_llm):
    _start(client, prompt="jazz")
    run = PromptRun.objects.get()
    page = client.get(f"/playlists/prompt/run/{run.pk}")
    assert page.status_code == 200 and "Waiting for the worker" in page.content.decode()
    assert 'hx-trigger="every 1s"' in page.content.decode()


def test_more_like_this_starts_from_the_track(client, synced, fake_llm):
    seed = Track.objects.exclude(genres=[]).first()
    page, run = _generated(client, track=seed.pk, tracks=5)
    assert run.seed_track == seed and run.phase == PromptPhase.DONE
    assert f"More like “{seed.title}”" in run.prompt


@pytest.mark.parametrize(
    ("misbehave", "said"),
    [
        (Misbehaviour.UNAUTHORIZED, "refused the API key (401)"),
        (Misbehaviour.UNKNOWN_MODEL, "does not offer the model fake-small (LLM_MODEL). The endpoint offers:"),
        (Misbehaviour.RATE_LIMITED_ALWAYS, "rate limiting requests (429), even after waiting once"),
        (Misbehaviour.HANG, "did not answer within 1 s (LLM_TIMEOUT)"),
        (Misbehaviour.WRONG_KIND, "did not answer with the JSON asked for, even when asked again"),
        (Misbehaviour.WEB_PAGE, "something other than the OpenAI API: check LLM_BASE_URL"),
    ],
)
def test_each_model_failure_is_named_on_the_page_and_nothing_is_written(
    client, synced, fake_llm, misbehave, said
):
    fake_llm.misbehave = misbehave
    fake_llm.faults.hang_seconds = 3
    page, run = _generated(client, prompt="jazz, 5 tracks")
    text = page.content.decode()
    assert page.status_code == 286 and run.phase == PromptPhase.FAILED
    assert said in run.error and said in text.replace("&#x27;", "'")
    assert "Nothing was written to Plex" in text
    assert not run.picks and not synced.requests


def test_an_unreachable_endpoint_is_named(client, synced, fake_llm, settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    page, run = _generated(client, prompt="jazz")
    assert "Could not reach the model endpoint at 127.0.0.1:9" in page.content.decode()


def test_invented_picks_are_counted_on_the_page_and_never_saved(client, synced, fake_llm):
    fake_llm.misbehave = Misbehaviour.INVENTS
    page, run = _generated(client, prompt="anything, 10 tracks")
    assert run.invented == 5
    assert "5 picks the model invented (not in your library) dropped" in page.content.decode()
    saved = client.post(f"/playlists/prompt/run/{run.pk}/save", {"title": "Invented"})
    assert "Saved “Invented” to Plex" in saved.content.decode()
    [playlist] = [p for p in synced.playlists.values() if p.title == "Invented"]
    cached = set(Track.objects.values_list("rating_key", flat=True))
    assert len(playlist.items) == 10 and {str(k) for k in playlist.items} <= cached


def test_saving_writes_the_description_as_the_plex_summary(client, synced, fake_llm):
    page, run = _generated(client, prompt="rock, 6 tracks")
    saved = client.post(f"/playlists/prompt/run/{run.pk}/save", {"title": "Rock six"})
    assert "Saved “Rock six” to Plex: 6 tracks added" in saved.content.decode()
    [playlist] = [p for p in synced.playlists.values() if p.title == "Rock six"]
    assert playlist.summary == run.description


def test_keep_as_a_weekly_prompt_playlist(client, synced, fake_llm):
    page, run = _generated(client, prompt="rock", tracks=6)
    kept = client.post(f"/playlists/prompt/run/{run.pk}/keep", {"title": "Weekly rock"})
    assert "a fresh selection every week" in kept.content.decode()
    saved = SavedPlaylist.objects.get(name="Weekly rock")
    assert saved.kind == Recipe.PROMPT
    assert saved.recipe == {"prompt": "rock", "tracks": 6, "server": "plex"}


def test_no_secret_in_pages_logs_or_the_task_table(client, synced, fake_llm, caplog):
    caplog.set_level(logging.DEBUG)
    started = _start(client, prompt="jazz, 5 tracks")
    [queued] = OrmQ.objects.all()
    assert queued.task["args"] == (PromptRun.objects.get().pk,) and queued.task["kwargs"] == {}
    seen = [started.content.decode(), str(queued.task)]
    fake_llm.misbehave = Misbehaviour.UNAUTHORIZED
    tasks.generate_prompt(*queued.task["args"])
    run = PromptRun.objects.get()
    for url in ("/playlists/prompt", f"/playlists/prompt?run={run.pk}", f"/playlists/prompt/run/{run.pk}"):
        seen.append(client.get(url).content.decode())
    seen += [caplog.text, run.error]
    for text in seen:
        assert LLM_KEY not in text and LLM_KEY[-4:] not in text, "the LLM key leaked"
        assert synced.token not in text, "the Plex token leaked"


def test_saving_to_jellyfin_writes_the_description_as_its_overview(client, fake_jellyfin, fake_llm, settings):
    settings.PLEX_URL = ""
    sync("jellyfin")
    page, run = _generated(client, prompt="rock, 5 tracks", source="jellyfin")
    assert run.source == "jellyfin" and run.phase == PromptPhase.DONE
    saved = client.post(f"/playlists/prompt/run/{run.pk}/save", {"title": "Rock five"})
    assert "Saved “Rock five” to Jellyfin" in saved.content.decode()
    [playlist] = [p for p in fake_jellyfin.playlists.values() if p.name == "Rock five"]
    assert playlist.overview == run.description and len(playlist.items) == 5
