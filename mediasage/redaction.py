"""Keeping the media-server secrets out of logs."""

import logging
import re

from django.conf import settings

REDACTED = "[redacted]"
_SECRET_SETTINGS = ("PLEX_TOKEN", "JELLYFIN_API_KEY", "LLM_API_KEY")
# A token in a URL's query, whoever's it is: logged URLs carry them.
_TOKEN_PARAMS = re.compile(r"((?:X-Plex-Token|api_key|ApiKey)=)[^&\s'\"#]+", re.IGNORECASE)
# Shorter values would blank out ordinary words.
_MIN_SECRET_LENGTH = 4


def redact(text):
    """`text` with every configured secret, and every token query parameter, replaced."""
    text = _TOKEN_PARAMS.sub(rf"\1{REDACTED}", text)
    for name in _SECRET_SETTINGS:
        secret = getattr(settings, name, "")
        if len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message, traceback and stack before any handler formats them."""

    _formatter = logging.Formatter()

    def filter(self, record):
        message = record.getMessage()
        if (clean := redact(message)) != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text when set, so the raw traceback is never printed.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
