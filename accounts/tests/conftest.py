import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    # The real hasher takes a good part of a second per check, by design; these tests sign
    # in dozens of times. The gunicorn tests (test_signin_ui.py) use the real one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(django_user_model):
    """The administrator, as the first-run page makes it."""
    return django_user_model.objects.create_superuser("alice", password=PASSWORD)


def sign_in(client, username="alice", password=PASSWORD, next="", **extra):
    return client.post("/login", {"username": username, "password": password, "next": next}, **extra)
