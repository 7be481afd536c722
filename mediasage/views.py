from django.db import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from library.tasks import worker_last_seen

# The heartbeat runs every minute and the scheduler wakes every 30 s: silence
# beyond this means the worker is gone, not merely between beats.
WORKER_SILENCE_LIMIT = 150


@require_GET
@never_cache
def health(request):
    """For monitors and container health checks: no login, nothing private."""
    try:
        seen = worker_last_seen()
    except DatabaseError:
        return JsonResponse({"status": "error", "error": "the database did not answer"}, status=503)
    if seen is None:
        return JsonResponse(
            {"status": "error", "error": "the worker has not been seen yet"},
            status=503,
        )
    silence = max(0, round((timezone.now() - seen).total_seconds()))
    if silence > WORKER_SILENCE_LIMIT:
        return JsonResponse(
            {"status": "error", "error": f"the worker has not been seen for {silence} s"}, status=503
        )
    return JsonResponse({"status": "ok", "worker_seen_seconds_ago": silence})
