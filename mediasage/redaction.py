"""Keeping the media-server secrets out of logs and error reports."""

import logging
import re
from urllib.parse import quote

from django.conf import settings
from django.template.defaultfilters import pprint
from django.views.debug import SafeExceptionReporterFilter

REDACTED = "[redacted]"
_SECRET_SETTINGS = ("PLEX_TOKEN", "JELLYFIN_API_KEY", "LLM_API_KEY", "DATABASE_PASSWORD", "REDIS_PASSWORD")
# A token in a URL's query, whoever's it is: logged URLs carry them.
_TOKEN_PARAMS = re.compile(r"((?:X-Plex-Token|api_key|ApiKey)=)[^&\s'\"#]+", re.IGNORECASE)
# Shorter values would blank out ordinary words.
_MIN_SECRET_LENGTH = 4


def redact(text):
    """`text` with every configured secret (as is or URL-encoded), and every token
    query parameter, replaced."""
    text = _TOKEN_PARAMS.sub(rf"\1{REDACTED}", text)
    for name in _SECRET_SETTINGS:
        secret = getattr(settings, name, "")
        if len(secret) >= _MIN_SECRET_LENGTH:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, REDACTED)
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


class SecretsFilter(SafeExceptionReporterFilter):
    """Error reports (the DEBUG page, error e-mails) without the secrets. Django's filter
    hides settings named like secrets, and @sensitive_variables only while DEBUG is off;
    this one also hides the secrets wherever they appear in a frame's variables, DEBUG or
    not: plexapi's query() frame, for one, holds a headers dict with the token."""

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self._scrubbed(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _scrubbed(self, value):
        printed = pprint(value)  # as the report prints it
        clean = redact(printed)
        return value if clean == printed else _Printed(clean)


class _Printed:
    """A value the report prints as this text."""

    def __init__(self, text):
        self._text = text

    def __repr__(self):
        return self._text
