"""Asking an OpenAI-compatible chat endpoint (OpenAI, Ollama, LM Studio, llama.cpp,
vLLM, OpenRouter…) for a JSON object, through the `openai` client.

Real models answer badly in a handful of ways, and this module absorbs them so callers
get a dict or one LLMError: JSON wrapped in prose or a code fence, trailing commas,
single quotes, output cut off at max_tokens (the complete items are kept), renamed
fields (the caller's `expect` normalises them), and an answer of the wrong kind
entirely (asked again once, with a short correction). Endpoint failures become one
line for a person, by kind; none of them ever carries LLM_API_KEY.

The candidate tracks travel to the model in one format, defined here once
(`candidates_block`); the fake model (playlists/fakes/llm.py) reads exactly that.
"""

import functools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

from django.conf import settings
from django.db import models

from mediasage.redaction import redact

log = logging.getLogger(__name__)

# What a page or message says when no endpoint is set (issue 16, point 8).
HOW_TO_CONNECT = (
    "To build playlists from a sentence, set LLM_BASE_URL and LLM_MODEL to any OpenAI-compatible "
    "endpoint, e.g. for Ollama: LLM_BASE_URL=http://localhost:11434/v1 LLM_MODEL=llama3.1 "
    "(a hosted one also needs LLM_API_KEY)."
)
# The longest wait a 429's Retry-After gets before its one retry.
RETRY_AFTER_CAP = 30.0
# When a 429 names no wait.
_RETRY_AFTER_DEFAULT = 2.0
# How many offered models an unknown-model message names.
_MODELS_NAMED = 10
_CORRECTION = (
    "Your answer was not usable: {problem}. Answer again with only the JSON object that was "
    "asked for: no prose, no code fence."
)


class LLMErrorKind(models.TextChoices):
    """Why asking the model failed."""

    NOT_CONFIGURED = "not_configured", "No model endpoint set"
    AUTH = "auth", "API key refused"
    UNKNOWN_MODEL = "unknown_model", "Model not offered by the endpoint"
    RATE_LIMITED = "rate_limited", "Rate limited by the endpoint"
    TIMEOUT = "timeout", "Model did not answer in time"
    UNREACHABLE = "unreachable", "Model endpoint unreachable"
    ENDPOINT_ERROR = "endpoint_error", "Model endpoint answered with an error"
    BAD_ANSWER = "bad_answer", "Model's answer unusable"


class LLMError(Exception):
    """One line for a person (`message`) and its kind; never a secret."""

    def __init__(self, kind, message):
        self.kind = LLMErrorKind(kind)
        self.message = redact(message)
        super().__init__(self.message)

    def __reduce__(self):
        # Pickled whole (django-q2 stores a failed task's exception), kind and all.
        return type(self), (self.kind.value, self.message)


@dataclass
class Answer:
    data: dict  # the parsed JSON object the model returned (repaired if needed)
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # time spent waiting on the endpoint
    model: str
    truncated: bool = False  # the model ran out of tokens; `data` keeps the complete items


# -- the candidate format ------------------------------------------------------------------

CANDIDATES_START = "<candidates>"
CANDIDATES_END = "</candidates>"
# Every candidate carries at least these; more keys (album, live, minutes…) may follow.
CANDIDATE_FIELDS = ("id", "artist", "title", "genres", "year")


def candidates_block(candidates: Iterable[dict]) -> str:
    """The candidate tracks as the model sees them: a JSON array between
    <candidates> and </candidates>, one compact object a line (few tokens, and a line
    cut off still leaves the others whole). Each object has at least `id` (a string or
    number the answer names the track by), `artist`, `title`, `genres` (a list) and
    `year` (a number or null). A "<" in a value is written \\u003c, so no title can end
    the block early."""
    lines = ",\n".join(
        json.dumps(c, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c") for c in candidates
    )
    return f"{CANDIDATES_START}\n[\n{lines}\n]\n{CANDIDATES_END}"


def parse_candidates_block(text: str) -> list[dict]:
    """The candidates in a message built with candidates_block; [] when it has none."""
    start = text.find(CANDIDATES_START)
    end = text.find(CANDIDATES_END, start)
    if start < 0 or end < 0:
        return []
    return json.loads(text[start + len(CANDIDATES_START) : end])


def without_candidates_block(text: str) -> str:
    """The message with its candidates block taken out: what the user asked for."""
    start = text.find(CANDIDATES_START)
    end = text.find(CANDIDATES_END, start)
    if start < 0 or end < 0:
        return text
    return text[:start] + text[end + len(CANDIDATES_END) :]


_TOKEN_PIECES = re.compile(r"\w+|[^\w\s]+")


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens `text` costs a model: its words and runs of punctuation
    (JSON is full of them) × 1.3, a rule of thumb for English and JSON with common
    tokenizers. The fake model reports its usage by the same rule."""
    return math.ceil(len(_TOKEN_PIECES.findall(text)) * 1.3)


# -- the playlist answer -------------------------------------------------------------------

# The names models use instead of the ones asked for, each list in order of preference.
_TRACK_LISTS = ("tracks", "songs", "playlist", "items", "picks", "selection")
_TRACK_IDS = ("id", "track_id", "trackId", "track", "song_id", "songId", "key")
_REASONS = ("reason", "why", "explanation", "because", "note")
_TITLES = ("title", "name", "playlist_title", "playlist_name")
_DESCRIPTIONS = ("description", "summary", "desc", "about")


def playlist_answer(data: dict) -> dict:
    """An `expect` for playlist answers: `{"title", "description", "tracks": [{"id",
    "reason"}]}` from what the model wrote, whatever it called the fields. Ids come back
    as strings, whether the model quoted a number or not: compare them with str(id). A
    bare id in the list counts as a track without a reason; an item without an id is
    dropped. ValueError when there is no list of tracks, or an empty one."""
    if isinstance(nested := data.get("playlist"), dict):
        data = nested
    items = _first(data, _TRACK_LISTS)
    if not isinstance(items, list) or not items:
        raise ValueError('no list of tracks (expected "tracks": [{"id": …, "reason": …}])')
    tracks = []
    for item in items:
        if isinstance(item, str | int) and not isinstance(item, bool):
            tracks.append({"id": str(item), "reason": ""})
        elif isinstance(item, dict) and (track_id := _first(item, _TRACK_IDS)) is not None:
            tracks.append({"id": str(track_id), "reason": str(_first(item, _REASONS) or "")})
    return {
        "title": str(_first(data, _TITLES) or ""),
        "description": str(_first(data, _DESCRIPTIONS) or ""),
        "tracks": tracks,
    }


def _first(data, names):
    return next((data[name] for name in names if data.get(name) not in (None, "")), None)


# -- the endpoint --------------------------------------------------------------------------


def configured() -> bool:
    """Whether a model endpoint is set (LLM_BASE_URL)."""
    return bool(settings.LLM_BASE_URL)


def list_models() -> list[str]:
    """The ids of the models the endpoint offers, sorted."""
    openai = _openai()
    try:
        return sorted(model.id for model in _client().models.list())
    except openai.OpenAIError as exc:
        raise _failure(exc, None) from None
    except (AttributeError, TypeError):
        raise _not_the_api() from None


def ask_json(
    system: str,
    user: str,
    *,
    model: str | None = None,
    expect: Callable[[dict], dict] | None = None,
    max_tokens: int = 4000,
) -> Answer:
    """The model's answer to `system` + `user` as a JSON object, passed through
    `expect` when given (it normalises the shape, raising ValueError for the wrong
    kind). An answer that cannot be used is asked for again once, then LLMError
    BAD_ANSWER; endpoint failures are LLMErrors of their kinds."""
    model = model or _default_model()
    return _asked(_client(), model, system, user, expect, max_tokens)


def _asked(client, model, system, user, expect, max_tokens):
    """ask_json's conversation: the question, and one correction if the answer is unusable."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    used = Answer(data={}, prompt_tokens=0, completion_tokens=0, seconds=0.0, model=model)
    for attempt in (1, 2):
        text, truncated = _complete(client, model, messages, max_tokens, used)
        try:
            data = parse_json(text)
            used.data = expect(data) if expect else data
            used.truncated = truncated
        except ValueError as exc:
            problem = str(exc) + (f", the answer cut off at {max_tokens} tokens" if truncated else "")
            log.warning("The model's answer (attempt %d) was not usable: %s", attempt, problem)
            messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": _CORRECTION.format(problem=problem)},
            ]
            continue
        log.info(
            "Model %s answered: %d prompt + %d completion tokens in %.1f s",
            used.model,
            used.prompt_tokens,
            used.completion_tokens,
            used.seconds,
        )
        return used
    raise LLMError(
        LLMErrorKind.BAD_ANSWER,
        f"The model {model} did not answer with the JSON asked for, even when asked again ({problem}).",
    )


def _openai():
    """The openai package, imported when a model is first asked: it and pydantic cost
    about 40 MB, which a sync, the worker's other tasks and most pages never need."""
    import openai

    return openai


def _client():
    if not configured():
        raise LLMError(LLMErrorKind.NOT_CONFIGURED, f"No model endpoint is set. {HOW_TO_CONNECT}")
    return _client_for(settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_TIMEOUT)


# One client for the settings in force: making one costs ~90 ms (TLS contexts), and
# its pool keeps the connection alive between a generation's requests.
@functools.lru_cache(maxsize=1)
def _client_for(base_url, api_key, timeout):
    from playlists.llm_transport import DeadlineTransport

    openai = _openai()
    return openai.OpenAI(
        base_url=base_url,
        # Local servers want no key, but the client insists on one.
        api_key=api_key or "not-needed",
        timeout=timeout,
        max_retries=0,  # retries are decided here, once, by kind
        http_client=openai.DefaultHttpxClient(transport=DeadlineTransport(timeout)),
    )


def _default_model():
    """LLM_MODEL, else the endpoint's only model: no built-in default can be retired."""
    if settings.LLM_MODEL:
        return settings.LLM_MODEL
    offered = list_models()
    if len(offered) == 1:
        return offered[0]
    raise LLMError(LLMErrorKind.UNKNOWN_MODEL, f"LLM_MODEL is not set. {_offered(offered)}")


# Request parameters an endpoint refused with a 400, by (endpoint, model): later
# requests leave them out instead of failing first.
_refused = {}


def _complete(client, model, messages, max_tokens, used):
    """One completion's text and whether it was cut off, its usage added to `used`.
    Adapts to a 400 refusing JSON mode or max_tokens, and waits out one 429."""
    openai = _openai()
    endpoint = (settings.LLM_BASE_URL, model)
    rate_limited = False
    while True:
        params = _params(model, messages, max_tokens, _refused.get(endpoint, set()))
        started = time.monotonic()
        try:
            response = client.chat.completions.create(**params)
        except openai.BadRequestError as exc:
            refused = _refused_param(exc, params)
            if refused is None:
                raise _failure(exc, model) from None
            log.info("The model endpoint refused %s: asking without it", refused)
            _refused.setdefault(endpoint, set()).add(refused)
            continue
        except openai.RateLimitError as exc:
            if rate_limited or _quota_exhausted(exc):
                raise _failure(exc, model) from None
            rate_limited = True
            wait = _retry_after(exc.response)
            log.warning("The model endpoint is rate limiting (429): trying again in %.0f s", wait)
            time.sleep(wait)
            continue
        except openai.OpenAIError as exc:
            raise _failure(exc, model) from None
        finally:
            used.seconds += time.monotonic() - started
        break
    try:
        choice = response.choices[0]
        text = (choice.message.content if choice.message else None) or ""
    except (AttributeError, IndexError, KeyError, TypeError):
        raise _not_the_api() from None
    if response.usage:
        used.prompt_tokens += response.usage.prompt_tokens or 0
        used.completion_tokens += response.usage.completion_tokens or 0
    used.model = response.model or model
    return text, choice.finish_reason == "length"


def _params(model, messages, max_tokens, refused):
    params = {"model": model, "messages": messages}
    # Newer OpenAI models take only max_completion_tokens; others know only max_tokens.
    params["max_completion_tokens" if "max_tokens" in refused else "max_tokens"] = max_tokens
    if "response_format" not in refused:
        params["response_format"] = {"type": "json_object"}
    return params


def _refused_param(exc, params):
    """The parameter a 400 says the endpoint does not take, if it is one we can drop:
    JSON mode (LM Studio, llama.cpp and Ollama variants) or max_tokens (OpenAI's
    reasoning models)."""
    text = f"{exc.message} {exc.body}".lower()
    if "response_format" in params and ("response_format" in text or "json_object" in text):
        return "response_format"
    if "max_tokens" in params and "max_completion_tokens" in text:
        return "max_tokens"
    return None


def _quota_exhausted(exc):
    return exc.code == "insufficient_quota"


def _retry_after(response):
    """Seconds a 429 asks to wait (Retry-After in seconds or as a date, or
    retry-after-ms), capped at RETRY_AFTER_CAP."""
    headers = response.headers
    seconds = _RETRY_AFTER_DEFAULT
    try:
        if value := headers.get("retry-after-ms"):
            seconds = float(value) / 1000
        elif value := headers.get("retry-after"):
            try:
                seconds = float(value)
            except ValueError:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        pass  # unreadable: the default
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _where():
    """host:port of the endpoint, never its path, query or credentials."""
    return urlparse(settings.LLM_BASE_URL).netloc.rpartition("@")[2]


def _offered(models_offered):
    if not models_offered:
        return "The endpoint offers no models."
    shown = ", ".join(models_offered[:_MODELS_NAMED])
    more = len(models_offered) - _MODELS_NAMED
    return f"The endpoint offers: {shown}" + (f" and {more} more." if more > 0 else ".")


def _failure(exc, model):
    """The LLMError for an openai exception: one line, the endpoint named by host only,
    never the key (the endpoint's own message is left out where it could echo it)."""
    openai = _openai()
    where = _where()
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(
            LLMErrorKind.TIMEOUT,
            f"The model endpoint at {where} did not answer within {settings.LLM_TIMEOUT} s (LLM_TIMEOUT).",
        )
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(
            LLMErrorKind.UNREACHABLE,
            f"Could not reach the model endpoint at {where} ({_connection_reason(exc)}): is it running?",
        )
    if not isinstance(exc, openai.APIStatusError):
        return LLMError(
            LLMErrorKind.BAD_ANSWER, f"The model endpoint at {where} answered badly ({type(exc).__name__})."
        )
    status = exc.status_code
    if status in (401, 403):
        if settings.LLM_API_KEY:
            return LLMError(
                LLMErrorKind.AUTH,
                f"The model endpoint at {where} refused the API key ({status}): check LLM_API_KEY.",
            )
        return LLMError(
            LLMErrorKind.AUTH, f"The model endpoint at {where} wants an API key ({status}): set LLM_API_KEY."
        )
    if status == 429:
        if _quota_exhausted(exc):
            return LLMError(
                LLMErrorKind.RATE_LIMITED,
                f"The model endpoint at {where} says the account behind the API key has no quota left (429).",
            )
        return LLMError(
            LLMErrorKind.RATE_LIMITED,
            f"The model endpoint at {where} is rate limiting requests (429), even after waiting once: "
            "try again in a minute.",
        )
    said = _endpoint_message(exc).lower()
    # Some endpoints (vLLM, LiteLLM, Ollama variants) say it with a 400.
    if status == 404 or ("model" in said and ("not found" in said or "does not exist" in said)):
        return _unknown_model(exc, model, where)
    return LLMError(
        LLMErrorKind.ENDPOINT_ERROR,
        f"The model endpoint at {where} answered {status}: {_endpoint_message(exc)}",
    )


def _not_the_api():
    """For a 200 that is a web page or other JSON: a proxy or a wrong path, not a model."""
    return LLMError(
        LLMErrorKind.ENDPOINT_ERROR,
        f"The model endpoint at {_where()} answered with something other than the OpenAI API: "
        "check LLM_BASE_URL.",
    )


def _unknown_model(exc, model, where):
    if model is None:  # listing the models was what failed
        return LLMError(
            LLMErrorKind.ENDPOINT_ERROR,
            f"The model endpoint at {where} has no model list ({exc.status_code}): check LLM_BASE_URL "
            "(OpenAI-compatible endpoints usually end in /v1).",
        )
    try:
        offered = list_models()
    except LLMError as listing:
        return listing
    if model in offered:  # the model exists: the path is what is missing
        return LLMError(
            LLMErrorKind.ENDPOINT_ERROR,
            f"The model endpoint at {where} answered {exc.status_code} for model {model}: "
            f"{_endpoint_message(exc)}",
        )
    return LLMError(
        LLMErrorKind.UNKNOWN_MODEL,
        f"The model endpoint at {where} does not offer the model {model} (LLM_MODEL). {_offered(offered)}",
    )


def _endpoint_message(exc, limit=200):
    """The endpoint's own error message, on one line and cut short."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    text = " ".join(str(message or exc.message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _connection_reason(exc):
    cause = exc.__cause__ or exc.__context__
    text = str(cause or "").lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "name resolution" in text:
        return "host name not found"
    if "reset" in text or "closed" in text or "disconnected" in text:
        return "connection closed"
    return "no connection"


# -- parsing -------------------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
# Reasoning models (DeepSeek-R1, Qwen3 on Ollama) think aloud first, braces and all.
_THINKING = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)


def parse_json(text: str) -> dict:
    """The JSON object in a model's answer, repaired: found inside a code fence or
    prose, trailing commas dropped, single-quoted strings and bare keys quoted, Python's
    True/False/None read as JSON's, and output cut off mid-way closed after its last
    complete item. A bare array comes back as {"items": [...]}. ValueError when there
    is no JSON object at all. What a reasoning model thinks aloud first is skipped."""
    text = _THINKING.sub("", text)
    for candidate in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        start = _json_start(candidate)
        if start is None:
            continue
        try:
            value, _ = json.JSONDecoder(strict=False).raw_decode(candidate, start)
        except json.JSONDecodeError:
            value = _repaired(candidate[start:])
        if isinstance(value, list):
            return {"items": value}
        if isinstance(value, dict):
            return value
    raise ValueError("the answer held no JSON object")


def _json_start(text):
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return min(starts) if starts else None


_LITERALS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "True": "true",
    "False": "false",
    "None": "null",
}
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_CLOSERS = {"{": "}", "[": "]"}
_SPACE = re.compile(r"\s*")


def _repaired(text):
    """Parse `text` (starting at its first bracket) leniently; see parse_json."""
    out = []  # JSON tokens, rewritten where needed
    stack = []
    # Where the output may be cut if the text ends early, and the brackets open there:
    # between the items of a list, or of an object outside any list, so a half-written
    # list item is dropped whole rather than kept in part.
    safe = (0, [])

    def mark():
        nonlocal safe
        if stack and (stack[-1] == "[" or "[" not in stack):
            safe = (len(out), list(stack))

    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{[":
            stack.append(ch)
            out.append(ch)
            mark()
            i += 1
        elif ch in "}]":
            if not stack:
                break
            stack.pop()
            out.append(ch)
            if not stack:
                return _loads("".join(out))
            mark()
            i += 1
        elif ch == ",":
            after = _SPACE.match(text, i + 1).end()
            if after < n and text[after] not in "}]":  # a trailing comma is dropped
                mark()
                out.append(",")
            i += 1
        elif ch in "\"'":
            end = _string_end(text, i)
            if end is None:
                break  # cut off inside a string
            out.append(_as_json_string(text[i : end + 1]))
            i = end + 1
        elif ch == ":" or ch.isspace():
            end = _SPACE.match(text, i + 1).end()
            out.append(text[i:end])
            i = end
        elif m := _NUMBER.match(text, i):
            out.append(m.group())
            i = m.end()
        elif m := _BARE_WORD.match(text, i):
            word = m.group()
            out.append(_LITERALS.get(word) or json.dumps(word))
            i = m.end()
        else:
            i += 1  # a stray character
    if not out:
        raise ValueError("the answer held no JSON object")
    cut, open_brackets = safe
    return _loads("".join(out[:cut]) + "".join(_CLOSERS[b] for b in reversed(open_brackets)))


def _loads(text):
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer's JSON could not be repaired ({exc.msg})") from None


_STRINGS = {
    '"': re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL),
    "'": re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL),
}


def _string_end(text, start):
    """Where the string literal starting at `start` ends; None if it is cut off."""
    m = _STRINGS[text[start]].match(text, start)
    return m.end() - 1 if m else None


def _as_json_string(literal):
    if literal[0] == '"':
        return literal
    inner = literal[1:-1].replace("\\'", "'").replace('"', '\\"')
    return f'"{inner}"'
