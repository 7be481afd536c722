"""Refuse an oversized playlist upload before Django reads its body.

For a form post, CsrfViewMiddleware reads request.POST, which parses the whole multipart
body and writes a large file to disk. Every middleware's __call__ runs before any
process_view, so the announced length is checked here, and the file itself is counted
as it streams in (for a length announced short or not at all).
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.urls import reverse

from playlists import views

# Room for the form's other fields and the multipart boundaries around the file.
_FORM_OVERHEAD = 64 * 1024


class ImportLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info == reverse("import"):
            limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
            if _content_length(request) > limit + _FORM_OVERHEAD:
                return views.upload_too_large(request)
            request.upload_handlers.insert(0, _SizeGuard(request, limit))
        return self.get_response(request)


def _content_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class _SizeGuard(FileUploadHandler):
    """Stops reading a file at the limit (what came so far is discarded); the view then
    refuses the upload as too large."""

    def __init__(self, request, limit):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
