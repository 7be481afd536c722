"""What the footer and the first-run modal show: their template context, built
only where they are rendered (the full page, through library.templatetags, and
their own polling views), never for other fragments."""

from library.models import SyncState
from library.sources import configured_sources
from library.vocab import Display


def footer_context():
    states = [SyncState.for_source(source) for source in configured_sources()]
    return {"states": states, "any_syncing": any(s.is_running for s in states)}


def modal_context():
    """The modal's state, and `show`: whether it blocks the page. It does until the
    library has been read once, since nothing works without it."""
    sources = configured_sources()
    state = SyncState.for_source(sources[0]) if sources else None
    return {
        "state": state,
        "show": state is None or state.last_sync_at is None,
        "modal_state": _modal_state(state),
    }


def _modal_state(state):
    if state is None:
        return "unconfigured"
    # Before the first sync nothing is cached, so an unreachable server is an
    # error here, never the footer's "offline: showing cached library".
    shown = state.display_state
    return shown if shown in (Display.SYNCING, Display.ERROR) else "start"
