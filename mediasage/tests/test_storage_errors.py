"""When the data directory or the database fails, every surface says so plainly."""

import re
import sqlite3
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from mediasage import processes
from mediasage.tests.test_settings import _manage

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def _locked(path):
    """Another process holding the database: neither reads nor writes get in."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


@pytest.fixture
def locked_database(fake_plex, monkeypatch, settings):
    # A short busy timeout, so the test waits a fraction of a second, not 20.
    options = dict(connection.settings_dict["OPTIONS"])
    options["timeout"] = 0.2
    options["init_command"] = re.sub(r"busy_timeout=\d+", "busy_timeout=200", options["init_command"])
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    settings.DB_BUSY_TIMEOUT = 1
    # The exclusive lock is only granted while no other connection has the file open.
    connection.close()
    with _locked(connection.settings_dict["NAME"]):
        yield
    connection.close()


def test_the_api_answers_json_503_with_the_reason_when_the_database_is_locked(locked_database):
    for response in (
        Client(raise_request_exception=False).get("/api/library/status"),
        Client(raise_request_exception=False).post("/api/library/sync"),
    ):
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        assert "The library database is busy" in response.json()["error"]


def test_a_page_shows_a_plain_error_page_in_the_apps_layout_when_the_database_is_locked(
    locked_database,
):
    response = Client(raise_request_exception=False).get("/")
    page = response.content.decode()
    assert response.status_code == 503
    assert "MediaSage cannot reach its library database" in page
    assert "The library database is busy" in page
    assert 'class="topbar"' in page and "Traceback" not in page


def test_an_htmx_fragment_is_a_small_error_when_the_database_is_locked(locked_database):
    response = Client(raise_request_exception=False).get("/library/footer", HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert response.status_code == 503
    assert "<html" not in fragment and "data-reason" in fragment
    assert "The library database is busy" in fragment


@pytest.fixture
def migrated(tmp_path, fake_plex):
    env = {"PLEX_URL": fake_plex.url, "PLEX_TOKEN": fake_plex.token, "DB_BUSY_TIMEOUT": "1"}
    assert _manage(tmp_path, "migrate", "--noinput", **env).returncode == 0
    return env, tmp_path / "data" / "library_cache.db"


@pytest.mark.parametrize("command", [["sync"], ["importplaylist", "PLAYLIST", "--dry-run"]])
def test_the_cli_prints_one_line_and_exits_1_when_the_database_is_locked(migrated, tmp_path, command):
    env, database = migrated
    playlist = tmp_path / "list.m3u"
    playlist.write_text("#EXTM3U\n#EXTINF:200,Björk - Hyperballad\nhyperballad.mp3\n")
    args = [str(playlist) if a == "PLAYLIST" else a for a in command]
    with _locked(database):
        result = _manage(tmp_path, *args, **env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "The library database is busy: another process held it for over 1 s. Try again in a moment."
    ]


def _unwritable_dir(tmp_path):
    """A data dir that cannot be created even by root: its parent is a file."""
    parent = tmp_path / "not-a-dir"
    parent.write_text("")
    return parent / "data"


@pytest.mark.parametrize("command", [["check"], ["migrate", "--noinput"], ["qcluster"]])
def test_an_unwritable_data_dir_stops_start_up_with_one_line_naming_it(tmp_path, command):
    data_dir = _unwritable_dir(tmp_path)
    result = _manage(tmp_path, *command, MEDIASAGE_DATA_DIR=str(data_dir))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"MediaSage cannot start: MEDIASAGE_DATA_DIR {data_dir} is not a writable directory (Not a directory)"
    ]


def test_gunicorn_stops_with_one_line_when_the_data_dir_is_unwritable(tmp_path):
    data_dir = _unwritable_dir(tmp_path)
    result = processes.run(processes.web(0), processes.app_env(data_dir), timeout=60)
    assert result.returncode != 0
    assert f"MEDIASAGE_DATA_DIR {data_dir} is not a writable directory" in result.stderr
    assert "Traceback" not in result.stderr
