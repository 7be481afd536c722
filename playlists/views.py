from dataclasses import replace

from django.shortcuts import render
from django.views.decorators.http import require_GET

from library.sources import configured_sources
from playlists.generate import Filters, artist_names, decade_counts, genre_counts, preview

_RATINGS = [(2, "★ and up"), (4, "★★ and up"), (6, "★★★ and up"), (8, "★★★★ and up"), (10, "★★★★★")]


def _filters(request):
    filters = Filters.from_query(request.GET)
    sources = configured_sources()
    if sources and filters.source not in sources:
        filters = replace(filters, source=sources[0])
    return filters


@require_GET
def builder(request):
    filters = _filters(request)
    return render(
        request,
        "playlists/builder.html",
        {
            "nav": "builder",
            "filters": filters,
            "genres": genre_counts(filters.source),
            "decades": decade_counts(filters.source),
            "rating_choices": _RATINGS,
            "preview": preview(filters),
        },
    )


@require_GET
def preview_fragment(request):
    return render(request, "playlists/preview.html", {"preview": preview(_filters(request))})


@require_GET
def artist_options(request):
    names = artist_names(request.GET.get("source") or "plex", prefix=request.GET.get("q", "").strip())
    return render(request, "playlists/artist_options.html", {"names": names})
