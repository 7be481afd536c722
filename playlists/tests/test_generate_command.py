"""manage.py generate: a playlist from a sentence, printed and saved; a one-line reason
and nothing written on failure."""

import io

import pytest
from django.core.management import CommandError, call_command

from playlists.fakes.llm import Misbehaviour


def _generate(*args):
    out = io.StringIO()
    call_command("generate", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_tracks_with_reasons_tokens_and_requests_and_saves(synced, fake_llm):
    out = _generate("only motorhead, nothing live", "--to", "plex", "--tracks", "6", "--name", "Loud")
    assert "Rules: Artist: Motörhead; No live recordings; Length: 6 tracks" in out
    assert out.count("Motörhead") >= 6 and "Matches " in out
    assert "Tokens: " in out and "s the model" in out
    [playlist] = [p for p in synced.playlists.values() if p.title == "Loud"]
    assert len(playlist.items) == 6 and playlist.summary
    assert "Saved “Loud” to plex: 6 added, 0 removed. Requests to the media server:" in out


def test_a_dry_run_writes_nothing(synced, fake_llm):
    out = _generate("jazz", "--to", "plex", "--minutes", "20", "--dry-run")
    assert "Dry run: nothing saved. Requests to the media server: 0." in out
    assert not synced.requests


@pytest.mark.parametrize(
    ("misbehave", "said"),
    [
        (Misbehaviour.UNAUTHORIZED, "refused the API key (401): check LLM_API_KEY"),
        (Misbehaviour.UNKNOWN_MODEL, "does not offer the model fake-small"),
        (Misbehaviour.WRONG_KIND, "did not answer with the JSON asked for"),
        (Misbehaviour.RATE_LIMITED_ALWAYS, "rate limiting requests (429), even after waiting once"),
        (Misbehaviour.HANG, "did not answer within 1 s (LLM_TIMEOUT)"),
        (Misbehaviour.WEB_PAGE, "something other than the OpenAI API: check LLM_BASE_URL"),
        (None, "Could not reach the model endpoint at 127.0.0.1:9"),
    ],
)
def test_a_failure_is_one_line_and_writes_nothing(synced, fake_llm, misbehave, said, settings):
    fake_llm.misbehave = misbehave
    fake_llm.faults.hang_seconds = 3
    if misbehave is None:  # nothing listening there
        settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(CommandError) as failed:
        _generate("jazz, 5 tracks", "--to", "plex")
    message = str(failed.value)
    assert message.startswith("Nothing saved: ") and said in message and "\n" not in message
    assert not synced.requests


def test_rules_nothing_fits_are_named(synced, fake_llm):
    with pytest.raises(CommandError, match="No track in the library fits the sentence's rules"):
        _generate("only motorhead from the 1950s", "--to", "plex")
    assert not fake_llm.chat_bodies and not synced.requests
