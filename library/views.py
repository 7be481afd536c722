from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from library.models import SOURCES, SyncBusy, SyncRun, SyncState
from library.sources import NOT_CONFIGURED, configured_sources
from library.status import footer_context, modal_context
from library.tasks import enqueue_sync

# Runs shown on the history page; SyncRun keeps more.
_HISTORY_ROWS = 100


@require_GET
@ensure_csrf_cookie
def status(request):
    sources = configured_sources()
    if not sources:
        return JsonResponse({"error": NOT_CONFIGURED}, status=503)
    servers = [SyncState.for_source(s).as_status() for s in sources]
    return JsonResponse({**servers[0], "servers": servers})


@require_POST
def sync(request):
    sources = configured_sources()
    source = request.POST.get("source") or (sources[0] if sources else None)
    if source is None:
        response = JsonResponse({"started": False, "error": NOT_CONFIGURED}, status=503)
    elif source not in sources:
        response = JsonResponse(
            {"started": False, "error": f"{source!r} is not a configured server."}, status=400
        )
    else:
        try:
            enqueue_sync(source)
            response = JsonResponse({"started": True}, status=202)
        except SyncBusy:
            response = JsonResponse({"started": False, "error": "A sync is already running."}, status=409)
    # Whatever happened, the footer and modal on the page should show it now.
    response["HX-Trigger"] = "library-sync"
    return response


@require_GET
def footer(request):
    context = footer_context()
    response = render(request, "library/footer.html", context)
    if not context["states"]:
        # Nothing can change until the settings do (and the app restarts).
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
def modal(request):
    context = modal_context()
    if context["state"] is None:
        return HttpResponseStopPolling(render(request, "library/modal.html", context).content)
    if not context["show"]:
        # The library is in: reload the page to show it.
        return HttpResponse(headers={"HX-Refresh": "true"})
    return render(request, "library/modal.html", context)


@require_GET
def history(request):
    """The recent syncs of every server, newest first (or of ?source= only)."""
    runs = SyncRun.objects.all()
    source = request.GET.get("source")
    if source in dict(SOURCES):
        runs = runs.filter(source=source)
    return render(
        request,
        "library/history.html",
        {"nav": "history", "runs": runs[:_HISTORY_ROWS], "source": source, "keep_days": SyncRun.KEEP_DAYS},
    )
