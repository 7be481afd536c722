"""The prompt page (/playlists/prompt): a sentence in, a playlist out. Generation runs
in the worker (playlists.tasks.generate_prompt) while the page polls the run; no
request here waits on the model, except the short, cached listing of its models."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from library.models import Track
from library.sources import SourceError, chosen_source, label, server_choices
from playlists import llm, prompting, saving, tasks
from playlists.models import PromptRun, RecipeError, SavedPlaylist

# How long the endpoint's model list is reused: opening the page twice asks once.
_MODELS_SECONDS = 60
# How often a keep-as-a-saved-playlist runs.
_KEEP_EVERY = timedelta(weeks=1)


def _number(value, limit):
    """A positive whole number from a form field (at most `limit`), else None."""
    value = (value or "").strip()
    return min(int(value), limit) if value.isdigit() and int(value) > 0 else None


def _length(params):
    return _number(params.get("tracks"), prompting.MAX_TRACKS), _number(
        params.get("minutes"), prompting.MAX_MINUTES
    )


@require_GET
def prompt_page(request):
    source = chosen_source(request.GET.get("source"))
    run_id = request.GET.get("run", "")
    record = PromptRun.objects.filter(pk=run_id).first() if run_id.isdigit() else None
    return render(
        request,
        "playlists/prompt.html",
        {
            "nav": "prompt",
            "servers": server_choices(),
            "source": record.source if record else source,
            "configured": llm.configured(),
            "how_to_connect": llm.HOW_TO_CONNECT,
            "demo_model": settings.LLM_DEMO,
            "max_tracks": prompting.MAX_TRACKS,
            "run": record,
        },
    )


@require_GET
def prompt_preview(request):
    """What the sentence's rules leave and the tokens a generation would send."""
    text = request.GET.get("prompt", "").strip()
    if not text:
        return render(request, "playlists/prompt_preview.html", {})
    tracks, minutes = _length(request.GET)
    rules = prompting.read_rules(text, chosen_source(request.GET.get("source")), tracks, minutes)
    pool = prompting.candidate_pool(rules)
    return render(
        request,
        "playlists/prompt_preview.html",
        {
            "rules": rules,
            "pool": pool,
            "tokens": prompting.tokens_to_send(rules, pool),
            "budget": settings.LLM_CANDIDATE_TOKENS,
        },
    )


@require_GET
def prompt_models(request):
    """The endpoint's models as options, or why they cannot be listed."""
    context = {"chosen": settings.LLM_MODEL}
    try:
        context["models"] = _offered_models()
    except llm.LLMError as exc:
        context["error"] = exc.message
    return render(request, "playlists/prompt_models.html", context)


def _offered_models():
    key = f"llm-models:{settings.LLM_BASE_URL}"
    offered = cache.get(key)
    if offered is None:
        offered = llm.list_models()
        cache.set(key, offered, _MODELS_SECONDS)
    return offered


@require_POST
def prompt_start(request):
    """Queue a generation from the sentence, or from a track ("More like this")."""
    if not llm.configured():
        return _failed(request, llm.HOW_TO_CONNECT)
    text = " ".join(request.POST.get("prompt", "").split())
    seed = Track.objects.filter(pk=_number(request.POST.get("track"), 2**62)).first()
    if not text and seed is None:
        return _failed(request, "Say what the playlist should be, e.g. “rainy Sunday jazz, about an hour”.")
    tracks, minutes = _length(request.POST)
    record = PromptRun.objects.create(
        prompt=text if seed is None else f"More like “{seed.title}” by {seed.artist}",
        source=seed.source if seed else chosen_source(request.POST.get("source")),
        seed_track=seed,
        tracks_asked=tracks,
        minutes_asked=minutes,
        model=request.POST.get("model", "").strip()[:200],
    )
    tasks.start_prompt(record.pk)
    return _run_fragment(request, record)


def _failed(request, message):
    return render(request, "error_fragment.html", {"reason": message}, status=400)


@require_GET
def prompt_run(request, run_id):
    """The run as it stands; 286 (htmx: stop polling) once it has finished."""
    return _run_fragment(request, get_object_or_404(PromptRun, pk=run_id))


def _run_fragment(request, record):
    stalled = not record.finished and record.created_at < timezone.now() - timedelta(
        seconds=settings.LLM_TIMEOUT * 2 + 120
    )
    context = {
        "run": record,
        "stalled": stalled,
        "source_label": label(record.source),
        "default_name": record.title or "Prompt playlist",
    }
    if record.finished:
        tracks = record.tracks()
        context.update(
            tracks=tracks,
            minutes=round(sum(t.duration_ms or 0 for t, _, _ in tracks) / 60000),
            seconds=record.model_seconds + record.app_seconds,
        )
    return render(request, "playlists/prompt_run.html", context, status=286 if record.finished else 200)


@require_POST
def prompt_save(request, run_id):
    record = get_object_or_404(PromptRun, pk=run_id)
    context = {"source_label": label(record.source)}
    keys = [track.rating_key for track, _, _ in record.tracks()]
    try:
        context["saved"] = prompting.save(
            record.source, request.POST.get("title") or record.title, keys, record.description
        )
    except (saving.SaveError, SourceError) as exc:
        context["error"] = getattr(exc, "message", str(exc))
    return render(request, "playlists/saved.html", context)


@require_POST
def prompt_keep(request, run_id):
    """Keep the sentence as a saved playlist of kind prompt: a fresh selection each week,
    written in place."""
    record = get_object_or_404(PromptRun, pk=run_id)
    length = f"tracks={record.tracks_asked}" if record.tracks_asked else ""
    length = f"minutes={record.minutes_asked}" if record.minutes_asked else length
    prompt = prompting.rules_of(record).text
    try:
        saved = SavedPlaylist.add(
            request.POST.get("title") or record.title,
            f"prompt:{prompt}",
            [record.source],
            every=_KEEP_EVERY,
            filters=length,
        )
    except RecipeError as exc:
        return render(request, "playlists/prompt_kept.html", {"error": str(exc)})
    return render(request, "playlists/prompt_kept.html", {"saved": saved})
