"""Error reports (the DEBUG page, error e-mails) that never show a media server's secret."""

from urllib.parse import quote

from django.conf import settings
from django.template.defaultfilters import pprint
from django.views.debug import SafeExceptionReporterFilter


class SecretsFilter(SafeExceptionReporterFilter):
    """Django's filter hides settings named like secrets, and @sensitive_variables
    only while DEBUG is off. This one also hides the Plex token and the Jellyfin
    key wherever they appear in a frame's variables, DEBUG or not: plexapi's
    query() frame, for one, holds a headers dict with the token."""

    def get_traceback_frame_variables(self, request, tb_frame):
        secrets = [
            form
            for secret in (settings.PLEX_TOKEN, settings.JELLYFIN_API_KEY)
            if secret
            for form in {secret, quote(secret, safe="")}
        ]
        return [
            (name, self._scrubbed(value, secrets))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _scrubbed(self, value, secrets):
        printed = pprint(value)  # as the report prints it
        if not any(secret in printed for secret in secrets):
            return value
        for secret in secrets:
            printed = printed.replace(secret, self.cleansed_substitute)
        return _Printed(printed)


class _Printed:
    """A value the report prints as this text."""

    def __init__(self, text):
        self._text = text

    def __repr__(self):
        return self._text
