"""The fake OpenAI-compatible model itself, driven with plain requests over real HTTP:
the wire shapes the openai client and real endpoints agree on, its deterministic
picks, and each misbehaviour."""

import json
import re
import subprocess

import pytest
import requests

from mediasage import processes
from playlists.fakes.llm import Misbehaviour
from playlists.llm import candidates_block, estimate_tokens
from playlists.tests.conftest import LLM_KEY

AUTH = {"Authorization": f"Bearer {LLM_KEY}"}
CANDIDATES = [
    {"id": "t1", "artist": "Miles Davis", "title": "So What", "genres": ["Jazz"], "year": 1959},
    {"id": "t2", "artist": "Metallica", "title": "One", "genres": ["Metal"], "year": 1988},
    {"id": "t3", "artist": "Chet Baker", "title": "Rainy Day", "genres": ["Jazz"], "year": 1954},
    {"id": "t4", "artist": "Nirvana", "title": "Lithium", "genres": ["Grunge"], "year": 1991},
    {"id": "t5", "artist": "Slayer", "title": "Angel of Death", "genres": ["Metal"], "year": 1986},
]


def _chat(server, request, model="fake-small", headers=AUTH, **params):
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "Pick tracks."},
            {"role": "user", "content": f"{request}\n{candidates_block(CANDIDATES)}"},
        ],
        **params,
    }
    return requests.post(f"{server.base_url}/chat/completions", json=body, headers=headers, timeout=5)


def _content(response):
    return response.json()["choices"][0]["message"]["content"]


def _picked(response):
    return [t["id"] for t in json.loads(_content(response))["tracks"]]


def test_models_are_listed_as_openai_lists_them(fake_llm):
    fake_llm.models = ["llama3.1:8b", "qwen2.5"]
    listing = requests.get(f"{fake_llm.base_url}/models", headers=AUTH, timeout=5).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["llama3.1:8b", "qwen2.5"]
    assert all(m["object"] == "model" and m["owned_by"] for m in listing["data"])


def test_a_completion_has_openais_shape_and_usage(fake_llm):
    response = _chat(fake_llm, "jazz, 2 tracks")
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion" and completion["id"].startswith("chatcmpl-")
    assert completion["model"] == "fake-small"
    choice = completion["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    usage = completion["usage"]
    sent = ["Pick tracks.", "jazz, 2 tracks\n" + candidates_block(CANDIDATES)]
    assert usage["prompt_tokens"] == sum(map(estimate_tokens, sent))
    assert usage["completion_tokens"] == estimate_tokens(_content(response))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_it_picks_the_candidates_that_best_match_the_request_as_many_as_asked(fake_llm):
    assert _picked(_chat(fake_llm, "rainy jazz, 2 tracks")) == ["t3", "t1"]
    assert _picked(_chat(fake_llm, "80s metal, 2 tracks")) == ["t2", "t5"]
    assert len(_picked(_chat(fake_llm, "anything"))) == len(CANDIDATES)  # 10 asked, 5 there


def test_it_answers_the_same_request_the_same_way(fake_llm):
    first, second = _chat(fake_llm, "rainy jazz"), _chat(fake_llm, "rainy jazz")
    assert _content(first) == _content(second)


def test_each_pick_has_a_one_line_reason_and_the_playlist_a_title_and_description(fake_llm):
    answer = json.loads(_content(_chat(fake_llm, "rainy jazz, 2 tracks")))
    assert answer["title"] == "Rainy Jazz"
    assert len(re.findall(r"\.", answer["description"])) == 2  # two sentences
    assert answer["tracks"][0] == {"id": "t3", "reason": "Matches jazz, rainy."}


def test_max_tokens_cuts_the_answer_off_with_finish_reason_length(fake_llm):
    response = _chat(fake_llm, "rainy jazz", max_tokens=20)
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == 20
    with pytest.raises(ValueError):
        json.loads(_content(response))


def test_a_wrong_key_gets_openais_401_with_the_key_masked(fake_llm):
    response = _chat(fake_llm, "jazz", headers={"Authorization": "Bearer sk-wrong-1234567890"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert "sk-************7890." in error["message"]  # 12 of its 19 characters hidden


def test_an_unknown_model_gets_a_404_model_not_found(fake_llm):
    response = _chat(fake_llm, "jazz", model="gpt-4-0314")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert "gpt-4-0314" in response.json()["error"]["message"]


def test_a_retired_model_is_refused_and_no_longer_listed(fake_llm):
    fake_llm.misbehave = Misbehaviour.UNKNOWN_MODEL
    assert _chat(fake_llm, "jazz").status_code == 404
    listing = requests.get(f"{fake_llm.base_url}/models", headers=AUTH, timeout=5).json()
    assert [m["id"] for m in listing["data"]] == ["fake-large"]


def test_a_rate_limit_names_its_wait_then_lets_the_next_request_through(fake_llm):
    fake_llm.misbehave = Misbehaviour.RATE_LIMITED
    limited = _chat(fake_llm, "jazz")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert _chat(fake_llm, "jazz").status_code == 200
    fake_llm.misbehave = Misbehaviour.RATE_LIMITED_ALWAYS
    assert [_chat(fake_llm, "jazz").status_code for _ in range(2)] == [429, 429]


def test_ignoring_the_rules_picks_what_matches_least(fake_llm):
    fake_llm.misbehave = Misbehaviour.IGNORE_RULES
    assert _picked(_chat(fake_llm, "rainy jazz, 2 tracks")) == ["t2", "t4"]


def test_inventing_names_every_other_pick_outside_the_candidates(fake_llm):
    fake_llm.misbehave = Misbehaviour.INVENTS
    picked = _picked(_chat(fake_llm, "rainy jazz, 4 tracks"))
    known = {c["id"] for c in CANDIDATES}
    assert [p in known for p in picked] == [True, False, True, False]


@pytest.mark.parametrize(
    ("misbehave", "looks_like"),
    [
        (Misbehaviour.PROSE, r"^Here is a playlist for you!\n\n\{.*\}\n\nEnjoy"),
        (Misbehaviour.FENCED, r"^```json\n\{.*\}\n```$"),
        (Misbehaviour.TRAILING_COMMAS, r'"reason": "[^"]*",\n\s*\}'),
        (Misbehaviour.SINGLE_QUOTES, r"^\{'title': 'Rainy Jazz'"),
        (Misbehaviour.RENAMED, r'"songs": \[\n\s*\{\n\s*"track_id": "t3",\n\s*"why"'),
        (Misbehaviour.THINKS, r"^<think>\n.*\{.*</think>\n\{"),
        (Misbehaviour.WRONG_KIND, r"^Rain on the window[^{]*$"),
    ],
)
def test_each_sloppy_answer_is_written_as_real_models_write_it(fake_llm, misbehave, looks_like):
    fake_llm.misbehave = misbehave
    assert re.search(looks_like, _content(_chat(fake_llm, "rainy jazz, 2 tracks")), re.DOTALL)


def test_the_truncated_answer_stops_part_way(fake_llm):
    whole = _content(_chat(fake_llm, "rainy jazz"))
    fake_llm.misbehave = Misbehaviour.TRUNCATED
    response = _chat(fake_llm, "rainy jazz")
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert whole.startswith(_content(response)) and len(_content(response)) < len(whole)


def test_a_poem_once_then_json_when_corrected(fake_llm):
    fake_llm.misbehave = Misbehaviour.WRONG_KIND_ONCE
    assert _content(_chat(fake_llm, "jazz")).startswith("Rain on the window")
    body = {
        "model": "fake-small",
        "messages": [
            {"role": "user", "content": f"jazz\n{candidates_block(CANDIDATES)}"},
            {"role": "assistant", "content": "Rain on the window…"},
            {"role": "user", "content": "Only the JSON object, please."},
        ],
    }
    response = requests.post(f"{fake_llm.base_url}/chat/completions", json=body, headers=AUTH, timeout=5)
    assert json.loads(_content(response))["tracks"]


@pytest.mark.parametrize(
    ("misbehave", "param", "says"),
    [
        (Misbehaviour.NO_JSON_MODE, {"response_format": {"type": "json_object"}}, "response_format"),
        (Misbehaviour.NO_MAX_TOKENS, {"max_tokens": 100}, "max_completion_tokens"),
    ],
)
def test_a_refused_parameter_gets_a_400_naming_it_and_is_fine_without(fake_llm, misbehave, param, says):
    fake_llm.misbehave = misbehave
    refused = _chat(fake_llm, "jazz", **param)
    assert refused.status_code == 400 and says in refused.json()["error"]["message"]
    assert _chat(fake_llm, "jazz").status_code == 200


def test_a_request_without_candidates_gets_its_words_back(fake_llm):
    body = {"model": "fake-small", "messages": [{"role": "user", "content": "say  hello"}]}
    response = requests.post(f"{fake_llm.base_url}/chat/completions", json=body, headers=AUTH, timeout=5)
    assert json.loads(_content(response)) == {"request": "say hello"}


def test_the_fakellm_command_serves_the_models_it_is_given(tmp_path):
    log = tmp_path / "fakellm.log"
    args = ["fakellm", "--port", "0", "--models", "m1,m2", "--misbehave", "fenced"]
    proc = processes.spawn(processes.manage(*args), processes.app_env(tmp_path / "data"), log)
    try:
        url = _wait_for_url(proc, log)
        assert [m["id"] for m in requests.get(f"{url}/models", timeout=5).json()["data"]] == ["m1", "m2"]
        body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
        answer = requests.post(f"{url}/chat/completions", json=body, timeout=5).json()
        assert answer["choices"][0]["message"]["content"].startswith("```json")
    finally:
        processes.stop(proc)
    assert "misbehaving: JSON in a ```json code fence" in log.read_text()


def _wait_for_url(proc, log):
    """The base URL the command prints once it serves."""
    for _ in range(600):
        if match := re.search(r"at (http://\S+/v1)", log.read_text()):
            return match.group(1).rstrip(",")
        try:
            proc.wait(0.1)
        except subprocess.TimeoutExpired:
            continue  # still starting, as it should be
        raise AssertionError("fakellm stopped: " + log.read_text())
    raise AssertionError("fakellm printed no URL: " + log.read_text())


def test_without_a_key_of_its_own_it_takes_any_as_local_servers_do(fake_llm):
    fake_llm.api_key = ""
    assert _chat(fake_llm, "jazz", headers={"Authorization": "Bearer not-needed"}).status_code == 200
    assert _chat(fake_llm, "jazz", headers={}).status_code == 200


def test_as_a_web_page_it_answers_html_to_everything(fake_llm):
    fake_llm.misbehave = Misbehaviour.WEB_PAGE
    for response in (_chat(fake_llm, "jazz"), requests.get(f"{fake_llm.base_url}/models", timeout=5)):
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/html"
        assert "Welcome to nginx" in response.text
