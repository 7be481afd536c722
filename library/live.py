"""Is a track a live recording? Decided once at sync time from title and album.

"live" is also a common verb and adjective in studio titles ("Live and Let Die",
"Live Forever", "Long Live", "Live Through This"), so a bare keyword match is
wrong both ways. The rules read "live" as a recording tag only where it is used
as one: in brackets or after a dash ("Song (Live at Wembley, 1986)", "Song - Live"),
never right after a word that makes it a verb ("we live", "to live", "long live"),
and followed by the end, punctuation, a year or a place ("Live 1975-85", "Live in
Tokyo"). Album titles are read more loosely, since a whole album is named for
how it was recorded: "Live" alone or as a prefix ("Live Rust", "Live/Dead",
unless a verb's object follows: "Live It Up"), "<Band> Live", Kiss-style "Alive!",
a show date (1977-05-08, 5/8/77, 12.31.95, 8 May 1977), a well-known venue
("At Folsom Prison", "Cheap Trick at Budokan", "Fillmore East - June 1971"),
"Unplugged", "Concert" (not the classical "Concert Suite"), the Grateful Dead and
Pearl Jam archive series, and the words other languages use ("en vivo", "ao vivo",
"en directo", "dal vivo", "in concerto", "enregistrement public", "ライブ").
An album titled exactly like the track is a single, so it gets the track rules.

Where a shape is truly ambiguous the rules choose precision (a studio track
shown as live is worse than a live one missed). Deliberately left studio:
- titles that name no recording: "Stop Making Sense", "Made in Japan", "Europe '72",
  "Strangers in the Night" (UFO live, Sinatra studio), "No Sleep 'til Hammersmith";
  only the server's own word (server_says_live, e.g. Plex's "Live" album type) can catch these;
- radio sessions ("BBC Sessions", "The Peel Sessions", "At the BBC"): recorded in
  the BBC's studios, not in front of an audience ("Live at the BBC" still counts);
- "Bootleg" alone (a studio album, and EDM's word for an unofficial remix) and
  "The Bootleg Series", most of whose volumes are studio outtakes (the live ones
  say "Live 1966" and are caught by that);
- a city and a year ("Paris 1919" is a studio album), year ranges ("1967-1970"),
  a month without a day ("June 1971"), and month-name dates in track titles
  ("April 29, 1992 (Miami)" is a studio song);
- German "Konzert" and Russian "концерт" alone, which also mean "concerto";
  bare "Concertgebouw" (also an orchestra's name; "at the Concertgebouw" counts).
Known false positives, kept because the same shape is overwhelmingly live: hip-hop
titles such as "Live from the Underground", and a single named "Live in the Moment"
when its album title differs from the track's (" - Single").
"""

import re

_FLAGS = re.IGNORECASE


def _not_after(*words):
    # Put after "live": one fixed-width look-behind per word, since Python's can't alternate
    # lengths, and checked only once "live" has matched, since they are slow to try everywhere
    return "".join(rf"(?<!\b{re.escape(w)}\slive)" for w in words)


# A word before "live" that makes it a verb: "we live", "to live", "long live", "let me live"
_NOT_A_VERB = _not_after(
    "i", "we", "you", "they", "he", "she", "it", "me", "us", "them", "who", "that", "where", "how",
    "to", "let", "let's", "long", "or", "not", "never", "ever", "still", "always", "dare",
    "shall", "will", "must", "can", "could", "would", "should", "may", "might",
    "i'll", "we'll", "you'll", "they'll", "gotta", "wanna",
)  # fmt: skip
# What follows a "live" used as a tag: the end, punctuation, a year, a place or a kind of take
_TAG_END = (
    r"(?=\s*(?:$|[)\]}/,;:!@.\-\u2013\u2014]|'?\d"
    r"|(?:at|from|in|on|aus|au|à|en|im|bei|version|edit|recording|session|performance"
    r"|take|track|set|show|vocal|mix|band|acoustic|unplugged)\b))"
)
_LIVE_TAG = rf"\blive{_NOT_A_VERB}{_TAG_END}"
# Words that mean "live" wherever they are tagged on
_WORDS = r"unplugged|in\s+concerto?|en\s+(?:vivo|directo|concierto|public|concert)|ao\s+vivo|dal\s+vivo|sbd"
# Japanese has no word boundaries, and ライブラリ is "library"
_KANA = r"ライ[ブヴ](?!ラリ)"
_LIVE_WORDS = rf"(?:\b(?:{_WORDS})\b|{_KANA})"
# Show dates as tapers and archive releases write them: 1977-05-08, 1969/12/31, 1977.06.07
_ISO_DATE = r"\b(?:19|20)\d\d(?P<iso>[-./])(?:0?[1-9]|1[0-2])(?P=iso)(?:0?[1-9]|[12]\d|3[01])\b"
# 5/8/77, 12.31.95, 31.12.1995: three parts, so "7/11" and "19/2000" are not dates
_SHORT_DATE = r"\b(?:0?[1-9]|[12]\d|3[01])(?P<sep>[-./])(?:0?[1-9]|[12]\d|3[01])(?P=sep)(?:19|20)?\d\d\b"

_MARKED_PARTS = (
    rf"[(\[][^)\]]*?(?:{_LIVE_TAG}|{_LIVE_WORDS})",  # "(Live)", "[Live 1977]", "(En Vivo)"
    rf"(?:\s[-\u2013\u2014]|:)\s.*?(?:{_LIVE_TAG}|{_LIVE_WORDS})",  # "- Live", "- 2011 Remaster / Live"
    rf"\blive{_NOT_A_VERB}\s*(?:(?:at|from)\b|@)",  # "Live at Wembley", "Live @ KEXP"
    _ISO_DATE,
    _SHORT_DATE,
)
_MARKED = re.compile("|".join(_MARKED_PARTS), _FLAGS)

# Words that follow "live" the verb, not "live" the recording: "Live It Up", "Live to Tell",
# "Live Through This", "Live and Let Die" (but "Live and Dangerous"), "Live On" alone
_VERB_FOLLOWS = (
    r"\s+(?:(?:a|an|the|it|its|this|that|my|your|his|her|our|their|me|you|us|them|him|is|was"
    r"|for|to|through|thru|with|without|by|like|or|forever|fast|slow|hard|free|young|wild|long"
    r"|right|well|now|again|today|tonight|together|alone|apart|inside|out|up|once|twice|more"
    r"|life|laugh|love|learn|let|die|wire|action)\b"
    r"|(?:and|&)\s+(?!(?:dangerous|loud|direct|uncut|unleashed|electric|acoustic|unplugged|rare)\b)"
    r"|on\s*$)"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
# Venues whose name alone says "concert recording"
_VENUES = (
    r"fillmore\s+(?:east|west)|budokan|winterland|hammersmith\s+odeon|carnegie\s+hall"
    r"|royal\s+albert\s+hall|madison\s+square\s+garden|red\s+rocks|village\s+vanguard"
    r"|hollywood\s+bowl|massey\s+hall|knebworth"
)
# Venues that are also song or album names ("Birdland", "Woodstock", "Apollo",
# "Folsom Prison Blues"), so only "at <venue>" counts
_VENUES_AFTER_AT = (
    r"fillmore|apollo|olympia|wembley|newport|montreux|town\s+hall|folsom\s+prison|san\s+quentin"
    r"|woodstock|monterey|glastonbury|isle\s+of\s+wight|birdland|paradiso|concertgebouw|ryman"
)
# "Concert" as a noun, not as the classical "Concert Suite" or "Études de concert",
# nor a baroque ensemble ("Le Concert des Nations")
_CONCERT = (
    r"(?<!\bde\s)(?<!\ble\s)concert\b(?!\s+(?:suite|[eé]tudes?|arias?|overtures?|pieces?|fantas\w*"
    r"|band|march|waltz|variations|paraphrase|romance|rondo|allegro|champ[eê]tre|rom[aâ]nesc)\b)"
)

# Album shapes that start a word: listed under one \b, which makes the search twice as fast
_ALBUM_WORDS = (
    # "Eagles Live", "Bob Marley & The Wailers Live!", "The Wall Live 1980-81", "Mina Live '78"
    rf"live{_NOT_A_VERB}(?=\s*(?:[!.]?\s*$|'?\d|(?:in|on|aus|au|à|en)\s+\S))",
    r"comes\s+alive\b",  # "Frampton Comes Alive!"
    rf"(?:{_VENUES})\b",
    rf"(?:at|à)\s*(?:the\s+|l')?(?:{_VENUES_AFTER_AT})\b",
    rf"(?:{_WORDS})\b",
    _CONCERT,
    r"концерт\s+(?:в|на)\b",  # "concert in/at"; "концерт для" is a concerto
    r"(?:double\s+live|on\s+stage|official\s+bootleg|enregistrement\s+public"
    r"|dick[’']?s\s+picks|dave[’']?s\s+picks|road\s+trips\s+vol)",  # archive series
    rf"{_ORDINAL}\s+(?:of\s+)?{_MONTH}\s*,?\s+(?:19|20)\d\d\b",  # "8 May 1977"
    rf"{_MONTH}\s+{_ORDINAL},?\s+(?:19|20)\d\d\b",  # "May 8, 1977"
)
# Album titles: every track marker, and the shapes only an album title has
_LIVE_ALBUM = re.compile(
    "|".join(
        (
            *_MARKED_PARTS,
            rf"^\W*live\b(?!{_VERB_FOLLOWS})",  # "Live", "Live!", "Live Rust", "Live 1975-85", "Live/Dead"
            r"^\W*alive(?:\s*!|\s+(?:ii|iii|iv|(?:19|20)\d\d)\b|\s+(?:in|at)\s)",  # "Alive!", "Alive II"
            rf"\b(?:{'|'.join(_ALBUM_WORDS)})",
            rf"@\s*(?:the\s+)?(?:{_VENUES_AFTER_AT})\b",
            "武道館",  # Budokan
            _KANA,
        )
    ),
    _FLAGS,
)


def is_live(title, album, server_says_live=False):
    """True for a live recording. server_says_live is the server's own word for
    it, when it has one (Plex marks albums with a "Live" subformat)."""
    title = title or ""
    album = album or ""
    return bool(
        server_says_live
        or _MARKED.search(title)
        # a single's album title is the song's title: read it as one
        or (_MARKED if album == title else _LIVE_ALBUM).search(album)
    )
