import pytest

from library.live import is_live


@pytest.mark.parametrize(
    ("title", "album"),
    [
        ("Live at Wembley", "Greatest Hits"),
        ("Song (Live)", "Studio Album"),
        ("Roxanne - Live at Budokan", "Outlandos"),
        ("Heroes [Live 1977]", "Heroes"),
        ("1994-05-12: MSG", "Tour Tapes"),
        ("Intro", "1977.06.07 Winterland"),
        ("Track 1", "Live at Wembley Stadium"),
        ("Track 1", "MTV Unplugged in New York"),
        ("Track 1", "Live!"),
        ("Track 1", "Live in Tokyo"),
        ("Track 1", "Neil Young in Concert"),
        ("Track 1", "Bootleg Series Vol. 4"),
        ("Bésame (En Vivo)", "Grandes Éxitos"),
        ("Layla (Unplugged)", "Unplugged Sessions"),
    ],
)
def test_live_recordings_are_detected(title, album):
    assert is_live(title, album)


@pytest.mark.parametrize(
    ("title", "album"),
    [
        ("Alive", "Ten"),
        ("Live Forever", "Definitely Maybe"),
        ("Live and Let Die", "Red Rose Speedway"),
        ("Oliver's Army", "Armed Forces"),
        ("Deliver Us", "Prince of Egypt"),
        ("Livewire", "Shout at the Devil"),
        ("Bootleg", "Bayou Country"),
        ("Stayin' Alive", "Saturday Night Fever"),
        ("Track 1", "Alive & Kicking"),
        ("Piano Concerto No. 1", "Tchaikovsky"),
        ("Released 2011-05", "Delivery"),
        ("", ""),
    ],
)
def test_studio_recordings_are_not_live(title, album):
    assert not is_live(title, album)


def test_server_album_flag_marks_every_track_live():
    assert is_live("Intro", "Some Album", album_is_live=True)
