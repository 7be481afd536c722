"""The sign-in throttle in the real web server: two gunicorn servers on one data dir."""

import pytest
import requests

from mediasage import processes

pytestmark = pytest.mark.worker


def _attempt(url, password):
    """One sign-in as a fresh browser would make it; returns the page's text, or "" on success."""
    browser = requests.Session()
    token = browser.get(url + "/login", timeout=10).cookies["csrftoken"]
    data = {"username": "tester", "password": password, "csrfmiddlewaretoken": token}
    response = browser.post(url + "/login", data=data, headers={"Referer": url + "/login"}, timeout=10)
    return "" if response.url.rstrip("/") == url else response.text


def _answers(url):
    try:
        return requests.get(url + "/login", timeout=5).ok
    except requests.ConnectionError:
        return False


def test_failed_logins_are_throttled_across_workers(plex_factory, stack_factory):
    stack = stack_factory(plex_factory(50))
    port = processes.free_port()
    other = processes.spawn(processes.web(port), stack.env, stack.logs / "web2.log")
    other_url = f"http://127.0.0.1:{port}"
    try:
        stack.wait_for(lambda: _answers(other_url), what="the second server")
        for _ in range(3):
            assert "Please enter a correct" in _attempt(stack.url, "guess")
        assert "Please enter a correct" in _attempt(other_url, "guess")
        # The fifth failure, counted by another process, locks both.
        assert "Too many failed sign-ins. Try again in 30 seconds." in _attempt(other_url, "guess")
        assert "Too many failed sign-ins" in _attempt(stack.url, stack.PASSWORD)
    finally:
        processes.stop(other)
