"""The playlist builder in a real headless Chromium, against the real web server,
worker and the fake Plex."""

from collections import Counter

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def plex(plex_factory):
    return plex_factory(3000, seed=11, token="ui-token")


def _genres(lib, track):
    """The track's own genres, else its album's, else its album artist's."""
    album = lib.albums[track.album_key]
    return track.genres or album.genres or lib.artists[album.artist_key].genres


def test_filters_change_the_preview_count(plex, stack_factory, page, shoot):
    lib = plex.library
    stack = stack_factory(plex)
    stack.sync()
    page.goto(stack.url)
    count = page.get_by_test_id("match-count")
    expect(count).to_have_text("3,000")

    genre, expected = Counter(g for t in lib.tracks.values() for g in _genres(lib, t)).most_common(1)[0]
    page.get_by_placeholder("Type to search genres…").fill(genre)
    page.get_by_placeholder("Type to search genres…").press("Enter")
    expect(page.locator("#genre-chips .chip")).to_have_text(genre + "×")
    expect(count).to_have_text(f"{expected:,}")

    live = sum(t.truth_live for t in lib.tracks.values() if genre in _genres(lib, t))
    page.get_by_label("Leave out live recordings").check()
    expect(count).to_have_text(f"{expected - live:,}")
    shoot("filtered")

    page.locator("#genre-chips .chip button").click()
    expect(count).to_have_text(f"{3000 - sum(t.truth_live for t in lib.tracks.values()):,}")


def test_more_filters_update_the_live_count_and_sort_the_pick(plex, stack_factory, page, shoot):
    tracks = plex.library.tracks.values()
    stack = stack_factory(plex)
    stack.sync()
    page.goto(stack.url)
    count = page.get_by_test_id("match-count")
    expect(count).to_have_text("3,000")

    page.get_by_text("More filters").click()
    page.get_by_label("Play count at least").fill("3")
    expect(count).to_have_text(f"{sum((t.view_count or 0) >= 3 for t in tracks):,}")
    page.get_by_label("Length at most (min)").fill("4")
    expected = sum((t.view_count or 0) >= 3 and t.duration_ms <= 240_000 for t in tracks)
    expect(count).to_have_text(f"{expected:,}")
    page.get_by_label("Sort").select_option(label="Most played")
    expect(page.get_by_text("The first of the pick:")).to_be_visible()
    shoot("more-filters")

    page.get_by_label("Tracks").fill("10")
    page.get_by_role("button", name="Generate playlist").click()
    expect(page.get_by_test_id("picked-count")).to_have_text("10")
    expect(page.get_by_role("button", name="Pick again")).to_be_visible()


def test_generate_and_save_to_plex(plex, stack_factory, page, shoot):
    stack = stack_factory(plex)
    stack.sync()
    page.goto(stack.url)
    page.get_by_label("Tracks").fill("25")
    page.get_by_role("button", name="Generate playlist").click()
    expect(page.get_by_test_id("picked-count")).to_have_text("25")
    page.get_by_label("Playlist name").fill("Sunday Morning")
    page.get_by_role("button", name="Save to Plex").click()
    result = page.get_by_test_id("save-result")
    expect(result).to_contain_text("Saved “Sunday Morning” to Plex: 25 tracks added")
    expect(result.get_by_role("link", name="Open in Plex ↗")).to_have_attribute(
        "href",
        f"{plex.url}/web/index.html#!/server/{plex.machine_identifier}/playlist?key=%2Fplaylists%2F"
        f"{next(iter(plex.playlists))}",
    )
    shoot("saved")
    (playlist,) = plex.playlists.values()
    assert playlist.title == "Sunday Morning" and len(playlist.items) == 25


def test_import_shows_the_match_report(plex, stack_factory, page, shoot, tmp_path):
    stack = stack_factory(plex)
    stack.sync()
    plex.reset_counts()
    lib = plex.library
    tracks = list(lib.tracks.values())[:5]
    lines = ["#EXTM3U"]
    for t in tracks:
        album = lib.albums[t.album_key]
        lines.append(f"#EXTINF:200,{t.track_artist or lib.artists[album.artist_key].title} - {t.title}")
        lines.append("a.mp3")
    lines += ["#EXTINF:200,Nobody - Nothing At All", "b.mp3"]
    path = tmp_path / "mine.m3u"
    path.write_text("\n".join(lines))

    page.goto(stack.url + "/playlists/import")
    page.get_by_label("Playlist file").set_input_files(path)
    page.get_by_role("button", name="Match").click()
    summary = page.get_by_test_id("match-summary")
    expect(summary).to_contain_text("not in your library")
    expect(page.locator(".match-unmatched")).to_contain_text("Nobody — Nothing At All")
    shoot("report")
    assert plex.total_requests == 0  # matching asks the server nothing
