import codecs
import io
import json
import random
import re
import time
import zipfile
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
    with pytest.raises(PlaylistFormatError, match=r"^This is not a valid CSV file: line 3 is malformed"):
        parse_playlist(data, "x.csv")


# --- JSPF ----------------------------------------------------------------------------------------


def test_jspf_from_listenbrainz():
    playlist = _read("listenbrainz.jspf")
    assert playlist.name == "Weekly Jams for alice, week of 2024-01-01 Mon"
    assert playlist.entries == [
        Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000, mbid="5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01"),
        Entry("YOASOBI", "夜に駆ける", mbid="0c5b2a1e-1d6f-4b2b-9d0a-6c1e7f3a2b11"),
        Entry(
            "Daft Punk feat. Pharrell Williams & Nile Rodgers", "Get Lucky", "Random Access Memories", 369000
        ),
    ]
    assert playlist.skipped_summary() == "1 track skipped: no artist"


def test_jspf_identifier_may_be_one_string_or_a_list():
    recording = "https://musicbrainz.org/recording/5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01"
    tracks = [
        {"creator": "A", "title": "One", "identifier": recording},
        {"creator": "A", "title": "Two", "identifier": ["https://example.com/x", recording.upper()]},
        {
            "creator": "A",
            "title": "Three",
            "identifier": "https://musicbrainz.org/artist/5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01",
        },
    ]
    entries = parse_playlist(json.dumps({"playlist": {"track": tracks}}).encode(), "x.jspf")[1]
    assert [e.mbid for e in entries] == ["5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01"] * 2 + [""]


def test_bare_track_list_is_tolerated():
    data = json.dumps({"track": [{"title": "Creep", "creator": "Radiohead", "duration": "236000"}]}).encode()
    assert parse_playlist(data, "x.json") == ("x", [Entry("Radiohead", "Creep", "", 236000)])


def test_invalid_json_says_where():
    with pytest.raises(PlaylistFormatError, match="not a valid JSPF file: it is not JSON .* line 3, column"):
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


def test_utf16_without_a_bom_is_read():
    data = "Artist,Title\nBjörk,Jóga\n"
    assert parse_playlist(data.encode("utf-16-le"), "x.csv")[1] == [Entry("Björk", "Jóga")]
    assert parse_playlist(data.encode("utf-16-be"), "x.csv")[1] == [Entry("Björk", "Jóga")]


def _zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("road_trip.m3u8", (DATA / "road_trip.m3u8").read_bytes())
    return buffer.getvalue()


# --- XSPF ----------------------------------------------------------------------------------------


def test_xspf_with_recording_ids_and_location_only_tracks_skipped():
    playlist = _read("evening.xspf")
    assert playlist.name == "Evening Walk"
    assert playlist.entries == [
        Entry("Nick Drake", "Pink Moon", "Pink Moon", 124000, mbid="4b0a4c9e-0d85-4a53-8d4e-7c6c2a1b3f10"),
        Entry("Sigur Rós", "Hoppípolla"),
    ]
    assert playlist.skipped_summary() == (
        "1 track skipped: only a location, no artist or title; 1 track skipped: no artist"
    )


def test_xspf_is_recognised_by_content_whatever_the_name():
    data = (DATA / "evening.xspf").read_bytes()
    assert parse_playlist(data, "download")[1] == parse_playlist(data, "evening.jspf")[1]
    assert len(parse_playlist(data.replace(b' xmlns="http://xspf.org/ns/0/"', b""), "x.xspf")[1]) == 2


def test_xspf_declaring_a_dtd_is_refused_before_any_entity_expands():
    bomb = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 9))
    data = (
        '<?xml version="1.0"?><!DOCTYPE playlist [<!ENTITY e0 "xspf">' + bomb + "]>"
        "<playlist><trackList><track><creator>&e8;</creator><title>x</title></track></trackList></playlist>"
    ).encode()
    with pytest.raises(PlaylistFormatError, match=r"^This is not a valid XSPF file: it declares a DTD"):
        parse_playlist(data, "bomb.xspf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"<playlist><trackList><track>",
            "not a valid XSPF file: it is not well-formed XML (line 1, column 29)",
        ),
        (
            b"<playlist><title>x</title></playlist>",
            "not a valid XSPF file: it has no <playlist> with a <trackList>",
        ),
        (b"<rss><channel/></rss>", "not a valid XSPF file: it is an XML document, not an XSPF playlist"),
        (b"<playlist><trackList/></playlist>", "No tracks could be read from x.xspf: the file has no tracks"),
    ],
)
def test_broken_xspf_says_what_is_wrong(data, message):
    with pytest.raises(PlaylistFormatError, match=re.escape(message)):
        parse_playlist(data, "x.xspf")


def test_isrc_is_kept_without_dashes_in_capitals():
    playlist = read_playlist(b"artist,title\nA,B\n", "x.csv")
    playlist.add("Daft Punk", "Get Lucky", isrc=" us-qx9-13-00108 ")
    assert playlist.entries[-1].isrc == "USQX91300108"


_HTML = b"<!DOCTYPE html>\n<html><head><title>My playlist</title></head>\n<body><a href='a.mp3'>A - B</a>"
_XSPF = b'<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/">'

# (file name, content, the message a user sees)
MALFORMED = [
    ("empty.csv", b"", "This is not a valid CSV file: it is empty."),
    ("blank.m3u", b"  \r\n\n\t ", "This is not a valid M3U file: it is empty."),
    ("bom.m3u8", codecs.BOM_UTF8 + b"\r\n", "This is not a valid M3U file: it is empty."),
    ("bom16.csv", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le"), "not a valid CSV file: it is empty."),
    ("noise.csv", random.Random(4).randbytes(3000), "This is not a valid CSV file: it is binary data"),
    (
        "cover.m3u",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        "not a valid M3U file: it is binary",
    ),
    ("noise", random.Random(5).randbytes(500), "not a valid M3U, CSV, JSPF or XSPF file: it is binary data"),
    ("mix.m3u", _zip(), "This is not a valid M3U file: it is a zip archive: unzip it"),
    ("page.m3u", _HTML, "This is not a valid M3U file: it is a web page (HTML)"),
    ("page.txt", _HTML.lower(), "not a valid M3U, CSV, JSPF or XSPF file: it is a web page"),
    ("mix.jspf", _XSPF, "This is not a valid XSPF file: it is not well-formed XML (line 2, column"),
    (
        "late-nul.csv",
        b"artist,title\n" + b"A,B\n" * 2000 + b"C,\x00D\n",
        "not a valid CSV file: it is binary",
    ),
    ("deep.jspf", b"[" * 100_000 + b"]" * 100_000, "This is not a valid JSPF file: it is nested too deeply"),
    ("deep.json", b'{"playlist": ' * 50_000, "This is not a valid JSPF file: it is nested too deeply"),
    (
        "long.jspf",
        b'{"track": [{"duration": ' + b"9" * 5000 + b"}]}",
        "not a valid JSPF file: it holds a number",
    ),
    (
        "text.jspf",
        b"#EXTM3U\n#EXTINF:1,A - B\na.mp3\n",
        "This is not a valid JSPF file: it is not JSON (Expecting",
    ),
    (
        "dict.jspf",
        b'{"playlist": {"track": {"title": "B"}}}',
        'not a valid JSPF file: it has no "playlist" object',
    ),
    ("list.jspf", b'{"playlist": [1, 2]}', 'This is not a valid JSPF file: it has no "playlist" object'),
    ("nums.jspf", b'{"track": [{"creator": 1, "title": {"a": 2}}, 7, null]}', "No tracks could be read from"),
    (
        "huge.csv",
        b'artist,title\nA,"' + b"x" * 200_000 + b'"\n',
        "CSV file: line 2 is malformed (field larger",
    ),
    ("huge", b"x" * 200_000 + b",y\n", "not a valid CSV file: line 1 is malformed"),
]


@pytest.mark.parametrize(("name", "data", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_refused_with_a_message_saying_why(name, data, message):
    with pytest.raises(PlaylistFormatError, match=re.escape(message)):
        read_playlist(data, name)


def test_numbers_and_objects_where_jspf_has_text_are_skipped():
    data = b'{"track": [{"creator": "A", "title": "B", "duration": {"ms": 1}}, {"creator": 2, "title": "C"}]}'
    playlist = read_playlist(data, "x.jspf")
    assert playlist.entries == [Entry("A", "B")]
    assert playlist.skipped_summary() == "1 track skipped: no artist"


def test_lengths_no_track_has_are_dropped():
    m3u = b"#EXTINF:" + b"9" * 400 + b",A - B\na.mp3\n#EXTINF:-1,C - D\nc.mp3\n"
    assert [e.duration_ms for e in read_playlist(m3u, "x.m3u").entries] == [None, None]
    csv_data = b"artist,title,duration,duration_ms\nA,B,inf,nan\nC,D,1e999:1,-5\nE,F,4:13,\n"
    assert [e.duration_ms for e in read_playlist(csv_data, "x.csv").entries] == [None, None, 253000]


def test_more_entries_than_the_maximum_are_refused_naming_both():
    m3u = "#EXTM3U\n" + "".join(f"#EXTINF:200,Artist {i} - Song {i}\n/m/{i}.mp3\n" for i in range(25))
    assert len(read_playlist(m3u.encode(), "x.m3u", max_entries=25).entries) == 25
    with pytest.raises(PlaylistFormatError, match=r"has 25 entries, .* at most 24 at a time"):
        read_playlist(m3u.encode(), "x.m3u", max_entries=24)
    rows = "".join(f"Artist {i},Song {i}\n" for i in range(30))
    with pytest.raises(PlaylistFormatError, match="has 30 entries"):
        read_playlist(f"artist,title\n{rows}".encode(), "x.csv", max_entries=10)
    tracks = [{"creator": f"A{i}", "title": f"S{i}"} for i in range(12)]
    with pytest.raises(PlaylistFormatError, match="has 12 entries"):
        read_playlist(json.dumps({"playlist": {"track": tracks}}).encode(), "x.jspf", max_entries=10)


def test_the_maximum_defaults_to_the_setting(settings):
    settings.IMPORT_MAX_ENTRIES = 3
    rows = "".join(f"Artist {i},Song {i}\n" for i in range(4))
    with pytest.raises(
        PlaylistFormatError, match=r"has 4 entries, and MediaSage imports at most 3 .*IMPORT_MAX_"
    ):
        read_playlist(f"artist,title\n{rows}".encode(), "x.csv")


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
