"""The footer and first-run modal in a real headless Chromium, against the real
web server and worker processes and the fake Plex."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def plex(plex_factory):
    return plex_factory(3000, seed=5, token="ui-token")


def _slow(plex, seconds=0.25):
    """Every track page takes a while, so progress can be watched."""
    plex.faults.hang_seconds = seconds
    plex.faults.hang_after_pages = 0


def test_first_run_modal_shows_progress_then_the_library(plex, stack_factory, page, shoot):
    _slow(plex)
    stack = stack_factory(plex, SYNC_PAGE_SIZE="150")
    page.goto(stack.url)

    modal = page.locator("#sync-modal")
    expect(modal).to_contain_text("Syncing your Plex library...")
    bar = modal.locator("progress")
    values = set()
    for _ in range(60):
        expect(page.locator("#sync-modal progress")).to_be_visible()
        value = float(page.locator("#sync-modal progress").get_attribute("value") or 0)
        if 0 < value < 3000:
            values.add(value)
        if len(values) >= 2:
            break
        page.wait_for_timeout(250)
    assert len(values) >= 2, f"the bar did not move: {values}"
    expect(bar).to_have_attribute("max", "3000")
    expect(modal).to_contain_text(re.compile(r"[\d,]+ / 3,000 tracks"))
    shoot("modal")

    # The page reloads itself once the sync is done, without the modal.
    expect(modal).to_have_count(0, timeout=30_000)
    expect(page.locator("#library-footer")).to_contain_text("Library: 3,000 tracks")
    expect(page.locator("#library-footer")).to_contain_text("Synced")
    shoot("after")


def test_modal_survives_a_reload_and_starts_only_one_sync(plex, stack_factory, page):
    _slow(plex, 0.4)
    stack = stack_factory(plex, SYNC_PAGE_SIZE="150")
    page.goto(stack.url)
    expect(page.locator("#sync-modal")).to_contain_text("tracks", timeout=20_000)
    page.reload()
    expect(page.locator("#sync-modal")).to_contain_text("Syncing your Plex library...")
    expect(page.locator("#sync-modal")).to_have_count(0, timeout=40_000)
    # One sync ran: the library was read once (20 pages of 150), however many times the page loaded.
    assert plex.track_pages == 20


def test_refresh_shows_syncing_then_returns_to_normal(plex, stack_factory, page, shoot):
    stack = stack_factory(plex, SYNC_PAGE_SIZE="150")
    stack.sync()
    page.goto(stack.url)
    footer = page.locator("#library-footer")
    expect(footer).to_contain_text("Library: 3,000 tracks")

    _slow(plex, 0.3)
    plex.library.add_tracks(30)
    footer.get_by_role("button", name="Refresh").click()
    expect(footer).to_contain_text("Syncing...")
    expect(footer.locator(".spinner")).to_be_visible()
    shoot("syncing")
    # A second click while syncing cannot start another sync: there is no button to click.
    expect(footer.get_by_role("button", name="Refresh")).to_have_count(0)
    expect(footer).to_contain_text("Library: 3,030 tracks", timeout=30_000)
    expect(footer).to_contain_text("Synced")


def test_failure_shows_the_reason_and_retry_works(plex, stack_factory, page, shoot):
    stack = stack_factory(plex, SYNC_PAGE_SIZE="500")
    stack.sync()
    page.goto(stack.url)
    footer = page.locator("#library-footer")

    plex.faults.fail_after_pages = plex.track_pages + 1
    footer.get_by_role("button", name="Refresh").click()
    expect(footer).to_contain_text("Sync failed", timeout=20_000)
    expect(footer).to_contain_text("HTTP 500")
    expect(footer).to_contain_text("3,000 tracks")
    shoot("failed")

    plex.faults.reset()
    plex.library.add_tracks(5)
    footer.get_by_role("button", name="Retry").click()
    expect(footer).to_contain_text("Library: 3,005 tracks", timeout=20_000)
    expect(footer).not_to_contain_text("Sync failed")


def test_plex_offline_with_a_cache_keeps_the_library_usable(plex, stack_factory, page, shoot):
    stack = stack_factory(plex, SYNC_PAGE_SIZE="500")
    stack.sync()
    plex.stop()
    page.goto(stack.url)
    footer = page.locator("#library-footer")
    footer.get_by_role("button", name="Refresh").click()
    expect(footer).to_contain_text("Plex offline: showing cached library", timeout=20_000)
    expect(page.get_by_test_id("match-count")).to_have_text("3,000")
    shoot("offline")


def test_empty_cache_and_plex_unreachable_says_so_plainly(plex, stack_factory, page, shoot):
    plex.stop()
    stack = stack_factory(plex)
    page.goto(stack.url)
    modal = page.locator("#sync-modal")
    expect(modal).to_contain_text("Can't reach Plex", timeout=20_000)
    expect(modal.get_by_role("button", name="Retry")).to_be_visible()
    shoot("unreachable")
    assert "ui-token" not in page.content()
