import codecs
import json
import random
import time
from pathlib import Path

import pytest

from playlists.importers import Entry, PlaylistFormatError, parse_playlist, read_playlist

DATA = Path(__file__).parent / "data"


def _read(name):
    return read_playlist((DATA / name).read_bytes(), name)


# --- M3U -----------------------------------------------------------------------------------------


def test_m3u8_with_extinf_and_unicode():
    name, entries = parse_playlist((DATA / "road_trip.m3u8").read_bytes(), "road_trip.m3u8")
    assert name == "Road Trip ☀"
    assert entries == [
        Entry("Beyoncé", "Halo", "I Am... Sasha Fierce", 253000),
        Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000),
        Entry("坂本龍一", "戦場のメリークリスマス", "戦場のメリークリスマス", 276000),
        # The file URL's folders are home/me/Music/Кино: no Artist/Album tree, so no album.
        Entry("Кино", "Группа крови", "", 286000),
        # Split on the first " - ": the rest belongs to the title.
        Entry("Queen", "Bohemian Rhapsody - Live at Wembley Stadium", "", 291000),
        Entry("Oasis", "Wonderwall", "Morning Glory", None),
        Entry("The Killers", "Mr. Brightside", "", 222000),
    ]


def test_m3u_with_paths_only():
    playlist = _read("paths.m3u")
    assert playlist.name == "paths"
    assert playlist.entries == [
        Entry("Radiohead", "Airbag", "OK Computer"),
        Entry("Radiohead", "Paranoid Android", "OK Computer"),
        Entry("Daft Punk", "Digital Love", "Discovery"),
        Entry("Daft Punk", "One More Time"),
        Entry("Queen", "Bohemian Rhapsody", "A Night at the Opera"),
        Entry("Oasis", "Wonderwall", "(What's the Story) Morning Glory"),
        Entry("Pearl Jam", "Alive - Live", "Ten"),
        Entry("Nirvana", "Lithium"),
        Entry("Björk", "Jóga", "Homogenic"),
    ]
    assert playlist.skipped_summary() == "1 line skipped: no artist"


def test_extinf_without_a_dash_is_the_title():
    text = "#EXTM3U\n#EXTINF:200,Intro\nMusic/The xx/xx/01 Intro.flac\n"
    assert parse_playlist(text.encode(), "a.m3u")[1] == [Entry("The xx", "Intro", "xx", 200000)]


def test_extinf_with_an_en_dash():
    text = "#EXTM3U\n#EXTINF:200,Sigur Rós – Hoppípolla\nx.flac\n"
    assert parse_playlist(text.encode(), "a.m3u8")[1] == [Entry("Sigur Rós", "Hoppípolla", "", 200000)]


def test_m3u_without_any_track_is_an_error():
    with pytest.raises(PlaylistFormatError, match="No tracks could be read from empty.m3u"):
        parse_playlist(b"#EXTM3U\n#PLAYLIST:Nothing here\n", "empty.m3u")


# --- CSV -----------------------------------------------------------------------------------------


def test_exportify_csv():
    playlist = _read("exportify.csv")
    assert playlist.entries == [
        Entry(
            "Daft Punk, Pharrell Williams, Nile Rodgers",
            "Get Lucky (feat. Pharrell Williams and Nile Rodgers) - Radio Edit",
            "Get Lucky (feat. Pharrell Williams and Nile Rodgers) [Radio Edit]",
            248413,
        ),
        Entry("Daft Punk", "Harder, Better, Faster, Stronger", "Discovery", 224693),
        Entry("Beyoncé", "Halo", "I AM...SASHA FIERCE", 261640),
        Entry("Queen", "Bohemian Rhapsody - Remastered 2011", "A Night At The Opera (2011 Remaster)", 354320),
    ]
    assert playlist.name == "exportify"
    assert playlist.skipped_summary() == "1 line skipped: no artist"


def test_older_exportify_columns():
    # Exportify before 2024: "Album Artist Name(s)" must not be taken for the artist.
    text = (
        '"Track URI","Track Name","Artist URI(s)","Artist Name(s)","Album URI","Album Name",'
        '"Album Artist URI(s)","Album Artist Name(s)","Album Release Date","Disc Number",'
        '"Track Number","Track Duration (ms)"\n'
        '"spotify:track:1","Freedom (feat. Kendrick Lamar)","a,b","Beyoncé,Kendrick Lamar","x","Lemonade",'
        '"a","Beyoncé","2016-04-23","1","10","289720"\n'
    )
    entries = parse_playlist(text.encode(), "liked.csv")[1]
    assert entries == [Entry("Beyoncé, Kendrick Lamar", "Freedom (feat. Kendrick Lamar)", "Lemonade", 289720)]


def test_tunemymusic_csv_names_the_playlist():
    name, entries = parse_playlist((DATA / "tunemymusic.csv").read_bytes(), "My Spotify Library.csv")
    assert name == "Sunday Morning"
    assert entries == [
        Entry("Fleetwood Mac", "Dreams", "Rumours"),
        Entry("Massive Attack", "Teardrop", "Mezzanine"),
        Entry("Jeff Buckley", "Lover, You Should've Come Over", "Grace"),
        Entry("Кино", "Кукушка", "Звезда по имени Солнце"),
    ]


def test_semicolon_csv_saved_by_excel_in_cp1252():
    assert _read("semicolon.csv").entries == [
        Entry("Beyoncé", "Halo", "I Am... Sasha Fierce"),
        Entry("Motörhead", "Ace of Spades", "Ace of Spades"),
        Entry("Édith Piaf", "Non, je ne regrette rien", "La Vie en rose"),
    ]


def test_tab_separated_utf16_itunes_export():
    text = "Name\tArtist\tComposer\tAlbum\tTime\r\nJóga\tBjörk\t\tHomogenic\t305\r\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    assert parse_playlist(data, "Library.txt")[1] == [Entry("Björk", "Jóga", "Homogenic", 305000)]


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("artist,title,album", "Radiohead,Creep,Pablo Honey"),
        ("ARTIST,TITLE,ALBUM", "Radiohead,Creep,Pablo Honey"),
        ("Song,Artist,Album", "Creep,Radiohead,Pablo Honey"),
        ("Name,Artist,Album", "Creep,Radiohead,Pablo Honey"),
        ("Title;Artist;Album", "Creep;Radiohead;Pablo Honey"),
    ],
)
def test_csv_headers_are_recognised_case_insensitively(header, row):
    data = f"{header}\n{row}\n".encode()
    assert parse_playlist(data, "x.csv")[1] == [Entry("Radiohead", "Creep", "Pablo Honey")]


def test_csv_duration_as_minutes_and_seconds():
    data = b"Artist,Title,Duration\nRadiohead,Creep,3:56\nRadiohead,Airbag,284\n"
    assert [e.duration_ms for e in parse_playlist(data, "x.csv")[1]] == [236000, 284000]


def test_rows_without_artist_or_title_are_skipped_and_counted():
    data = b"artist,title\n,Creep\nRadiohead,Airbag\n,Lucky\n,Karma Police\nRadiohead,\n,,\n"
    playlist = read_playlist(data, "x.csv")
    assert playlist.entries == [Entry("Radiohead", "Airbag")]
    assert playlist.skipped_summary() == "3 lines skipped: no artist; 1 line skipped: no title"


def test_csv_without_an_artist_column_names_the_columns_it_found():
    data = b"Track,Album,Year\nCreep,Pablo Honey,1993\n"
    with pytest.raises(PlaylistFormatError) as error:
        parse_playlist(data, "x.csv")
    message = str(error.value)
    assert message.startswith("Line 1: no artist and title columns")
    assert '"Track", "Album", "Year"' in message


def test_a_long_first_row_is_shortened_in_the_message():
    with pytest.raises(PlaylistFormatError) as error:
        parse_playlist(b"x" * 5000 + b"," * 50 + b"\n", "x.csv")
    assert len(str(error.value)) < 400


def test_malformed_csv_says_which_line():
    data = b'artist,title\nRadiohead,Creep\nRadiohead,"Airbag\n'
    with pytest.raises(PlaylistFormatError, match=r"^Line \d+: this CSV is malformed"):
        parse_playlist(data, "x.csv")


# --- JSPF ----------------------------------------------------------------------------------------


def test_jspf_from_listenbrainz():
    playlist = _read("listenbrainz.jspf")
    assert playlist.name == "Weekly Jams for alice, week of 2024-01-01 Mon"
    assert playlist.entries == [
        Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000),
        Entry("YOASOBI", "夜に駆ける"),
        Entry(
            "Daft Punk feat. Pharrell Williams & Nile Rodgers", "Get Lucky", "Random Access Memories", 369000
        ),
    ]
    assert playlist.skipped_summary() == "1 track skipped: no artist"


def test_bare_track_list_is_tolerated():
    data = json.dumps({"track": [{"title": "Creep", "creator": "Radiohead", "duration": "236000"}]}).encode()
    assert parse_playlist(data, "x.json") == ("x", [Entry("Radiohead", "Creep", "", 236000)])


def test_invalid_json_says_where():
    with pytest.raises(PlaylistFormatError, match="not valid JSON: .* line 3, column"):
        parse_playlist(b'{"playlist": {\n  "title": "x",\n  "track": [,]\n}}', "x.jspf")


def test_json_that_is_not_a_playlist():
    with pytest.raises(PlaylistFormatError, match='no "playlist" object with a "track" list'):
        parse_playlist(b'{"tracks": []}', "x.json")


# --- bytes and formats ---------------------------------------------------------------------------


def test_utf8_bom_is_dropped():
    data = codecs.BOM_UTF8 + "Artist,Title\nBjörk,Jóga\n".encode()
    assert parse_playlist(data, "x.csv")[1] == [Entry("Björk", "Jóga")]


def test_utf16_with_bom():
    data = "#EXTM3U\n#EXTINF:100,Кино - Кукушка\nx.mp3\n".encode("utf-16")
    assert parse_playlist(data, "x.m3u")[1] == [Entry("Кино", "Кукушка", "", 100000)]


def test_latin1_text():
    data = "Artist,Title,Album\nSigur Rós,Hoppípolla,Takk...\nMötley Crüe,Dr. Feelgood,Dr. Feelgood\n".encode(
        "latin-1"
    )
    assert parse_playlist(data, "x.csv")[1] == [
        Entry("Sigur Rós", "Hoppípolla", "Takk..."),
        Entry("Mötley Crüe", "Dr. Feelgood", "Dr. Feelgood"),
    ]


@pytest.mark.parametrize(
    ("data", "entries"),
    [
        (b"#EXTM3U\n#EXTINF:1,Radiohead - Creep\nc.mp3\n", [Entry("Radiohead", "Creep", "", 1000)]),
        (b"Music/Radiohead/Pablo Honey/02 Creep.mp3\n", [Entry("Radiohead", "Creep", "Pablo Honey")]),
        (b"artist;title\nRadiohead;Creep\n", [Entry("Radiohead", "Creep")]),
        (
            b'{"playlist": {"track": [{"creator": "Radiohead", "title": "Creep"}]}}',
            [Entry("Radiohead", "Creep")],
        ),
    ],
)
def test_format_is_sniffed_without_a_known_extension(data, entries):
    assert parse_playlist(data, "download")[1] == entries


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\n\t ", "The file is empty."),
        (random.Random(4).randbytes(3000), "This is not a text file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "This is not a text file"),
    ],
)
def test_garbage_is_refused_with_a_message(data, message):
    with pytest.raises(PlaylistFormatError, match=message):
        parse_playlist(data, "playlist.csv")


def test_ten_thousand_entries_are_read_quickly():
    rows = "\n".join(f"Artist {i},Song {i},Album {i // 10},{200000 + i}" for i in range(10_000))
    csv_data = f"artist,title,album,duration_ms\n{rows}\n".encode()
    m3u_data = "#EXTM3U\n" + "".join(
        f"#EXTINF:{200 + i % 100},Artist {i} - Song {i}\n/music/Artist {i}/Album/{i % 20:02} Song {i}.flac\n"
        for i in range(10_000)
    )
    started = time.perf_counter()
    assert len(parse_playlist(csv_data, "big.csv")[1]) == 10_000
    assert len(parse_playlist(m3u_data.encode(), "big.m3u8")[1]) == 10_000
    assert time.perf_counter() - started < 2
