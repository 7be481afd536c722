from django.conf import settings

from library.models import SyncState
from library.sources import configured_sources


def _modal_state(state):
    if state is None:
        return "unconfigured"
    # Before the first sync nothing is cached, so an unreachable server is an
    # error here, never the footer's "offline: showing cached library".
    shown = state.display_state
    return shown if shown in ("syncing", "error") else "start"


def library_status(request):
    """The footer and first-run modal, on every page."""
    states = [SyncState.for_source(source) for source in configured_sources()]
    primary = states[0] if states else None
    return {
        "states": states,
        "state": primary,
        "any_syncing": any(s.is_running for s in states),
        "demo": settings.DEMO_MODE,
        # Blocking until the library has been read once: nothing works without it.
        "show_modal": primary is None or primary.last_sync_at is None,
        "modal_state": _modal_state(primary),
    }
