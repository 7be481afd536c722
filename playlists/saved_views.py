"""The pages of saved playlists: the list with its warnings and actions, a playlist's
runs, the create/edit form, and the review of entries its last run could not settle.
The logic is in playlists.models, playlists.review and playlists.forms; runs happen in
the worker (playlists.tasks), never in a request."""

from datetime import UTC, datetime

from django.conf import settings
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from library.models import SyncState
from library.sources import configured_sources, label
from playlists import review, saving, tasks
from playlists.forms import MODE_HELP, SavedPlaylistForm, mirror_choices
from playlists.generate import BadFilter, Filters, preview
from playlists.models import SavedPlaylist
from playlists.vocab import Recipe

# htmx stops polling on this status (a finished run's row is the last answer).
_STOP_POLLING = 286
_RUNS_SHOWN = 30


def _warnings(saved):
    """One cache warning per server the playlist reads or writes, saying what to do."""
    servers = [saved.recipe.get("server", ""), QueryDict(saved.recipe.get("filters", "")).get("source", "")]
    servers += [t.server for t in saved.targets.all()]
    return [
        {"server": server, "warning": warning}
        for server in dict.fromkeys(s for s in servers if s)
        if (warning := saving.cache_warning(server))
    ]


def _links(saved):
    """(label, url or "") per target: its playlist on the server once a run made it."""
    return [(t.get_server_display(), _playlist_url(t.server, t.playlist_id)) for t in saved.targets.all()]


def _playlist_url(server, playlist_id):
    # Built from the settings and the cached server id: the list page asks no server.
    if not playlist_id:
        return ""
    if server == "jellyfin":
        return f"{settings.JELLYFIN_URL.rstrip('/')}/web/#/details?id={playlist_id}"
    machine = SyncState.for_source(server).server_id
    web = f"{settings.PLEX_URL.rstrip('/')}/web/index.html"
    return f"{web}#!/server/{machine}/playlist?key=%2Fplaylists%2F{playlist_id}"


def _pending(saved, after):
    """Whether a run asked for at `after` (or any run under way) has yet to finish."""
    if saved.runs.filter(finished_at__isnull=True).exists():
        return True
    if after is None:
        return False
    last = saved.runs.exclude(finished_at=None).order_by("-finished_at").first()
    return last is None or last.finished_at < after


def _row_context(saved, after=None, dry_run=False):
    context = {
        "saved": saved,
        "warnings": _warnings(saved),
        "links": _links(saved),
        "last": saved.last_run,
        "pending": _pending(saved, after),
        "after": after.timestamp() if after else "",
        "dry_run": dry_run,
    }
    if dry_run and not context["pending"]:
        context["diff"] = review.diff(saved.runs.filter(dry_run=True).first())
    return context


@require_GET
def saved_list(request):
    rows = [_row_context(saved) for saved in SavedPlaylist.objects.prefetch_related("targets")]
    servers = configured_sources()
    # "Mirror to Jellyfin" reads a Plex playlist, and the other way round.
    mirrors = [(origin, label(to)) for origin in servers for to in servers if to != origin]
    return render(request, "playlists/saved_list.html", {"nav": "saved", "rows": rows, "mirrors": mirrors})


@require_GET
def saved_row(request, pk):
    """A row as it stands; polled while its run is pending, 286 (stop) once it is done."""
    saved = get_object_or_404(SavedPlaylist, pk=pk)
    after = _when(request.GET.get("after"))
    context = _row_context(saved, after, dry_run=request.GET.get("dry") == "1")
    status = 200 if context["pending"] else _STOP_POLLING
    return render(request, "playlists/saved_row.html", context, status=status)


def _when(value):
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


@require_POST
def saved_run(request, pk):
    """Run now, or a dry run: queued for the worker with the id only; the row polls."""
    saved = get_object_or_404(SavedPlaylist, pk=pk)
    dry_run = request.POST.get("dry") == "1"
    after = timezone.now()
    tasks.run_now(saved.pk, dry_run=dry_run)
    if not request.htmx:
        return redirect("saved-list")
    return render(request, "playlists/saved_row.html", _row_context(saved, after, dry_run))


@require_GET
def saved_detail(request, pk):
    saved = get_object_or_404(SavedPlaylist.objects.prefetch_related("targets"), pk=pk)
    context = _row_context(saved)
    context.update(
        nav="saved", runs=saved.runs.all()[:_RUNS_SHOWN], review_count=len(review.rows(saved.last_run))
    )
    return render(request, "playlists/saved_detail.html", context)


@require_POST
def saved_delete(request, pk):
    get_object_or_404(SavedPlaylist, pk=pk).delete()
    return redirect("saved-list")


@require_http_methods(["GET", "POST"])
def saved_edit(request, pk=None):
    """The form: a new saved playlist (?kind=smart&filters=…, ?kind=subscription&source=…,
    ?kind=mirror&mirror=plex:TITLE) or an existing one changed."""
    saved = get_object_or_404(SavedPlaylist, pk=pk) if pk else None
    kind = saved.kind if saved else _kind(request)
    initial = SavedPlaylistForm.initial_for(saved) if saved else _initial(request, kind)
    mirrors, problems = mirror_choices(request.GET.get("from", "")) if kind == Recipe.MIRROR else ([], [])
    if initial.get("mirror") and initial["mirror"] not in dict(mirrors):
        # Keep the current choice even when its server cannot list its playlists now.
        mirrors.append((initial["mirror"], initial["mirror"]))
    if request.method == "POST":
        form = SavedPlaylistForm(request.POST, request.FILES, mirrors=mirrors, instance=saved)
        if form.is_valid() and (made := form.save()):
            return redirect("saved-detail", pk=made.pk)
    else:
        form = SavedPlaylistForm(initial=initial, mirrors=mirrors, instance=saved)
    context = {
        "nav": "saved",
        "form": form,
        "kind": kind,
        "kind_label": Recipe(kind).label,
        "saved": saved,
        "mode_help": {str(k): v for k, v in MODE_HELP.items()},
        "problems": problems,
        "count": _count(initial.get("filters", "")) if kind == Recipe.SMART else None,
    }
    status = 400 if form.errors else 200
    return render(request, "playlists/saved_form.html", context, status=status)


def _kind(request):
    kind = request.POST.get("kind") or request.GET.get("kind")
    return kind if kind in Recipe.values else Recipe.SMART


def _initial(request, kind):
    """A new form's values from the page that offered it (the builder, an import, a mirror link)."""
    servers = configured_sources()
    mirror = request.GET.get("mirror", "")
    # A mirror writes to the servers it does not read from.
    origin = mirror.partition(":")[0] or request.GET.get("from", "")
    targets = [s for s in servers if s != origin] or servers[:1]
    return {
        "kind": kind,
        "name": request.GET.get("name") or mirror.partition(":")[2] or Recipe(kind).label,
        "filters": request.GET.get("filters", "").lstrip("?"),
        "source": request.GET.get("source", ""),
        "mirror": mirror,
        "targets": targets[:1] if kind != Recipe.MIRROR else targets,
        "every_count": 1,
        "every_unit": "d",
    }


def _count(filters):
    """The live count of a smart recipe: (tracks matching, the reason it does not parse)."""
    try:
        query = Filters.from_query(QueryDict(filters.lstrip("?")))
    except BadFilter as exc:
        return {"error": str(exc)}
    if query.source not in configured_sources():
        # Filters keep only known servers' names, so this one has a label.
        return {"error": f"{label(query.source)} is not configured."}
    return {"count": preview(query).count}


@require_GET
def saved_count(request):
    return render(request, "playlists/saved_count.html", {"count": _count(request.GET.get("filters", ""))})


@require_http_methods(["GET", "POST"])
def saved_review(request, pk):
    saved = get_object_or_404(SavedPlaylist, pk=pk)
    error = None
    if request.method == "POST":
        server = request.POST.get("server", "")
        try:
            if server not in configured_sources():
                raise review.ChoiceError("That server is not configured.")
            review.choose(server, request.POST.get("entry_key"), request.POST.get("choice", ""))
        except review.ChoiceError as exc:
            error = str(exc)
        if request.htmx:
            return render(
                request, "playlists/review_done.html", {"error": error}, status=400 if error else 200
            )
        if not error:
            return redirect("saved-review", pk=saved.pk)
    context = {"nav": "saved", "saved": saved, "rows": review.rows(saved.last_run), "error": error}
    return render(request, "playlists/saved_review.html", context, status=400 if error else 200)


@require_GET
def saved_search(request):
    """Cached tracks for a review row's search box, as its choices."""
    server = request.GET.get("server", "")
    tracks = review.search(server, request.GET.get("q", "")) if server in configured_sources() else []
    return render(request, "playlists/review_search.html", {"tracks": tracks})
