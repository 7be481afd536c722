"""MediaSage settings, all read from environment variables.

Every setting goes through one of the small typed helpers below, which fail
loudly (naming the variable) on a value they cannot use. Every file the app
writes lives under MEDIASAGE_DATA_DIR.
"""

import ipaddress
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env(name, default=""):
    return os.environ.get(name, default).strip()


def _env_bool(name, default=False):
    value = _env(name).lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _env_int(name, default, minimum=None):
    value = _env(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def _env_url(name):
    value = _env(name).rstrip("/")
    if not value:
        return ""
    parsed = urlparse(value)
    # Checked first, so the error never echoes a token pasted into the URL.
    if parsed.query or parsed.fragment:
        raise ImproperlyConfigured(
            f"{name} must be the server's address only, without ?… (put a token in its own variable)"
        )
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ImproperlyConfigured(
            f"{name} must be an http:// or https:// URL such as http://192.168.1.10:32400, not {value!r}"
        )
    try:
        _ = parsed.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port: {value!r}") from None
    return value


def _env_networks(name):
    """A comma-separated list of addresses or CIDRs, each checked at start."""
    values = [v.strip() for v in _env(name).split(",") if v.strip()]
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated addresses or CIDRs such as 172.18.0.0/16, not {value!r}"
            ) from None
    return values


def _secret_key(data_dir):
    """SECRET_KEY from the environment, else one generated once into the data dir."""
    if key := _env("SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _data_dir_and_secret_key():
    """MEDIASAGE_DATA_DIR, created and proven writable, and the secret key; or
    start-up stops with one line naming the directory and what is wrong.

    Exit status 3 is gunicorn's "worker failed to boot": it stops gunicorn
    instead of respawning the worker forever."""
    path = Path(_env("MEDIASAGE_DATA_DIR") or BASE_DIR / "data").resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root on a read-only mount: only a real write tells.
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
        return path, _secret_key(path)
    except OSError as exc:
        print(
            f"MediaSage cannot start: MEDIASAGE_DATA_DIR {path} is not a writable directory "
            f"({exc.strerror or exc})",
            file=sys.stderr,
        )
        raise SystemExit(3) from None


def _database(data_dir, url, busy_timeout):
    """The SQLite file in the data dir, or the PostgreSQL server DATABASE_URL names."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": data_dir / "library_cache.db",
            # The web process reads while the worker writes: WAL lets both proceed,
            # busy_timeout waits out the other writer's short commit instead of
            # failing, and IMMEDIATE takes the write lock up front so two writers
            # never deadlock upgrading a read lock.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": busy_timeout,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    f"PRAGMA busy_timeout={busy_timeout * 1000};"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
            "TEST": {"NAME": data_dir / "test_library_cache.db"},
        }
    import dj_database_url

    # The URL holds a password: no message below repeats it.
    scheme = urlparse(url).scheme
    if scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL such as postgres://user:password@host:5432/mediasage, "
            f"not a {scheme or 'schemeless'} one"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL is not a valid postgres:// URL") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL must name the database, e.g. postgres://…/mediasage")
    # A row lock held longer than DB_BUSY_TIMEOUT fails the waiting statement, as
    # SQLite's busy_timeout does, so a request answers 503 instead of hanging.
    config["OPTIONS"] = {"connect_timeout": 10, "options": f"-c lock_timeout={busy_timeout * 1000}"}
    return config


def _redis_url(name):
    """A redis:// URL, checked without repeating its password."""
    value = _env(name)
    if value and (urlparse(value).scheme not in ("redis", "rediss") or not urlparse(value).hostname):
        raise ImproperlyConfigured(f"{name} must be a redis:// URL such as redis://localhost:6379/0")
    return value


def _list(name, default=""):
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


DATA_DIR, SECRET_KEY = _data_dir_and_secret_key()
DEBUG = _env_bool("DEBUG")
# Debug pages show every frame's variables; this hides the token and key in them.
DEFAULT_EXCEPTION_REPORTER_FILTER = "mediasage.redaction.SecretsFilter"

# Hosts: this machine's own names and addresses plus the user's, never any
# name by default, so a web page cannot reach the app by DNS rebinding.
ALLOWED_HOSTS = _list("ALLOWED_HOSTS")
if "*" in ALLOWED_HOSTS:
    print(
        "Warning: ALLOWED_HOSTS=* lets any web page you visit drive MediaSage (DNS rebinding); "
        "list the host names you use instead.",
        file=sys.stderr,
    )
else:
    from mediasage.hosts import local_hosts

    ALLOWED_HOSTS += local_hosts()
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS")
# Serving under a sub-path behind a proxy, e.g. /mediasage: every URL Django
# builds carries it, and mediasage.wsgi accepts paths with or without it.
URL_BASE = _env("URL_BASE").rstrip("/")
if URL_BASE and not URL_BASE.startswith("/"):
    raise ImproperlyConfigured(f"URL_BASE must start with /, like /mediasage, not {URL_BASE!r}")
FORCE_SCRIPT_NAME = URL_BASE or None

# Signing in (accounts/). The account may come from the environment; it is created or
# its password updated by every `migrate` (bin/setup, the Docker entrypoint).
MEDIASAGE_USERNAME = _env("MEDIASAGE_USERNAME")
MEDIASAGE_PASSWORD = _env("MEDIASAGE_PASSWORD")
if bool(MEDIASAGE_USERNAME) != bool(MEDIASAGE_PASSWORD):
    raise ImproperlyConfigured("MEDIASAGE_USERNAME and MEDIASAGE_PASSWORD must be set together")
# Requests from private addresses need no login.
AUTH_LOCAL_BYPASS = _env_bool("AUTH_LOCAL_BYPASS")
# Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed; nobody else's are.
TRUSTED_PROXIES = _env_networks("TRUSTED_PROXIES")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "builder"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# Media servers: Plex, Jellyfin, or both. With neither set, `make run` starts
# the fake Plex as a demo library and points these at it.
PLEX_URL = _env_url("PLEX_URL")
PLEX_TOKEN = _env("PLEX_TOKEN")
if PLEX_URL and not PLEX_TOKEN:
    raise ImproperlyConfigured(
        "PLEX_TOKEN is not set: PLEX_URL is set, and Plex needs a token to answer "
        "(see https://support.plex.tv/articles/204059436)"
    )
PLEX_LIBRARY = _env("PLEX_LIBRARY")
PLEX_TIMEOUT = _env_int("PLEX_TIMEOUT", 30, minimum=1)

JELLYFIN_URL = _env_url("JELLYFIN_URL")
JELLYFIN_API_KEY = _env("JELLYFIN_API_KEY")
if JELLYFIN_URL and not JELLYFIN_API_KEY:
    raise ImproperlyConfigured(
        "JELLYFIN_API_KEY is not set: JELLYFIN_URL is set, and Jellyfin needs an API key "
        "(Dashboard > API Keys)"
    )
# Empty: the first administrator. Playlists belong to this user.
JELLYFIN_USER_ID = _env("JELLYFIN_USER_ID")
JELLYFIN_LIBRARY = _env("JELLYFIN_LIBRARY")
JELLYFIN_TIMEOUT = _env_int("JELLYFIN_TIMEOUT", 30, minimum=1)
# The largest answer read from either server; a 1,000-track page is about 1 MB.
MEDIA_SERVER_MAX_RESPONSE_MB = _env_int("MEDIA_SERVER_MAX_RESPONSE_MB", 64, minimum=1)
# Seconds before the one retry of a failed request to either server (tests set 0).
MEDIA_SERVER_RETRY_PAUSE = 1.0
DEMO_MODE = _env_bool("MEDIASAGE_DEMO")

# Prompt playlists (playlists/llm.py): any OpenAI-compatible chat endpoint. Without a
# path the address gets /v1, where Ollama, LM Studio, llama.cpp and vLLM serve that API.
LLM_BASE_URL = _env_url("LLM_BASE_URL")
if LLM_BASE_URL and not urlparse(LLM_BASE_URL).path:
    LLM_BASE_URL += "/v1"
LLM_API_KEY = _env("LLM_API_KEY")
# No built-in default: a retired default model would break every fresh install.
LLM_MODEL = _env("LLM_MODEL")
# Seconds one request to the model may take; local models on small machines are slow.
LLM_TIMEOUT = _env_int("LLM_TIMEOUT", 120, minimum=1)
# The most tokens of candidate tracks a prompt playlist sends the model (about 50 a
# track); lower it for a model with a small context window (Ollama's default).
LLM_CANDIDATE_TOKENS = _env_int("LLM_CANDIDATE_TOKENS", 12_000, minimum=500)
# Set by `make run` when it starts the fake model (manage.py fakellm), for pages to say so.
LLM_DEMO = _env_bool("LLM_DEMO")

SYNC_PAGE_SIZE = _env_int("SYNC_PAGE_SIZE", 1000, minimum=1)
SYNC_STALE_HOURS = _env_int("SYNC_STALE_HOURS", 24, minimum=1)
# Keys per request when listing every track to spot deletions (slim pages).
SYNC_KEY_PAGE_SIZE = _env_int("SYNC_KEY_PAGE_SIZE", 10000, minimum=1)
# Incremental syncs between full ones; a full sync at least this often.
SYNC_FULL_EVERY_DAYS = _env_int("SYNC_FULL_EVERY_DAYS", 7, minimum=1)
# A sync whose worker has not written a heartbeat for this long is reported failed.
SYNC_HEARTBEAT_TIMEOUT = _env_int("SYNC_HEARTBEAT_TIMEOUT", 60, minimum=5)

# Imports: larger files are refused before their body is read (see playlists.middleware).
IMPORT_MAX_ENTRIES = _env_int("IMPORT_MAX_ENTRIES", 10000, minimum=1)
IMPORT_MAX_UPLOAD_MB = _env_int("IMPORT_MAX_UPLOAD_MB", 5, minimum=1)

# Outside playlists a subscription fetches on every run (playlists.outside): the APIs
# (settings so the fakes plug in), the largest answer read, and each request's deadline.
LISTENBRAINZ_API_URL = _env_url("LISTENBRAINZ_API_URL") or "https://api.listenbrainz.org"
DEEZER_API_URL = _env_url("DEEZER_API_URL") or "https://api.deezer.com"
OUTSIDE_MAX_MB = _env_int("OUTSIDE_MAX_MB", 10, minimum=1)
OUTSIDE_TIMEOUT = _env_int("OUTSIDE_TIMEOUT", 20, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "library",
    "playlists",
    "accounts",
]

MIDDLEWARE = [
    # First: the client address, scheme and host behind a trusted reverse proxy, and
    # Secure cookies over HTTPS (it sees the response last).
    "accounts.middleware.ReverseProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Before anything reads a body: an unauthenticated upload is refused unread.
    "accounts.middleware.LoginRequiredMiddleware",
    # Last, so request.htmx is set; its __call__ still runs before CSRF reads the body.
    "playlists.middleware.ImportLimitMiddleware",
    # A database that cannot be read or written in time: 503 with the reason.
    "mediasage.errors.DatabaseErrorMiddleware",
]

ROOT_URLCONF = "mediasage.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "library.context_processors.demo",
            ],
        },
    },
]

WSGI_APPLICATION = "mediasage.wsgi.application"

# Seconds a request waits for another writer before it answers 503 (under
# gunicorn's 30 s worker timeout).
DB_BUSY_TIMEOUT = _env_int("DB_BUSY_TIMEOUT", 20, minimum=1)
DATABASES = {"default": _database(DATA_DIR, _env("DATABASE_URL"), DB_BUSY_TIMEOUT)}
# Kept apart so the redaction filter can hide it (mediasage.redaction).
DATABASE_PASSWORD = DATABASES["default"].get("PASSWORD", "")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = _env("TZ", "UTC") or "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = f"{URL_BASE}/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Served straight from the app and static/ folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

# django-q2 on the ORM broker by default: the queue lives in the same database, so
# the worker needs nothing else running; REDIS_URL moves it to Redis. retry must
# exceed timeout, or a slow sync is handed to a second worker while the first
# still runs (the ORM broker's redelivery; Redis has none).
SYNC_TASK_TIMEOUT = _env_int("SYNC_TASK_TIMEOUT", 3 * 3600, minimum=60)
REDIS_URL = _redis_url("REDIS_URL")
REDIS_PASSWORD = unquote(urlparse(REDIS_URL).password or "")
Q_CLUSTER = {
    "name": "mediasage",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
    "workers": 1,
    "timeout": SYNC_TASK_TIMEOUT,
    "retry": SYNC_TASK_TIMEOUT + 600,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 100,
    "ack_failures": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # On every handler: the media-server secrets, and tokens in any logged URL, become [redacted].
    "filters": {"redact_secrets": {"()": "mediasage.redaction.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}
    },
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # Our filtered handler in place of Django's defaults (mail_admins, a
        # DEBUG-only console) and of the one django-q2 adds when it finds none.
        "django": {"handlers": ["console"], "propagate": False},
        "django.server": {"handlers": ["console"], "propagate": False},
        "django-q": {"handlers": ["console"], "propagate": False},
        # urllib3 logs full request URLs at DEBUG, and the Plex token rides in them.
        "urllib3": {"level": "WARNING"},
        "plexapi": {"level": "WARNING"},
        # The openai client logs every prompt at DEBUG, and its HTTP library every request.
        "openai": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "httpcore2": {"level": "WARNING"},
    },
}
