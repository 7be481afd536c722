"""The account from the environment, and what `make run` says when there is none: real
`manage.py` processes on a data dir of their own."""

import sqlite3

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from mediasage.tests.test_settings import _manage


def check_password(password, hashed):
    # The processes hash with Django's default, not this directory's quick test hasher.
    return PBKDF2PasswordHasher().verify(password, hashed)


def _users(tmp_path):
    with sqlite3.connect(tmp_path / "data" / "library_cache.db") as db:
        return db.execute("select username, password, is_superuser from auth_user").fetchall()


def test_the_account_from_the_environment_is_made_at_start_and_takes_a_new_password(tmp_path):
    first = _manage(tmp_path, "migrate", MEDIASAGE_USERNAME="alice", MEDIASAGE_PASSWORD="first secret 1")
    assert first.returncode == 0, first.stderr
    assert "Account 'alice' created from MEDIASAGE_USERNAME and MEDIASAGE_PASSWORD" in first.stderr
    ((username, hashed, superuser),) = _users(tmp_path)
    assert username == "alice" and superuser and check_password("first secret 1", hashed)

    again = _manage(tmp_path, "migrate", MEDIASAGE_USERNAME="alice", MEDIASAGE_PASSWORD="second secret 2")
    assert "Account 'alice' updated" in again.stderr
    ((_, hashed, _),) = _users(tmp_path)
    assert check_password("second secret 2", hashed)
    for output in (first.stdout + first.stderr, again.stdout + again.stderr):
        assert "secret" not in output

    # Nothing changes, and nothing is said, when the password is the same.
    quiet = _manage(tmp_path, "migrate", MEDIASAGE_USERNAME="alice", MEDIASAGE_PASSWORD="second secret 2")
    assert "alice" not in quiet.stderr


def test_a_username_without_a_password_is_refused_naming_both(tmp_path):
    result = _manage(tmp_path, "check", MEDIASAGE_USERNAME="alice")
    assert result.returncode != 0
    assert "MEDIASAGE_USERNAME and MEDIASAGE_PASSWORD must be set together" in result.stderr


def test_run_prints_the_first_run_address_until_an_account_exists(tmp_path):
    assert _manage(tmp_path, "migrate").returncode == 0
    result = _manage(tmp_path, "firstrun", "http://localhost:8000")
    assert (
        result.stdout.strip() == "No account yet: create the admin account at http://localhost:8000/first-run"
    )
    assert _users(tmp_path) == []  # it made none

    _manage(tmp_path, "migrate", MEDIASAGE_USERNAME="alice", MEDIASAGE_PASSWORD="first secret 1")
    assert _manage(tmp_path, "firstrun", "http://localhost:8000").stdout == ""
