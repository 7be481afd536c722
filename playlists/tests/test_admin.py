"""The saved playlists in the admin: shown, searchable, read-only, never a secret."""

import pytest

from playlists.models import PlaylistRun, PromptRun, RememberedMatch, SavedPlaylist
from playlists.vocab import Outcome, PromptPhase


@pytest.fixture
def saved(db, settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "super-secret-token"
    saved = SavedPlaylist.add("Sunday Morning", "smart", ["plex"], filters="genre=Jazz&count=30")
    PlaylistRun.objects.create(saved=saved, outcome=Outcome.DONE, added=30, finished_at=saved.created_at)
    RememberedMatch.remember("text:nick drake|pink moon|", "plex", "1234")
    return saved


def test_saved_playlists_runs_and_choices_are_shown_read_only(admin_client, saved):
    pages = {
        "/admin/playlists/savedplaylist/": "Sunday Morning",
        f"/admin/playlists/savedplaylist/{saved.pk}/change/": "genre=Jazz",
        "/admin/playlists/playlistrun/": "Sunday Morning",
        "/admin/playlists/rememberedmatch/?q=pink": "nick drake",
    }
    for url, shown in pages.items():
        page = admin_client.get(url).content.decode()
        assert shown in page, url
        assert 'name="_save"' not in page and "super-secret-token" not in page, url
    assert admin_client.get("/admin/playlists/savedplaylist/add/").status_code == 403


def test_prompt_runs_are_shown_read_only_without_the_model_key(admin_client, settings):
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "http://llm.invalid/v1", "sk-super-secret-llm-key"
    run = PromptRun.objects.create(prompt="rainy Sunday jazz", title="Rainy Sunday", phase=PromptPhase.DONE)
    for url in ("/admin/playlists/promptrun/?q=rainy", f"/admin/playlists/promptrun/{run.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "rainy Sunday jazz" in page, url
        assert 'name="_save"' not in page and "sk-super-secret-llm-key" not in page, url
