from django.http import JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from library.models import SyncState
from library.sources import configured_sources
from library.sync import SyncBusy
from library.tasks import enqueue_sync


def _primary_source():
    sources = configured_sources()
    return sources[0] if sources else None


def _not_configured():
    return JsonResponse(
        {"started": False, "error": "No media server is configured: set PLEX_URL and PLEX_TOKEN."},
        status=503,
    )


@require_GET
@ensure_csrf_cookie
def status(request):
    source = _primary_source()
    if source is None:
        return _not_configured()
    data = SyncState.for_source(source).as_status()
    data["servers"] = [SyncState.for_source(s).as_status() for s in configured_sources()]
    return JsonResponse(data)


@require_POST
def sync(request):
    source = request.POST.get("source") or _primary_source()
    if source is None:
        return _not_configured()
    if source not in configured_sources():
        return JsonResponse(
            {"started": False, "error": f"{source!r} is not a configured server."}, status=400
        )
    try:
        enqueue_sync(source)
    except SyncBusy:
        return JsonResponse({"started": False, "error": "A sync is already running."}, status=409)
    return JsonResponse({"started": True}, status=202)
