"""Writing the track cache: pages of a sync go to StagedTrack, and only a complete
sync is merged into Track, in one short transaction. A sync that fails anywhere
leaves the cache as it was, readers never see half a library, and no write
transaction is ever held across a network call.

Plain SQL, since building model instances for bulk_create was half of a sync's
CPU time; the columns come from the models, so the SQL follows them. It is the SQL
SQLite and PostgreSQL share (ON CONFLICT, IS DISTINCT FROM), but for the one epoch
conversion below.
"""

import logging

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from library.models import LostClaim, StagedTrack, Track

log = logging.getLogger(__name__)

_FIELDS = [f for f in StagedTrack._meta.concrete_fields if not f.primary_key]
_COLUMNS = [f.column for f in _FIELDS]
_DATA_COLUMNS = [c for c in _COLUMNS if c not in ("source", "rating_key")]


def _text(value):
    # A server's JSON can carry \u0000, which PostgreSQL refuses in text and jsonb.
    return value.replace("\x00", "") if isinstance(value, str) else value


def _prep(field):
    """How a value of this field is written, as the ORM would write it (less NULs)."""
    if isinstance(field, models.JSONField):  # lists of names
        return lambda values: connection.ops.adapt_json_value([_text(v) for v in values], None)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.CharField):
        return _text
    return None


_STAGE_PREP = [(f.name, _prep(f)) for f in _FIELDS]
_STAGE_SQL = (
    f"INSERT INTO {StagedTrack._meta.db_table} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}) ON CONFLICT DO NOTHING"
)


def stage(rows):
    """Stage tracks (dicts of every StagedTrack column) in one short transaction,
    one executemany. Returns how many were new to the staging table: a track listed
    twice (pages shifting under a sync) is staged once."""
    values = [[prep(row[name]) if prep else row[name] for name, prep in _STAGE_PREP] for row in rows]
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(_STAGE_SQL, values)
        return cur.rowcount


def expected_tracks(source):
    """[(key, added at in epoch seconds or None, album key, staged)] of the tracks the server
    should hold after an incremental sync's changes: the cache's, as the staged tracks (read
    by this sync: staged is 1) change them. Computed in SQL: a Python datetime for each of
    100k rows costs a tenth of a second."""
    track, staged = Track._meta.db_table, StagedTrack._meta.db_table
    columns = f"rating_key, {_EPOCH[connection.vendor]}, album_key"
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {columns}, 0 FROM {track} t WHERE source = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {staged} s WHERE s.source = t.source AND s.rating_key = t.rating_key) "
            f"UNION ALL SELECT {columns}, 1 FROM {staged} WHERE source = %s",
            [source, source],
        )
        return cur.fetchall()


# added_at in whole epoch seconds, in each database's words.
_EPOCH = {
    "sqlite": "CAST(strftime('%%s', added_at) AS INTEGER)",
    "postgresql": "CAST(FLOOR(EXTRACT(EPOCH FROM added_at)) AS BIGINT)",
}


def clear_staging(source):
    """Drop what a sync of `source` staged. Logged, not raised: it runs on the way
    out of a failed sync too, and the next sync clears it again anyway."""
    try:
        with transaction.atomic():
            StagedTrack.objects.filter(source=source).delete()
    except DatabaseError:
        log.exception("could not clear staged tracks")


def merge(state, wipe, remove, gone=None):
    """Merge the staged tracks of `state.source` into the cache in one transaction:
    the whole library (gone is None) or the changed tracks of an incremental sync,
    with `gone` the keys of cached tracks the server no longer has. `wipe` replaces the
    cache (another server); `remove` deletes tracks the server no longer has.

    Returns (added, updated, removed). Raises LostClaim when the sync of `state`
    was taken over meanwhile."""
    source = state.source
    track, staged = Track._meta.db_table, StagedTrack._meta.db_table
    same_key = "t.source = s.source AND t.rating_key = s.rating_key"
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in _DATA_COLUMNS)
    cols = ", ".join(_COLUMNS)
    with transaction.atomic(), connection.cursor() as cur:
        # Re-check the claim under a lock (SQLite's write lock, PostgreSQL's row lock
        # on the state), so a run judged dead cannot overwrite a newer one's result.
        if not state.holds_claim(lock=True):
            raise LostClaim
        if wipe:
            removed = Track.objects.filter(source=source).delete()[0]
            added, updated = StagedTrack.objects.filter(source=source).count(), 0
        else:
            removed = _remove_missing(cur, source, gone) if remove else 0
            cur.execute(
                f"SELECT COUNT(*) FROM {staged} s WHERE s.source = %s AND NOT EXISTS "
                f"(SELECT 1 FROM {track} t WHERE {same_key})",
                [source],
            )
            added = cur.fetchone()[0]
            cur.execute(
                f"SELECT COUNT(*) FROM {staged} s JOIN {track} t ON {same_key} "
                f"WHERE s.source = %s AND ({changed})",
                [source],
            )
            updated = cur.fetchone()[0]
        updates = ", ".join(f"{c} = excluded.{c}" for c in _DATA_COLUMNS)
        differs = " OR ".join(f"{track}.{c} IS DISTINCT FROM excluded.{c}" for c in _DATA_COLUMNS)
        cur.execute(
            f"INSERT INTO {track} ({cols}, updated_at) SELECT {cols}, %s FROM {staged} "
            f"WHERE source = %s ON CONFLICT (source, rating_key) DO UPDATE SET {updates}, "
            f"updated_at = excluded.updated_at WHERE {differs}",
            [connection.ops.adapt_datetimefield_value(timezone.now()), source],
        )
    return added, updated, removed


def _remove_missing(cur, source, gone):
    """Delete cached tracks the server no longer has: those not staged (a full
    sync), or those in `gone` (an incremental one). Returns how many."""
    track, staged = Track._meta.db_table, StagedTrack._meta.db_table
    if gone is None:
        cur.execute(
            f"DELETE FROM {track} WHERE source = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {staged} s WHERE s.source = {track}.source "
            f"AND s.rating_key = {track}.rating_key)",
            [source],
        )
        return cur.rowcount
    keys = [(source, key) for key in gone]
    # A track staged as new and deleted since is neither added nor removed.
    cur.executemany(f"DELETE FROM {staged} WHERE source = %s AND rating_key = %s", keys)
    cur.executemany(f"DELETE FROM {track} WHERE source = %s AND rating_key = %s", keys)
    return cur.rowcount
