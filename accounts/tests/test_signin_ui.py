"""The first-run and sign-in pages in a real headless Chromium, against the real web
server and worker processes."""

import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def plex(plex_factory):
    return plex_factory(300, seed=3, token="ui-token")


def test_the_first_run_page_creates_the_account_and_opens_the_app(plex, stack_factory, page, shoot):
    stack = stack_factory(plex, account=False)
    page.goto(stack.url + "/playlists/import")
    expect(page).to_have_url(re.compile(r"/first-run\?next=/playlists/import$"))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    shoot("empty")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Password confirmation").fill("password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("This password is too common.")).to_be_visible()
    shoot("weak-password")

    page.get_by_label("Password", exact=True).fill("a tune for every mood")
    page.get_by_label("Password confirmation").fill("a tune for every mood")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(stack.url + "/playlists/import")
    header = page.locator("header")
    expect(header.get_by_role("link", name="alice")).to_be_visible()
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    shoot("signed-in")


def test_the_sign_in_page_signs_in_signs_out_and_slows_down_guessing(plex, stack_factory, page, shoot):
    stack = stack_factory(plex)
    page.context.clear_cookies()  # a browser that has not signed in
    page.goto(stack.url + "/playlists/import")
    expect(page).to_have_url(re.compile(r"/login\?next=/playlists/import$"))
    shoot("login")

    page.get_by_label("Username").fill(stack.USERNAME)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    shoot("wrong-password")

    page.get_by_label("Password").fill(stack.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(stack.url + "/playlists/import")
    expect(page.get_by_role("heading", name="Import a playlist")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(stack.url + "/login")
    page.goto(stack.url)
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))

    for _ in range(5):
        page.get_by_label("Username").fill(stack.USERNAME)
        page.get_by_label("Password").fill("still guessing")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Too many failed sign-ins. Try again in 30 seconds.")
    shoot("throttled")


def test_the_account_page_shows_a_new_api_key_once(plex, stack_factory, page, shoot):
    stack = stack_factory(plex)
    page.goto(stack.url)
    page.locator("header").get_by_role("link", name=stack.USERNAME).click()
    page.get_by_role("button", name="Generate API key").click()
    key = page.get_by_test_id("api-key").inner_text()
    shoot("key")
    assert requests.get(stack.url + "/api/library/status", headers={"X-Api-Key": key}, timeout=5).ok
    page.goto(stack.url + "/account")
    expect(page.get_by_test_id("api-key")).to_have_count(0)
    expect(page.get_by_role("button", name="Regenerate API key")).to_be_visible()
