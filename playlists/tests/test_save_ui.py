"""Saving playlists as large as the app makes, and what a failed request tells the user,
in a real headless Chromium against the real web server, worker and the fake Plex."""

import sqlite3

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def stack(plex_factory, stack_factory):
    """MediaSage with a synced 6,000-track library: room for a 5,000-track playlist."""
    stack = stack_factory(plex_factory(6000, seed=13, token="ui-token"))
    stack.sync()
    return stack


def _generate(page, count=None):
    if count:
        page.get_by_label("Tracks").fill(str(count))
    page.get_by_role("button", name="Generate playlist").click()


def test_a_5000_track_playlist_is_built_and_saved_in_its_order(stack, page):
    page.goto(stack.url)
    _generate(page, 5000)
    expect(page.get_by_test_id("picked-count")).to_have_text("5000")
    keys = page.locator("input[name=keys]").input_value().split(",")
    page.get_by_label("Playlist name").fill("Everything")
    page.get_by_role("button", name="Save to Plex").click()
    expect(page.get_by_test_id("save-result")).to_contain_text(
        "Saved “Everything” to Plex: 5,000 tracks added"
    )
    (playlist,) = stack.plex.playlists.values()
    assert [str(k) for k in playlist.items] == keys
    # Choosing a playlist to add to lists them, though the form holds 5,000 keys.
    page.get_by_label("How to save").select_option("append")
    expect(page.get_by_label("Playlist to update")).to_contain_text("Everything (5000 tracks)")
    # The harness ends with a full-page screenshot, which 5,000 rows make too slow to take.
    page.goto(stack.url + "/playlists/import")


def test_a_1200_entry_import_is_saved_with_the_rows_chosen_in_its_order(stack, page, shoot, tmp_path):
    lib = stack.plex.library
    lines = ["#EXTM3U"]
    for t in list(lib.tracks.values())[:1200]:
        artist = t.track_artist or lib.artists[lib.albums[t.album_key].artist_key].title
        lines += [f"#EXTINF:200,{artist} - {t.title}", f"/music/{t.rating_key}.flac"]
    path = tmp_path / "big.m3u"
    path.write_text("\n".join(lines), encoding="utf-8")

    page.goto(stack.url + "/playlists/import")
    page.get_by_label("Playlist file").set_input_files(path)
    page.get_by_role("button", name="Match").click()
    expect(page.get_by_test_id("match-summary")).to_contain_text("matched")
    # Every row's choice as the page shows it: a matched row's track, or the option checked.
    chosen = page.locator("form[data-keys-from-slots]").evaluate(
        """form => Array.from(form.querySelectorAll("input[name^='slot-']"))
            .filter(i => i.type === "hidden" || i.checked).map(i => i.value).filter(Boolean)"""
    )
    chosen = list(dict.fromkeys(chosen))
    assert len(chosen) > 1000  # more than the fields Django would take one per row
    page.get_by_label("Playlist name").fill("Imported")
    page.get_by_role("button", name="Save to Plex").click()
    expect(page.get_by_test_id("save-result")).to_contain_text(
        f"Saved “Imported” to Plex: {len(chosen):,} tracks added"
    )
    shoot("saved")
    (playlist,) = stack.plex.playlists.values()
    assert [str(k) for k in playlist.items] == chosen


def test_a_stale_page_is_told_to_reload_and_the_message_can_be_dismissed(stack, page, shoot):
    page.goto(stack.url)
    _generate(page)
    expect(page.get_by_test_id("picked-count")).to_have_text("50")
    page.context.clear_cookies(name="csrftoken")  # as when the browser dropped the CSRF cookie
    page.get_by_role("button", name="Save to Plex").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your session expired or the page is stale (403): reload the page.")
    expect(page.locator("#save-result + .request-error")).to_be_visible()  # where the user saved
    shoot("403")
    assert stack.plex.playlists == {}
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_have_count(0)


def test_a_server_error_is_said_where_the_user_acted_until_the_next_success(stack, page, shoot):
    page.goto(stack.url)
    # The track table vanishes under the running server (a botched restore, say):
    # generating then fails with a real 500.
    db = sqlite3.connect(stack.data_dir / "library_cache.db", isolation_level=None)
    db.execute("ALTER TABLE library_track RENAME TO library_track_away")
    _generate(page)
    alert = page.locator("#playlist + .request-error")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("MediaSage answered 500 (server error): the details are in its log.")
    shoot("500")

    db.execute("ALTER TABLE library_track_away RENAME TO library_track")
    db.close()
    _generate(page)
    expect(page.get_by_test_id("picked-count")).to_have_text("50")
    expect(alert).to_have_count(0)


def test_a_stopped_server_is_said_to_be_unreachable(stack, page, shoot):
    page.goto(stack.url)
    stack.stop()
    _generate(page)
    expect(page.locator("#playlist + .request-error")).to_contain_text(
        "Could not reach MediaSage: is it still running?"
    )
    shoot("unreachable")
