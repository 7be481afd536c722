"""The WSGI application gunicorn serves."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediasage.settings")


def _strip_url_base(app, base):
    """Behind a proxy that passes /mediasage/… through unchanged, Django still
    sees /…: the base is already its script name (FORCE_SCRIPT_NAME)."""

    def strip(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == base or path.startswith(base + "/"):
            environ["PATH_INFO"] = path[len(base) :] or "/"
        return app(environ, start_response)

    return strip


application = get_wsgi_application()
if settings.URL_BASE:
    application = _strip_url_base(application, settings.URL_BASE)
