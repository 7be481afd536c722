import pytest

from library.models import SyncState, Track


@pytest.fixture
def tracks(db):
    Track.objects.create(
        rating_key="1", title="Hyperballad", artist="Björk", album="Post", year=1995, user_rating=10
    )
    Track.objects.create(
        rating_key="2", title="Roxanne (Live)", artist="The Police", album="Live!", year=1995, is_live=True
    )
    Track.objects.create(rating_key="3", title="Unrated Song", artist="Nobody", album="Demo")
    SyncState.objects.create(source="plex", server_name="Living Room", track_count=3)


def test_track_list_shows_columns_and_filters(admin_client, tracks):
    page = admin_client.get("/admin/library/track/").content.decode()
    assert "Hyperballad" in page and "Björk" in page and "★★★★★" in page
    for facet in ("By is live", "By rating", "By year"):
        assert facet in page


def test_track_search_finds_title_artist_and_album(admin_client, tracks):
    for term, expected in [("hyperballad", "Björk"), ("police", "Roxanne"), ("Demo", "Unrated Song")]:
        page = admin_client.get("/admin/library/track/", {"q": term}).content.decode()
        assert expected in page


def test_track_filters_narrow_the_list(admin_client, tracks):
    live = admin_client.get("/admin/library/track/", {"is_live__exact": "1"}).content.decode()
    assert "Roxanne" in live and "Hyperballad" not in live
    unrated = admin_client.get("/admin/library/track/", {"stars": "unrated"}).content.decode()
    assert "Unrated Song" in unrated and "Hyperballad" not in unrated
    five = admin_client.get("/admin/library/track/", {"stars": "5"}).content.decode()
    assert "Hyperballad" in five and "Unrated Song" not in five


def test_admin_is_read_only_and_never_shows_the_token(admin_client, tracks, settings):
    settings.PLEX_TOKEN = "super-secret-token"
    track = Track.objects.get(rating_key="1")
    page = admin_client.get(f"/admin/library/track/{track.pk}/change/").content.decode()
    assert "Hyperballad" in page and 'name="_save"' not in page
    state_page = admin_client.get("/admin/library/syncstate/").content.decode()
    assert "Living Room" in state_page
    for url in ("/admin/library/track/", "/admin/library/syncstate/", "/admin/"):
        assert "super-secret-token" not in admin_client.get(url).content.decode()


def test_task_schedules_cannot_be_added_or_changed_in_the_admin(admin_client, db):
    from django_q.models import Schedule

    schedule = Schedule.objects.create(name="refresh", func="library.tasks.refresh_servers")
    for url in (
        "/admin/django_q/schedule/add/",
        f"/admin/django_q/schedule/{schedule.pk}/change/",
        "/admin/django_q/schedule/",
        "/admin/django_q/success/",
        "/admin/django_q/failure/",
        "/admin/django_q/ormq/",
    ):
        assert admin_client.get(url).status_code in (403, 404), url
    page = admin_client.get("/admin/").content.decode()
    assert "Scheduled tasks" not in page and "django_q" not in page


def test_no_model_in_the_admin_can_be_added_changed_or_deleted_but_the_accounts(admin_client, rf):
    from django.contrib import admin
    from django.contrib.auth.models import User

    request = rf.get("/admin/")
    request.user = User.objects.get(username="admin")
    writable = {
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_add_permission(request)
        or model_admin.has_change_permission(request)
        or model_admin.has_delete_permission(request)
    }
    # The accounts app decides about its own users and groups.
    assert writable <= {"auth.User", "auth.Group"}, writable
    assert {"library.Track", "library.SyncState"} <= {m._meta.label for m in admin.site._registry}
