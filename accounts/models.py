import hashlib
import math
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


def _digest(key):
    # The key is 256 random bits: a plain hash cannot be reversed, and lets the key be looked up.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    """The key a user's scripts send in X-Api-Key. Only its hash is stored; the key itself is
    shown once, when generated."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_key")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"API key of {self.user}"

    @classmethod
    def generate(cls, user):
        """A new key for the user, replacing any old one; returns the key."""
        key = secrets.token_urlsafe(32)
        cls.objects.update_or_create(
            user=user, defaults={"digest": _digest(key), "created_at": timezone.now()}
        )
        return key

    @classmethod
    def user_for(cls, key):
        """The active user the key belongs to, else None."""
        found = cls.objects.select_related("user").filter(digest=_digest(key), user__is_active=True).first()
        return found.user if found else None


class LoginThrottle(models.Model):
    """Failed sign-ins in a row from one client address, or for one username. In the
    database, so every web worker counts the same failures."""

    FREE_FAILURES = 5
    FIRST_WAIT = timedelta(seconds=30)  # doubled at each further failure
    LONGEST_WAIT = timedelta(minutes=15)
    # A count this old with no new failure starts again from zero.
    FORGET_AFTER = timedelta(days=1)

    kind = models.CharField(max_length=8, choices=[("address", "Address"), ("username", "Username")])
    value = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="one_throttle_per_key")]

    def __str__(self):
        return f"{self.failures} failed sign-ins for {self.kind} {self.value}"

    @staticmethod
    def _keys(address, username):
        # Usernames differing only in case count as one, so case cannot buy more guesses.
        return [("address", str(address)), ("username", username.casefold()[:150])]

    @classmethod
    def _rows(cls, address, username):
        query = models.Q()
        for kind, value in cls._keys(address, username):
            query |= models.Q(kind=kind, value=value)
        return cls.objects.filter(query)

    @classmethod
    def wait(cls, address, username):
        """Whole seconds before this address may try this username again; 0 when it may now."""
        now = timezone.now()
        until = max(
            (r.locked_until for r in cls._rows(address, username).filter(locked_until__gt=now)), default=now
        )
        return math.ceil((until - now).total_seconds())

    @classmethod
    def record_failure(cls, address, username):
        now = timezone.now()
        # One write transaction (SQLite's IMMEDIATE mode): workers failing at once each count.
        with transaction.atomic():
            for kind, value in cls._keys(address, username):
                row, _ = cls.objects.get_or_create(kind=kind, value=value)
                if now - row.last_failure_at > cls.FORGET_AFTER:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= cls.FREE_FAILURES:
                    doublings = min(row.failures - cls.FREE_FAILURES, 10)
                    row.locked_until = now + min(cls.FIRST_WAIT * 2**doublings, cls.LONGEST_WAIT)
                row.save()

    @classmethod
    def clear(cls, address, username):
        cls._rows(address, username).delete()
