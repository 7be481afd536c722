from dataclasses import dataclass, field, replace
from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from library.sources import SourceError, chosen_source, get_source, label, server_choices
from playlists import outside, saving
from playlists.generate import (
    MAX_COUNT,
    BadFilter,
    Filters,
    Sort,
    artist_names,
    decade_counts,
    genre_counts,
    pick,
    preview,
)
from playlists.importers import PlaylistFormatError, read_playlist
from playlists.matching import Matcher, MatchResult

# Half stars, as Plex rates: user_rating 1-10.
_STARS = [(n, "★" * (n // 2) + "½" * (n % 2)) for n in range(1, 11)]
# The filters the builder folds under "More filters".
_MORE_FILTERS = (
    "sort",
    "min_plays",
    "max_plays",
    "not_played_days",
    "added_days",
    "never_played",
    "min_track_minutes",
    "max_track_minutes",
    "max_rating",
    "unrated",
)
_DEFAULT = Filters()
# Rows of each import report section shown in full; a long report stays a page, not 95 MB.
_SHOWN_ROWS = 200


def _filters(request):
    filters = Filters.from_query(request.GET)
    return replace(filters, source=chosen_source(filters.source))


def _with_filters(view):
    """The view gets the request's filters; a value that does not parse answers 400 with
    its one-line message, which the page shows where the user acted."""

    @wraps(view)
    def wrapper(request):
        try:
            filters = _filters(request)
        except BadFilter as exc:
            return render(request, "error_fragment.html", {"reason": str(exc)}, status=400)
        return view(request, filters)

    return wrapper


def _save_context(source, keys, default_name, form_id):
    return {
        "source": source,
        "source_label": label(source),
        "keys": keys,
        "default_name": default_name,
        "modes": saving.MODES.items(),
        "form_id": form_id,
    }


@require_GET
def builder(request):
    try:
        filters, error = _filters(request), None
    except BadFilter as exc:
        # The page still opens, with the filters reset and the reason on it.
        filters, error = Filters(source=chosen_source(request.GET.get("source"))), str(exc)
    context = {"nav": "builder", "servers": server_choices(), "error": error, **filter_form_context(filters)}
    return render(request, "playlists/builder.html", context, status=400 if error else 200)


def filter_form_context(filters):
    """What playlists/filter_fields.html and playlists/preview.html need: the builder's
    fields set to these filters, and the live count and sample of what they match. For
    any page that edits filters, such as a smart playlist's recipe."""
    return {
        "filters": filters,
        "genres": genre_counts(filters.source),
        "decades": decade_counts(filters.source),
        "more_open": _more_filters_set(filters),
        "stars": _STARS,
        "sorts": Sort.choices,
        "max_count": MAX_COUNT,
        "preview": preview(filters),
        "sort_field": filters.sort.field,
    }


def _more_filters_set(filters):
    """Whether one of the builder's "More filters" is set, so the page opens them."""
    return any(getattr(filters, name) != getattr(_DEFAULT, name) for name in _MORE_FILTERS)


@require_GET
@_with_filters
def preview_fragment(request, filters):
    context = {"preview": preview(filters), "sort_field": filters.sort.field}
    return render(request, "playlists/preview.html", context)


@require_GET
@_with_filters
def generate(request, filters):
    tracks = pick(filters)
    name = f"MediaSage mix {timezone.localtime():%Y-%m-%d %H:%M}"
    context = _save_context(filters.source, [t.rating_key for t in tracks], name, "generated")
    context.update(
        tracks=tracks,
        total_minutes=round(sum(t.duration_ms or 0 for t in tracks) / 60000),
        sort_field=filters.sort.field,
    )
    return render(request, "playlists/generated.html", context)


@require_GET
def artist_options(request):
    names = artist_names(chosen_source(request.GET.get("source")), prefix=request.GET.get("q", "").strip())
    return render(request, "playlists/artist_options.html", {"names": names})


@require_GET
def targets(request):
    """The existing playlists, for replace and append. Asks the server: the user chose to."""
    context = {"playlists": None}
    if request.GET.get("mode") in ("replace", "append"):
        try:
            context["playlists"] = get_source(chosen_source(request.GET.get("source"))).list_playlists()
        except SourceError as exc:
            context["error"] = f"Could not list playlists: {exc.message}"
    return render(request, "playlists/targets.html", context)


@require_POST
def save(request):
    source = chosen_source(request.POST.get("source"))
    context = {"source_label": label(source)}
    try:
        context["saved"] = saving.save(
            source,
            request.POST.get("title"),
            _posted_keys(request.POST),
            mode=request.POST.get("mode", "sync"),
            playlist_id=request.POST.get("playlist"),
        )
    except (saving.SaveError, SourceError) as exc:
        context["error"] = getattr(exc, "message", str(exc))
    return render(request, "playlists/saved.html", context)


def _posted_keys(post):
    """The tracks to save, in order, from the form's one `keys` field: cache keys joined
    by commas (the import report's rows are folded into it by app.js as the request goes).
    One field however long the playlist, as Django refuses requests with over 1,000 fields.
    No server's key holds a comma (Plex's are numbers, Jellyfin's hex ids); saving.save
    keeps only the keys this server's cache holds."""
    return [key for key in (k.strip() for k in post.get("keys", "").split(",")) if key]


@require_http_methods(["GET", "POST"])
def import_playlist(request):
    context = _import_context(chosen_source(request.POST.get("source") or request.GET.get("source")))
    if request.method == "GET":
        Matcher.warm(context["source"])  # ready by the time the user has picked a file
        return _import_page(request, context)
    upload = request.FILES.get("file")
    if getattr(request, "upload_too_large", False):
        return upload_too_large(request)
    if upload is None:
        context["error"] = "Choose a playlist file to import."
    elif context["warning"] and context["warning"].kind == saving.CacheProblem.EMPTY:
        context["error"] = "Build the cache first: matching needs it."
    else:
        data = upload.read()
        try:
            playlist = read_playlist(data, upload.name)
        except PlaylistFormatError as exc:
            context["error"] = str(exc)
        else:
            # Kept (once per content) so "Keep in sync with this source" can read it again.
            context["keep_source"] = outside.store_upload(data, upload.name)
            results = Matcher.for_source(context["source"]).match_all(playlist.entries)
            context.update(_report(playlist, results))
            context.update(_save_context(context["source"], context["matched_keys"], playlist.name, "import"))
    return _import_page(request, context)


def upload_too_large(request):
    """The import page refusing an upload over IMPORT_MAX_UPLOAD_MB (HTTP 413). Called by
    playlists.middleware before the body is read, so it must not touch request.POST."""
    context = _import_context(chosen_source(request.GET.get("source")))
    context["error"] = (
        f"That file is too large to be a playlist: the limit is {settings.IMPORT_MAX_UPLOAD_MB} MB "
        "(the IMPORT_MAX_UPLOAD_MB setting)."
    )
    return _import_page(request, context, status=413)


def _import_context(source):
    return {
        "nav": "import",
        "servers": server_choices(),
        "source": source,
        "source_label": label(source),
        "warning": saving.cache_warning(source),
    }


def _import_page(request, context, status=None):
    """The import page (HTTP 400 with an error); for an htmx request that failed, only
    its error message."""
    status = status or (400 if "error" in context else 200)
    if request.htmx and "error" in context:
        return render(request, "playlists/import_error.html", context, status=status)
    return render(request, "playlists/import.html", context, status=status)


@dataclass(frozen=True)
class _Row:
    slot: int  # the entry's place in the playlist, from 1: saved tracks keep this order
    result: MatchResult


@dataclass
class _Section:
    status: str
    rows: list = field(default_factory=list)

    @property
    def shown(self):
        return self.rows[:_SHOWN_ROWS]

    @property
    def more(self):
        """Rows past the first few hundred: counted, not shown; matched ones are still saved."""
        return self.rows[_SHOWN_ROWS:]


def _report(playlist, results):
    # What needs the user first; the matched rows, usually most of them, last and collapsed.
    sections = {status: _Section(status) for status in ("ambiguous", "unmatched", "matched")}
    for slot, result in enumerate(results, start=1):
        sections[result.status].rows.append(_Row(slot, result))
    matched = sections["matched"].rows
    return {
        "playlist": playlist,
        "results": results,
        "sections": list(sections.values()),
        "matched": matched,
        "ambiguous": sections["ambiguous"].rows,
        "unmatched": sections["unmatched"].rows,
        "matched_keys": [row.result.track.rating_key for row in matched],
    }
