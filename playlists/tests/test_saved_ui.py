"""A saved smart playlist made from the builder and run from its page, in a real headless
Chromium against the real web server, worker and the fake Plex."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_smart_playlist_kept_from_the_builder_runs_in_the_worker(plex_factory, stack_factory, page, shoot):
    plex = plex_factory(300, seed=3, token="saved-ui-token")
    stack = stack_factory(plex)
    stack.sync()

    page.goto(stack.url)
    page.get_by_label("Tracks").fill("12")
    page.get_by_label("Leave out live recordings").check()
    page.get_by_role("link", name="Keep this as a smart playlist").click()
    expect(page.get_by_role("heading", name="New smart playlist")).to_be_visible()
    filters = page.get_by_label("Filters").input_value().split("&")
    assert {"source=plex", "exclude_live=on", "count=12"} <= set(filters) and "q=" not in filters
    expect(page.get_by_test_id("saved-count")).to_contain_text("matching tracks now")
    page.get_by_label("Name").fill("Morning studio")
    page.get_by_label("Merge: replace, but keep tracks added by hand").check()
    shoot("form")
    page.get_by_role("button", name="Save smart playlist").click()

    expect(page.get_by_test_id("saved-result")).to_have_text("Never run yet.")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("saved-result")).to_contain_text("Done", timeout=60_000)
    expect(page.get_by_test_id("saved-result")).to_contain_text("12 added, 0 removed, 0 kept, 0 unmatched")
    page.reload()
    expect(page.get_by_test_id("saved-runs")).to_contain_text("Done")
    shoot("ran")
    (playlist,) = plex.playlists.values()
    assert playlist.title == "Morning studio" and len(playlist.items) == 12
    assert plex.token not in page.content()
