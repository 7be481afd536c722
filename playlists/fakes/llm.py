"""A fake OpenAI-compatible model server: `/v1/models` and `/v1/chat/completions` as
OpenAI answers them (the response shape, `usage`, `finish_reason`, the error bodies),
deterministic, for the tests and the demo.

It answers a playlist request by reading the candidates block of the user message
(playlists.llm.candidates_block) and picking the candidates whose words (artist,
title, album, genres, year and decade) best match the words of the request, as many
as the request names ("20 tracks"), else 10. `misbehave` makes it answer as real
models and endpoints do when they go wrong; tests may flip it at any time. Its token
counts follow playlists.llm.estimate_tokens, and max_tokens cuts its answer off."""

import collections
import itertools
import json
import re
import threading
import time
from urllib.parse import urlsplit

from django.db import models

from library.fakes.server import FakeServer, status_phrase
from playlists.llm import estimate_tokens, parse_candidates_block, without_candidates_block

DEFAULT_MODELS = ("fake-small", "fake-large")
_DEFAULT_COUNT = 10
_STOPWORDS = frozenset(
    ("a", "an", "and", "any", "are", "as", "at", "be", "but", "by", "for", "from", "give", "i", "in")
    + ("is", "it", "me", "my", "no", "nothing", "not", "of", "on", "only", "or", "please", "some")
    + ("that", "the", "this", "to", "tracks", "songs", "with", "without")
)
_POEM = (
    "Rain on the window, a saxophone sighs,\n"
    "Sunday unfolds under pewter skies.\n"
    "I cannot list songs, but I offer this rhyme:\n"
    "let the music play slowly, and take your time."
)


class Misbehaviour(models.TextChoices):
    """How the fake goes wrong, each as a real model or endpoint has been seen to."""

    PROSE = "prose", "JSON wrapped in prose"
    FENCED = "fenced", "JSON in a ```json code fence"
    TRAILING_COMMAS = "trailing-commas", "JSON with trailing commas"
    SINGLE_QUOTES = "single-quotes", "a Python dict (single quotes, True/None)"
    TRUNCATED = "truncated", "output cut off (finish_reason length)"
    RENAMED = "renamed", "fields renamed (name, summary, songs, track_id, why)"
    WRONG_KIND = "wrong-kind", "a poem instead of JSON, every time"
    WRONG_KIND_ONCE = "wrong-kind-once", "a poem, then JSON when corrected"
    IGNORE_RULES = "ignore-rules", "picks that ignore the request"
    INVENTS = "invents", "every other pick an id not in the candidates"
    THINKS = "thinks", "thinks aloud in <think> first, braces and all (reasoning models)"
    NO_JSON_MODE = "no-json-mode", "400 to response_format (LM Studio, llama.cpp variants)"
    NO_MAX_TOKENS = "no-max-tokens", "400 to max_tokens (OpenAI's reasoning models)"
    UNAUTHORIZED = "401", "401: the API key refused"
    UNKNOWN_MODEL = "404", "404: the model asked for is retired (and no longer listed)"
    RATE_LIMITED = "429", "429 with Retry-After, then an answer"
    RATE_LIMITED_ALWAYS = "429-always", "429 with Retry-After, every time"
    HANG = "hang", "no answer for hang_seconds"
    WEB_PAGE = "web-page", "a web page with 200 to everything (a proxy, a wrong path)"


class FakeLLMServer(FakeServer):
    """start()/stop() or `with`; `base_url` (`url` + /v1) is what LLM_BASE_URL takes.

    `models`: the model ids it offers (asking for another is a 404). `api_key`: when
    set, requests must carry it as a bearer token. `misbehave`: a Misbehaviour, or
    None. `retry_after`: the seconds its 429s ask for. `chat_bodies`: the JSON body of
    each chat request (the last 100), for tests."""

    thread_name = "fake-llm"

    def __init__(self, models=DEFAULT_MODELS, api_key="", host="127.0.0.1", port=0, misbehave=None):
        super().__init__(None, host, port)
        self.models = list(models)
        self.api_key = api_key
        self.misbehave = misbehave
        self.retry_after = 1
        self.faults.hang_seconds = 30
        self.chat_bodies = collections.deque(maxlen=100)  # bounded: the demo runs for days
        self.retired = set()  # models a 404 misbehaviour retired: no longer listed
        self._completions = itertools.count(1)
        self._rate_limited = threading.Event()  # set: the last chat request got a 429

    @property
    def base_url(self):
        return f"{self.url}/v1"

    def reset(self):
        """Behaving again: no misbehaviour, no fault, no retired model, fresh counters."""
        self.misbehave = None
        self.retired.clear()
        self.faults.reset()
        self._rate_limited.clear()
        self.reset_counts()

    def reset_counts(self):
        super().reset_counts()
        self.chat_bodies.clear()

    # -- request handling ----------------------------------------------------------------

    def _serve(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path.rstrip("/")
        route = {"/v1/models": "models", "/v1/chat/completions": "chat"}.get(path)
        self._count(handler.command, path if route else "<other>")
        if self.faults.status:
            return _send(
                handler, self.faults.status, _error(status_phrase(self.faults.status), "server_error")
            )
        if self.misbehave == Misbehaviour.WEB_PAGE:
            page = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
            return _send(handler, 200, page, [("Content-Type", "text/html")])
        if route is None:
            return _send(
                handler, 404, _error(f"Invalid URL ({handler.command} {path})", "invalid_request_error")
            )
        if self.misbehave == Misbehaviour.UNAUTHORIZED or (
            self.api_key and self._bearer(handler) != self.api_key
        ):
            return _send(handler, 401, _unauthorized(self._bearer(handler)))
        if route == "models":
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "mediasage"}
                for m in self.models
                if m not in self.retired
            ]
            return _send(handler, 200, {"object": "list", "data": data})
        try:
            request = json.loads(body)
        except ValueError:
            return _send(
                handler,
                400,
                _error("We could not parse the JSON body of your request.", "invalid_request_error"),
            )
        self.chat_bodies.append(request)
        return self._chat(handler, request)

    def _bearer(self, handler):
        auth = handler.headers.get("Authorization") or ""
        return auth.removeprefix("Bearer ").strip()

    def _chat(self, handler, request):
        misbehave = self.misbehave
        model = request.get("model")
        if misbehave == Misbehaviour.UNKNOWN_MODEL:
            self.retired.add(model)
        if model not in self.models or model in self.retired:
            return _send(handler, 404, _model_not_found(model))
        if misbehave == Misbehaviour.RATE_LIMITED_ALWAYS or (
            misbehave == Misbehaviour.RATE_LIMITED and not self._rate_limited.is_set()
        ):
            self._rate_limited.set()
            return _send(handler, 429, _rate_limited(), [("Retry-After", str(self.retry_after))])
        self._rate_limited.clear()
        if refused := _refused_parameter(misbehave, request):
            return _send(handler, 400, refused)
        if misbehave == Misbehaviour.HANG and self._stopping.wait(self.faults.hang_seconds):
            handler.close_connection = True
            return None
        messages = request.get("messages") or []
        text = self._answer_text(messages, misbehave)
        prompt_tokens = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        completion_tokens = estimate_tokens(text)
        finish_reason = "stop"
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        if misbehave == Misbehaviour.TRUNCATED:
            limit = min(limit or completion_tokens, max(1, completion_tokens * 6 // 10))
        if limit and completion_tokens > limit:
            text = text[: len(text) * limit // completion_tokens]
            completion_tokens, finish_reason = limit, "length"
        return _send(
            handler, 200, self._completion(model, text, finish_reason, prompt_tokens, completion_tokens)
        )

    def _completion(self, model, text, finish_reason, prompt_tokens, completion_tokens):
        return {
            "id": f"chatcmpl-fake{next(self._completions)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _answer_text(self, messages, misbehave):
        corrected = any(m.get("role") == "assistant" for m in messages)
        if misbehave == Misbehaviour.WRONG_KIND or (
            misbehave == Misbehaviour.WRONG_KIND_ONCE and not corrected
        ):
            return _POEM
        user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
        candidates = parse_candidates_block(user)
        request = without_candidates_block(user)
        if not candidates:
            return _written({"request": " ".join(request.split())}, misbehave)
        answer = pick(request, candidates, ignore_request=misbehave == Misbehaviour.IGNORE_RULES)
        if misbehave == Misbehaviour.INVENTS:
            for n, track in enumerate(answer["tracks"][1::2], 1):
                track["id"] = _invented_id(candidates, n)
        return _written(answer, misbehave)


def pick(request, candidates, ignore_request=False):
    """The fake model's playlist: the candidates sharing most words with the request
    (ties in the candidates' order), or sharing fewest when it ignores the request."""
    words = _words(request)
    count = _count_asked(request)
    scored = [(len(words & _candidate_words(c)), c) for c in candidates]
    ranked = sorted(scored, key=lambda sc: sc[0], reverse=not ignore_request)[:count]
    title = " ".join(w.capitalize() for w in _request_words(request)[:4]) or "Fake Mix"
    return {
        "title": title,
        "description": (
            f"{len(ranked)} tracks picked by the fake model for the words of the request. "
            "It is deterministic: the same request and candidates give the same playlist."
        ),
        "tracks": [{"id": c["id"], "reason": _reason(words & _candidate_words(c))} for _, c in ranked],
    }


def _reason(shared):
    if not shared:
        return "Fills out the mix."
    return "Matches " + ", ".join(sorted(shared)) + "."


def _request_words(text):
    return [w for w in re.findall(r"[\w']+", text.lower()) if w not in _STOPWORDS and not w.isdigit()]


def _words(text):
    return set(_request_words(text)) | set(re.findall(r"\b\d{2,4}s?\b", text.lower()))


def _candidate_words(candidate):
    parts = [candidate.get(k) or "" for k in ("artist", "title", "album")] + list(
        candidate.get("genres") or []
    )
    words = set(re.findall(r"[\w']+", " ".join(map(str, parts)).lower()))
    if year := candidate.get("year"):
        decade = year // 10 * 10
        words |= {str(year), f"{decade}s", f"{decade % 100:02d}s"}
    return words


def _count_asked(text):
    m = re.search(r"\b(\d+)\s+(?:tracks|songs)\b", text, re.IGNORECASE)
    return int(m.group(1)) if m else _DEFAULT_COUNT


def _invented_id(candidates, n):
    ids = [c["id"] for c in candidates]
    if all(isinstance(i, int) for i in ids):
        return max(ids) + 1000 + n
    return f"invented-{n}"


def _written(answer, misbehave):
    """The answer's text, written the way `misbehave` asks."""
    if misbehave == Misbehaviour.RENAMED and "tracks" in answer:
        answer = {
            "name": answer["title"],
            "summary": answer["description"],
            "songs": [{"track_id": t["id"], "why": t["reason"]} for t in answer["tracks"]],
        }
    if misbehave == Misbehaviour.SINGLE_QUOTES:
        return repr(answer)
    text = json.dumps(answer, indent=2, ensure_ascii=False)
    if misbehave == Misbehaviour.TRAILING_COMMAS:
        return re.sub(r"([^\[{\s])(\n\s*[}\]])", r"\1,\2", text)
    if misbehave == Misbehaviour.FENCED:
        return f"```json\n{text}\n```"
    if misbehave == Misbehaviour.THINKS:
        draft = json.dumps({"title": "draft", "tracks": answer.get("tracks", [])[:1]})
        return f"<think>\nThe user wants {{this}}. A first draft: {draft}. Better:\n</think>\n{text}"
    if misbehave == Misbehaviour.PROSE:
        return f"Here is a playlist for you!\n\n{text}\n\nEnjoy, and tell me if you want {{more}} like it."
    return text


def _refused_parameter(misbehave, request):
    """The 400 body for a parameter the misbehaving endpoint does not take, if sent."""
    if misbehave == Misbehaviour.NO_JSON_MODE and "response_format" in request:
        # LM Studio's words.
        return _error("'response_format.type' must be 'json_schema' or 'text'", "invalid_request_error")
    if misbehave == Misbehaviour.NO_MAX_TOKENS and "max_tokens" in request:
        return _error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "invalid_request_error",
            "unsupported_parameter",
        )
    return None


def _error(message, type_, code=None):
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _unauthorized(key):
    # OpenAI's own words, the key shown masked as it does: the client must not echo even that.
    shown = f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 7 else key
    return _error(
        f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )


def _model_not_found(model):
    return _error(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def _rate_limited():
    return _error(
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
        "Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    )


def _send(handler, status, body, headers=()):
    """Answer `body`: JSON, unless it is bytes already (with their Content-Type in `headers`)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    if not isinstance(body, bytes):
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for header in headers:
        handler.send_header(*header)
    handler.end_headers()
    handler.wfile.write(data)
