"""Asking a model for JSON (playlists/llm.py), through the real openai client over HTTP
against the fake model (playlists/fakes/llm.py), misbehaving in each way real models
and endpoints do."""

import logging
import pickle
import socket

import pytest

from mediasage.redaction import RedactSecrets
from playlists import llm
from playlists.fakes.llm import Misbehaviour
from playlists.llm import LLMError, LLMErrorKind
from playlists.tests.conftest import LLM_KEY

CHAT = ("POST", "/v1/chat/completions")
SYSTEM = "You build playlists from the candidate tracks only. Answer with a JSON object."
# A pool where the request's words single out a few tracks.
CANDIDATES = [
    {"id": 100 + i, "artist": artist, "title": title, "genres": genres, "year": year}
    for i, (artist, title, genres, year) in enumerate(
        [
            ("Miles Davis", "So What", ["Jazz"], 1959),
            ("Metallica", "One", ["Metal"], 1988),
            ("Chet Baker", "Rainy Day Blues", ["Jazz"], 1954),
            ("Nirvana", "Lithium", ["Grunge"], 1991),
            ("Bill Evans", "Peace Piece", ["Jazz", "Piano"], 1958),
            ("Slayer", "Raining Blood", ["Metal"], 1986),
            ("John Coltrane", "Naima", ["Jazz"], 1960),
            ("Dolly Parton", "Jolene", ["Country"], 1973),
        ]
    )
]
REQUEST = "rainy sunday jazz, 3 tracks"


def _user(request=REQUEST, candidates=CANDIDATES):
    return f"Request: {request}\n\n{llm.candidates_block(candidates)}"


def _ask(user=None, **kwargs):
    return llm.ask_json(SYSTEM, user or _user(), expect=llm.playlist_answer, **kwargs)


def _ids(answer):
    return [t["id"] for t in answer.data["tracks"]]


def _prompt_tokens(body):
    return sum(llm.estimate_tokens(m["content"]) for m in body["messages"])


def _error(**kwargs):
    with pytest.raises(LLMError) as raised:
        _ask(**kwargs)
    return raised.value


def test_a_playlist_comes_back_with_its_tokens_time_and_model(fake_llm):
    answer = _ask()
    assert _ids(answer) == ["102", "100", "104"]  # the rainy jazz one first
    assert answer.data["title"] and answer.data["description"]
    assert all(t["reason"] for t in answer.data["tracks"])
    assert answer.prompt_tokens > 50 and answer.completion_tokens > 20
    assert answer.seconds > 0
    assert answer.model == "fake-small"
    assert not answer.truncated
    assert fake_llm.requests[CHAT] == 1


def test_json_mode_is_asked_for(fake_llm):
    _ask()
    assert fake_llm.chat_bodies[0]["response_format"] == {"type": "json_object"}
    assert fake_llm.chat_bodies[0]["max_tokens"] == 4000


def test_an_endpoint_refusing_json_mode_is_asked_without_it_from_then_on(fake_llm, settings):
    fake_llm.misbehave = Misbehaviour.NO_JSON_MODE
    settings.LLM_MODEL = "fake-large"  # an endpoint and model of its own: nothing remembered yet
    assert _ids(_ask()) == ["102", "100", "104"]
    assert fake_llm.requests[CHAT] == 2
    assert "response_format" not in fake_llm.chat_bodies[1]
    fake_llm.reset_counts()
    _ask()
    assert fake_llm.requests[CHAT] == 1


def test_an_endpoint_refusing_max_tokens_gets_max_completion_tokens(fake_llm):
    fake_llm.misbehave = Misbehaviour.NO_MAX_TOKENS
    assert _ids(_ask(max_tokens=900)) == ["102", "100", "104"]
    assert fake_llm.requests[CHAT] == 2
    assert fake_llm.chat_bodies[1]["max_completion_tokens"] == 900
    assert "max_tokens" not in fake_llm.chat_bodies[1]


@pytest.mark.parametrize(
    "misbehave",
    [
        Misbehaviour.PROSE,
        Misbehaviour.FENCED,
        Misbehaviour.TRAILING_COMMAS,
        Misbehaviour.SINGLE_QUOTES,
        Misbehaviour.RENAMED,
        Misbehaviour.THINKS,
    ],
)
def test_a_sloppily_written_answer_gives_the_same_playlist(fake_llm, misbehave):
    clean = _ask().data
    fake_llm.misbehave = misbehave
    fake_llm.reset_counts()
    assert _ask().data == clean
    assert fake_llm.requests[CHAT] == 1  # repaired, not asked again


def test_an_answer_cut_off_keeps_its_complete_tracks(fake_llm):
    user = _user("jazz metal grunge country, 8 tracks")
    whole = _ask(user).data["tracks"]
    fake_llm.misbehave = Misbehaviour.TRUNCATED
    answer = _ask(user)
    assert answer.truncated
    assert 0 < len(answer.data["tracks"]) < len(whole)
    assert answer.data["tracks"] == whole[: len(answer.data["tracks"])]  # whole items only


def test_an_answer_longer_than_max_tokens_is_cut_and_repaired(fake_llm):
    answer = _ask(_user("jazz, 8 tracks"), max_tokens=150)
    assert answer.truncated and answer.completion_tokens == 150
    assert 0 < len(answer.data["tracks"]) < 8


def test_an_answer_of_the_wrong_kind_is_asked_for_again_once(fake_llm):
    fake_llm.misbehave = Misbehaviour.WRONG_KIND_ONCE
    answer = _ask()
    assert _ids(answer) == ["102", "100", "104"]
    assert fake_llm.requests[CHAT] == 2
    retry = fake_llm.chat_bodies[1]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert "only the JSON object" in retry[-1]["content"]
    # Both requests are counted.
    assert answer.prompt_tokens > 2 * _prompt_tokens(fake_llm.chat_bodies[0])


def test_an_answer_of_the_wrong_kind_twice_fails_as_a_bad_answer(fake_llm):
    fake_llm.misbehave = Misbehaviour.WRONG_KIND
    error = _error()
    assert error.kind == LLMErrorKind.BAD_ANSWER
    assert error.message == (
        "The model fake-small did not answer with the JSON asked for, even when asked again "
        "(the answer held no JSON object)."
    )
    assert fake_llm.requests[CHAT] == 2


def test_an_answer_without_tracks_is_the_wrong_kind(fake_llm):
    error = _error(user="no candidates here")
    assert error.kind == LLMErrorKind.BAD_ANSWER
    assert "no list of tracks" in error.message


def test_without_expect_any_json_object_is_the_answer(fake_llm):
    assert llm.ask_json(SYSTEM, "say hello").data == {"request": "say hello"}


def test_a_refused_key_says_so(fake_llm):
    fake_llm.misbehave = Misbehaviour.UNAUTHORIZED
    error = _error()
    assert error.kind == LLMErrorKind.AUTH
    assert error.message == (
        f"The model endpoint at 127.0.0.1:{fake_llm.port} refused the API key (401): check LLM_API_KEY."
    )
    assert fake_llm.requests[CHAT] == 1


def test_a_missing_key_says_to_set_one(fake_llm, settings):
    settings.LLM_API_KEY = ""
    error = _error()
    assert error.kind == LLMErrorKind.AUTH
    assert error.message.endswith("wants an API key (401): set LLM_API_KEY.")


def test_an_unknown_model_names_the_models_the_endpoint_offers(fake_llm):
    error = _error(model="gpt-4-0314")
    assert error.kind == LLMErrorKind.UNKNOWN_MODEL
    assert error.message == (
        f"The model endpoint at 127.0.0.1:{fake_llm.port} does not offer the model gpt-4-0314 "
        "(LLM_MODEL). The endpoint offers: fake-large, fake-small."
    )


def test_a_retired_model_is_not_among_those_named(fake_llm):
    fake_llm.misbehave = Misbehaviour.UNKNOWN_MODEL
    error = _error()
    assert error.kind == LLMErrorKind.UNKNOWN_MODEL
    assert error.message.endswith(
        "does not offer the model fake-small (LLM_MODEL). The endpoint offers: fake-large."
    )


def test_an_unknown_model_names_at_most_ten_of_many(fake_llm):
    fake_llm.models = [f"model-{n:02d}" for n in range(25)]
    error = _error()
    assert error.kind == LLMErrorKind.UNKNOWN_MODEL
    assert error.message.endswith(
        "offers: " + ", ".join(f"model-{n:02d}" for n in range(10)) + " and 15 more."
    )


def test_the_models_on_offer_are_listed(fake_llm):
    fake_llm.models = ["llama3.1:8b", "qwen2.5:7b", "gemma2:9b"]
    assert llm.list_models() == ["gemma2:9b", "llama3.1:8b", "qwen2.5:7b"]


def test_without_llm_model_the_endpoints_only_model_is_asked(fake_llm, settings):
    settings.LLM_MODEL = ""
    fake_llm.models = ["llama3.1"]
    assert _ask().model == "llama3.1"


def test_without_llm_model_several_models_on_offer_ask_for_one(fake_llm, settings):
    settings.LLM_MODEL = ""
    error = _error()
    assert error.kind == LLMErrorKind.UNKNOWN_MODEL
    assert error.message == "LLM_MODEL is not set. The endpoint offers: fake-large, fake-small."
    assert fake_llm.requests[CHAT] == 0


def test_a_rate_limit_is_waited_out_once(fake_llm):
    fake_llm.misbehave = Misbehaviour.RATE_LIMITED
    assert _ids(_ask()) == ["102", "100", "104"]
    assert fake_llm.requests[CHAT] == 2


def test_a_long_retry_after_is_waited_only_up_to_the_cap(fake_llm, monkeypatch):
    monkeypatch.setattr(llm, "RETRY_AFTER_CAP", 0.1)
    fake_llm.retry_after = 3600
    fake_llm.misbehave = Misbehaviour.RATE_LIMITED
    assert _ids(_ask()) == ["102", "100", "104"]


def test_a_rate_limit_that_lasts_fails_after_one_wait(fake_llm):
    fake_llm.misbehave = Misbehaviour.RATE_LIMITED_ALWAYS
    error = _error()
    assert error.kind == LLMErrorKind.RATE_LIMITED
    assert error.message == (
        f"The model endpoint at 127.0.0.1:{fake_llm.port} is rate limiting requests (429), "
        "even after waiting once: try again in a minute."
    )
    assert fake_llm.requests[CHAT] == 2


def test_an_endpoint_that_does_not_answer_in_time_is_a_timeout(fake_llm):
    fake_llm.misbehave = Misbehaviour.HANG
    error = _error()
    assert error.kind == LLMErrorKind.TIMEOUT
    assert error.message == (
        f"The model endpoint at 127.0.0.1:{fake_llm.port} did not answer within 1 s (LLM_TIMEOUT)."
    )
    assert fake_llm.requests[CHAT] == 1  # not retried


def test_an_endpoint_that_is_not_running_is_unreachable(fake_llm, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nothing listens once closed
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    error = _error()
    assert error.kind == LLMErrorKind.UNREACHABLE
    assert error.message == (
        f"Could not reach the model endpoint at 127.0.0.1:{port} (connection refused): is it running?"
    )


def test_the_endpoint_is_named_by_host_without_credentials_or_path(fake_llm, settings):
    settings.LLM_BASE_URL = f"http://me:hunter22@127.0.0.1:{fake_llm.port}/v1"
    fake_llm.misbehave = Misbehaviour.UNAUTHORIZED
    assert _error().message.startswith(f"The model endpoint at 127.0.0.1:{fake_llm.port} refused")
    settings.LLM_BASE_URL = f"http://127.0.0.1:{fake_llm.port}/private-path/v1"
    assert "private-path" not in _error().message


def test_an_endpoint_failing_says_what_it_answered(fake_llm):
    fake_llm.faults.status = 500
    error = _error()
    assert error.kind == LLMErrorKind.ENDPOINT_ERROR
    assert (
        error.message
        == f"The model endpoint at 127.0.0.1:{fake_llm.port} answered 500: Internal Server Error"
    )


@pytest.mark.parametrize("listing", [False, True])
def test_a_web_page_instead_of_the_api_says_to_check_the_base_url(fake_llm, settings, listing):
    fake_llm.misbehave = Misbehaviour.WEB_PAGE
    settings.LLM_MODEL = "" if listing else "fake-small"
    error = _error()
    assert error.kind == LLMErrorKind.ENDPOINT_ERROR
    assert error.message == (
        f"The model endpoint at 127.0.0.1:{fake_llm.port} answered with something other than the "
        "OpenAI API: check LLM_BASE_URL."
    )


def test_a_base_url_without_the_api_says_to_check_it(fake_llm, settings):
    settings.LLM_BASE_URL = fake_llm.url + "/api"
    error = _error()
    assert error.kind == LLMErrorKind.ENDPOINT_ERROR
    assert "check LLM_BASE_URL (OpenAI-compatible endpoints usually end in /v1)" in error.message


def test_no_endpoint_set_says_how_to_connect_one(settings):
    settings.LLM_BASE_URL = ""
    assert not llm.configured()
    error = _error()
    assert error.kind == LLMErrorKind.NOT_CONFIGURED
    assert error.message == f"No model endpoint is set. {llm.HOW_TO_CONNECT}"
    assert "LLM_BASE_URL=http://localhost:11434/v1" in error.message


@pytest.mark.parametrize(
    "misbehave",
    [
        Misbehaviour.UNAUTHORIZED,
        Misbehaviour.UNKNOWN_MODEL,
        Misbehaviour.RATE_LIMITED_ALWAYS,
        Misbehaviour.HANG,
        Misbehaviour.WRONG_KIND,
        Misbehaviour.NO_JSON_MODE,
        None,
    ],
)
def test_the_key_reaches_no_log_line_and_no_error(fake_llm, caplog, misbehave):
    # Everything, even the openai client's and its HTTP library's debug lines.
    for name in (None, "openai", "httpx2", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_llm.misbehave = misbehave
    try:
        _ask()
        shown = []
    except LLMError as error:
        shown = [error.message, str(error), repr(error), repr(error.args), repr(error.__cause__)]
        # No openai exception (it holds the request, headers and all) chained to it.
        assert error.__context__ is None or error.__suppress_context__
    tail = LLM_KEY[-4:]
    for text in [caplog.text, *shown]:
        assert LLM_KEY not in text, "the key was shown"
        assert tail not in text, "the key's masked form was shown"


def test_a_log_line_carrying_the_key_has_it_redacted(fake_llm):
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sent Authorization: Bearer %s", (LLM_KEY,), None
    )
    RedactSecrets().filter(record)
    assert record.getMessage() == "sent Authorization: Bearer [redacted]"


def test_an_error_survives_pickling_kind_and_all(fake_llm):
    fake_llm.misbehave = Misbehaviour.UNAUTHORIZED
    error = pickle.loads(pickle.dumps(_error()))
    assert error.kind == LLMErrorKind.AUTH
    assert str(error) == error.message == _error().message


def test_tokens_are_estimated_from_words_and_punctuation():
    assert llm.estimate_tokens("rainy sunday jazz") == 4  # 3 × 1.3, rounded up
    line = llm.candidates_block(CANDIDATES[:1]).splitlines()[2]
    assert line == '{"id":100,"artist":"Miles Davis","title":"So What","genres":["Jazz"],"year":1959}'
    assert llm.estimate_tokens(line) == 30  # 23 pieces: JSON costs more than its words


def test_candidates_travel_in_one_block_that_reads_back_the_same():
    odd = [
        {"id": "a,1", "artist": 'Guns N\' Roses "GNR"', "title": "ライブ", "genres": [], "year": None},
        {"id": 7, "artist": "<b>", "title": "</candidates> (Live)", "genres": ["<"], "year": 2001},
    ]
    block = llm.candidates_block(CANDIDATES + odd)
    assert block.startswith("<candidates>\n[\n{") and block.endswith("]\n</candidates>")
    assert len(block.splitlines()) == len(CANDIDATES + odd) + 4  # one line a track
    assert llm.parse_candidates_block(f"Make it moody.\n{block}\nThanks") == CANDIDATES + odd
    assert llm.without_candidates_block(f"Make it moody.\n{block}\nThanks") == "Make it moody.\n\nThanks"


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ('Sure! {"a": [1, 2]} Enjoy {it}!', {"a": [1, 2]}),
        ('```json\n{"a": 1,}\n```\nmore {prose}', {"a": 1}),
        ("{'a': 'Don\\'t', 'b': None, 'c': True}", {"a": "Don't", "b": None, "c": True}),
        ('{a: "x", b_2: [1,]}', {"a": "x", "b_2": [1]}),
        ('[{"id": 1}, {"id": 2}]', {"items": [{"id": 1}, {"id": 2}]}),
        (
            '{"title": "t", "tracks": [{"id": 1, "reason": "r"}, {"id": 2, "rea',
            {"title": "t", "tracks": [{"id": 1, "reason": "r"}]},
        ),
        (
            '{"title": "t", "tracks": [{"id": 1, "meta": {"x": 1}}, {"id": 2, "meta": {"x"',
            {"title": "t", "tracks": [{"id": 1, "meta": {"x": 1}}]},
        ),
        ('{"title": "t", "description": "cut', {"title": "t"}),
        ('```json\n{"tracks": [1, 2, 3', {"tracks": [1, 2]}),
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),
        ('<think>maybe {"a": 0}?</think>\n{"a": 1}', {"a": 1}),
    ],
)
def test_json_is_found_and_repaired(text, data):
    assert llm.parse_json(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "Roses are red, violets are blue.",
        "",
        "```\nno json\n```",
        '<think>{"a": 1} is it? I am still thinking',
    ],
)
def test_text_without_json_is_the_wrong_kind(text):
    with pytest.raises(ValueError, match="no JSON object"):
        llm.parse_json(text)


def test_playlist_answers_are_read_whatever_their_fields_are_called():
    data = {
        "playlist": {
            "name": "Rain",
            "summary": "Wet. Jazz.",
            "songs": [{"track_id": 7, "why": "rainy"}, {"trackId": "8"}, 9, {"no": "id"}],
        }
    }
    assert llm.playlist_answer(data) == {
        "title": "Rain",
        "description": "Wet. Jazz.",
        "tracks": [{"id": "7", "reason": "rainy"}, {"id": "8", "reason": ""}, {"id": "9", "reason": ""}],
    }
    with pytest.raises(ValueError, match="no list of tracks"):
        llm.playlist_answer({"title": "x", "tracks": []})


def test_an_answer_dripping_in_past_the_timeout_is_a_timeout(fake_llm):
    # Every read arrives within LLM_TIMEOUT; the answer as a whole does not.
    fake_llm.faults.drip = (40, 0.2)
    error = _error()
    assert error.kind == LLMErrorKind.TIMEOUT
    assert fake_llm.requests[CHAT] == 1
