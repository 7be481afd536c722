"""The prompt page in a real headless Chromium, against the real web server and worker,
the fake Plex and the fake model."""

import pytest
from playwright.sync_api import expect

from playlists.tests.conftest import LLM_KEY

pytestmark = pytest.mark.browser


def test_a_sentence_previewed_generated_in_the_worker_and_saved(
    plex_factory, stack_factory, fake_llm, page, shoot
):
    plex = plex_factory(1000, seed=11, token="ui-token")
    stack = stack_factory(plex, LLM_BASE_URL=fake_llm.base_url, LLM_API_KEY=LLM_KEY, LLM_MODEL="fake-small")
    stack.sync()
    page.goto(stack.url + "/playlists/prompt")
    # The endpoint's models, listed where the model is chosen.
    expect(page.locator("#prompt-models #prompt-model")).to_have_value("fake-small")
    page.get_by_label("What should it be?").fill("rock, nothing live, 8 tracks")
    expect(page.get_by_test_id("prompt-rules")).to_contain_text("Genre: Rock")
    expect(page.get_by_test_id("prompt-tokens")).not_to_be_empty()
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("prompt-title")).to_be_visible(timeout=30_000)  # polled until done
    expect(page.get_by_test_id("prompt-tracks").locator("li")).to_have_count(8)
    expect(page.locator("#prompt-models #prompt-model")).to_be_visible()
    shoot("generated")
    page.get_by_label("Name").fill("Rock eight")
    page.get_by_role("button", name="Save to Plex").click()
    expect(page.get_by_test_id("save-result")).to_contain_text("Saved “Rock eight” to Plex: 8 tracks added")
    page.get_by_role("button", name="Keep as a weekly prompt playlist").click()
    expect(page.get_by_test_id("save-result")).to_contain_text("a fresh selection every week")

    page.get_by_role("button", name="More like this").first.click()
    expect(page.get_by_test_id("prompt-asked")).to_contain_text("More like “", timeout=30_000)
    expect(page.get_by_test_id("prompt-stats")).to_contain_text("Rules: Genre:")
    assert LLM_KEY not in page.content()
