import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediasage import processes

ROOT = Path(__file__).resolve().parents[2]


def _manage(tmp_path, *args, **env):
    """`manage.py ARGS` in a process of its own, on a data dir under tmp_path."""
    return processes.run(processes.manage(*args), processes.app_env(tmp_path / "data", **env), timeout=60)


@pytest.mark.parametrize("url", ["192.168.1.10:32400", "ftp://plex.local", "http://", "http://plex:notaport"])
def test_bad_plex_url_names_the_variable(tmp_path, url):
    result = _manage(tmp_path, "check", PLEX_URL=url, PLEX_TOKEN="t")
    assert result.returncode != 0
    assert (
        "PLEX_URL must be an http:// or https:// URL" in result.stderr
        or "PLEX_URL has an invalid port" in (result.stderr)
    )


def test_a_token_pasted_into_the_url_is_refused_without_echoing_it(tmp_path):
    url = "http://nas:32400/?X-Plex-Token=abc123secret"
    result = _manage(tmp_path, "check", PLEX_URL=url, PLEX_TOKEN="t")
    assert result.returncode != 0
    assert "PLEX_URL must be the server's address only" in result.stderr
    assert "abc123secret" not in result.stderr


def test_plex_url_without_token_names_the_token_variable(tmp_path):
    result = _manage(tmp_path, "check", PLEX_URL="http://192.168.1.10:32400")
    assert result.returncode != 0
    assert "PLEX_TOKEN is not set" in result.stderr


def test_jellyfin_url_without_api_key_names_the_key_variable(tmp_path):
    result = _manage(tmp_path, "check", JELLYFIN_URL="http://nas:8096")
    assert result.returncode != 0
    assert "JELLYFIN_API_KEY is not set" in result.stderr
    assert (
        "JELLYFIN_URL must be"
        in _manage(tmp_path, "check", JELLYFIN_URL="nas:8096", JELLYFIN_API_KEY="k").stderr
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        ("SYNC_PAGE_SIZE", "lots", "SYNC_PAGE_SIZE must be a whole number"),
        ("SYNC_PAGE_SIZE", "0", "SYNC_PAGE_SIZE must be at least 1"),
        ("LLM_BASE_URL", "localhost:11434", "LLM_BASE_URL must be an http:// or https:// URL"),
        ("LLM_TIMEOUT", "0", "LLM_TIMEOUT must be at least 1"),
        ("DATABASE_URL", "mysql://ms:s3cret-pw@nas/ms", "DATABASE_URL must be a postgres:// URL"),
        ("DATABASE_URL", "postgres://mediasage:s3cret-pw@nas", "DATABASE_URL must name the database"),
        ("REDIS_URL", "http://:s3cret-pw@nas:6379", "REDIS_URL must be a redis:// URL"),
    ],
)
def test_bad_values_are_refused_with_the_variable_name(tmp_path, name, value, message):
    result = _manage(tmp_path, "check", **{name: value})
    assert result.returncode != 0
    assert message in result.stderr
    assert "s3cret-pw" not in result.stderr  # a password in a URL is never repeated


def test_an_unreachable_postgresql_stops_a_command_with_one_line(tmp_path):
    url = f"postgres://mediasage:s3cret-pw@127.0.0.1:{processes.free_port()}/mediasage"
    result = _manage(tmp_path, "migrate", DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "The library database server (PostgreSQL) did not answer: is it running and reachable?"
    ]


@pytest.mark.parametrize(
    ("url", "used"),
    [
        ("http://nas:11434", "http://nas:11434/v1"),
        ("http://nas:11434/", "http://nas:11434/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
    ],
)
def test_a_model_endpoint_given_without_a_path_gets_v1(tmp_path, url, used):
    code = "from django.conf import settings; print(settings.LLM_BASE_URL)"
    result = _manage(tmp_path, "shell", "-c", code, LLM_BASE_URL=url)
    assert result.stdout.strip().splitlines()[-1] == used, result.stderr


def test_migrations_apply_on_an_empty_data_dir(tmp_path):
    result = _manage(tmp_path, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert (data / "library_cache.db").exists()
    # The secret key is generated once, kept private, and reused.
    key_file = data / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = key_file.read_text()
    assert _manage(tmp_path, "check").returncode == 0
    assert key_file.read_text() == key


def test_cache_database_uses_wal_and_a_busy_timeout(tmp_path):
    code = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor();"
        "print(c.execute('pragma journal_mode').fetchone()[0],"
        " c.execute('pragma busy_timeout').fetchone()[0])"
    )
    environ = {
        **os.environ,
        "MEDIASAGE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "mediasage.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["wal", "20000"], out.stderr


def test_migrations_match_the_models(tmp_path):
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
