"""A deterministic, realistic music library for the fake Plex server.

Same arguments, same library: everything comes from one seeded random.Random, and the
timestamps hang off a fixed date rather than the clock. Only the mutation methods
(add/remove/change) stamp the wall clock, as a real server would.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

# Generated timestamps lie in the four years before this fixed date. It is in the past,
# so wall-clock stamps from later mutations are always newer than anything generated.
EPOCH = 1735689600  # 2025-01-01T00:00:00Z
_DAY = 86400
_YEAR = 365 * _DAY


@dataclass(slots=True)
class Artist:
    key: int
    title: str
    genres: list[str]
    added_at: int
    updated_at: int


@dataclass(slots=True)
class Album:
    key: int
    title: str
    artist_key: int
    year: int | None
    genres: list[str]
    added_at: int
    updated_at: int
    truth_live: bool = False


@dataclass(slots=True)
class Track:
    rating_key: int
    title: str
    album_key: int
    artist_key: int  # the album artist (grandparentRatingKey)
    track_artist: str | None  # originalTitle, only when it differs from the album artist
    duration_ms: int
    user_rating: float | None
    added_at: int
    updated_at: int
    index: int
    disc: int
    view_count: int
    last_viewed_at: int | None
    last_rated_at: int | None
    truth_live: bool  # ground truth for live detectors: live album, or a title marked live
    # The track's own genres, which newer Plex servers hold (python-plexapi PR #1318);
    # most tracks have none and take their album's.
    genres: list[str] = field(default_factory=list)


# One track in this many (by key, so a track keeps it however the library changes) has
# no MusicBrainz recording id in its tags; the others have one, the same on both fakes.
UNTAGGED_EVERY = 8
_MUSICBRAINZ = uuid.UUID("1b671a64-40d5-491e-99b0-da01ff1f3341")  # any fixed namespace


def recording_mbid(track):
    """The MusicBrainz recording id a track's file is tagged with, or ""."""
    if track.rating_key % UNTAGGED_EVERY == 0:
        return ""
    return str(uuid.uuid5(_MUSICBRAINZ, f"recording:{track.rating_key}"))


def _words(text):
    # Word lists are "|"-separated strings: names contain spaces and commas.
    return [w.strip() for w in text.split("|")]


# Names that exercise escaping and Unicode handling; they come first in every library.
_SPECIAL_ARTISTS = _words(
    "Björk | Sigur Rós | Motörhead | 坂本龍一 | Кино | Guns N' Roses | AC/DC | Simon & Garfunkel"
    ' | Dave "The Rave" Jones | Hüsker Dü | 宇多田ヒカル | Röyksopp | Earth, Wind & Fire | Мумий Тролль'
    " | <Bracket> Kids | 🦊 Fox Club | Múm | 방탄소년단"
)
_FIRST = _words(
    "Anna | Björn | Zoë | José | Amélie | Søren | Łukasz | Chloé | Mateo | Aiko | Dmitri | Nina | Oskar"
    " | Inès | Kwame | Priya | Yuki | Ramón | Élodie | Tomás | Ingrid | Mei | Rafael | Sinéad | Jürgen"
    " | Ólafur | Fatoumata | Kenji | Leïla | Sam"
)
_LAST = _words(
    "Ångström | Müller | Nakamura | O'Brien | Petrović | Dubois | García | Kowalski | Lindqvist | Okafor"
    " | Sørensen | Novák | Rossi | Ødegaard | Haddad | Fernández | Çelik | Kim | MacLeod | Schröder"
    " | van der Berg | Silva | Jónsdóttir | Ivanova | Moreau | D'Angelo | Costa | Hansen | Tanaka | Núñez"
)
_ADJ = _words(
    "Velvet | Electric | Silent | Crimson | Golden | Broken | Wild | Neon | Hollow | Paper | Midnight"
    " | Black | Lonely | Cosmic | Northern | Lazy | Burning | Frozen | Glass | Iron | Sonic | Secret"
    " | Atomic | Little | Holy | Violet | Savage | Gentle | Radio | Stone"
)
_BAND = _words(
    "Foxes | Harbour | Engines | Tigers | Satellites | Ghosts | Lanterns | Rivers | Owls | Pilots"
    " | Mirrors | Wolves | Machines | Sparrows | Kings | Daughters | Horses | Orchestra | Collective"
    " | Brothers | Sisters | Society | Club | Parade | Circus | Garden | Sound System | Express | Union"
)
_NOUN = _words(
    "Heart | River | Fire | Summer | Light | Rain | Night | Road | Dream | Ocean | Star | Shadow"
    " | Morning | Train | Window | Garden | Home | Sky | Storm | Ghost | Paradise | Memory | Silence"
    " | Echo | Angel | Diamond | City | Thunder | Mirror | Desert"
)
_PREP = ["Through", "Into", "Under", "Across"]
_VERB = _words("Running | Falling | Dancing | Waiting | Burning | Dreaming | Calling | Breaking | Chasing")
_SPECIAL_ALBUMS = _words(
    '"Heroes" | Ágætis byrjun | 戦場のメリークリスマス | Группа крови | Love/Hate | <Untitled>'
    " | Rock & Roll Über Alles | Don't Look Back | Café Society | 😀 Emoji Party | Ça ira | Smörgåsbord"
)
_SPECIAL_TRACKS = _words(
    "Jóga | Hoppípolla | Ça plane pour moi | Über den Wolken | Señorita | Звезда по имени Солнце"
    " | 夜に駆ける | Rock 'n' Roll Suicide | \"Heroes\" | <Intro> | Tom's Diner | Q&A | 50/50"
    ' | 🔥 Fire 🔥 | L\'été indien | Naïve | Kalinka (Калинка) | AC/DC & Me | She Said "No"'
    " | It's a <Secret>"
)
# Studio songs and albums that a keyword live-detector gets wrong.
STUDIO_TRAP_TITLES = _words("Alive | Live and Let Die | Live Forever | Oliver's Army | Deliver Us | Livewire")
STUDIO_TRAP_ALBUMS = ["Alive & Kicking"]
_LIVE_TRACK_FORMS = ["{} (Live)", "{} - Live at Budokan", "{} [Live 1977]"]
_LIVE_ALBUM_FORMS = _words(
    "Live at Wembley Stadium | MTV Unplugged in New York (Live) | {date}: Madison Square Garden"
    " | Live in Tokyo | Live at the Royal Albert Hall | {date}: {venue}"
)
_VENUES = _words(
    "Budokan | Olympia, Paris | Roskilde Festival | Red Rocks Amphitheatre | Hammersmith Odeon"
    " | Paradiso, Amsterdam"
)
_COMPILATION_FORMS = _words(
    "Now That's What I Call Music! {n} | Café del Mar, Vol. {n} | The Best of the {decade}s"
    " | Original Soundtrack: {adj} {noun} | Pure {genre} | Ministry of Sound: {noun} Sessions"
)
_GENRE_BASES = _words(
    "Rock | Pop | Electronic | Jazz | Hip-Hop | Folk | Metal | Soul | Funk | House | Techno | Ambient"
    " | Blues | Country | Punk | Disco | Trance | Reggae | R&B | Classical | Gospel | Grunge | Shoegaze"
    " | Dub | Garage | Swing | Bossa Nova | Salsa | Cumbia | Afrobeat | Ska | Emo | Hardcore"
    " | Drum & Bass | Trip-Hop | Synthpop | New Wave | Krautrock | Lo-Fi | Bluegrass | Breakbeat"
    " | Downtempo | Drone | Noise | Industrial | Chiptune | Chanson | Fado | Tango | Flamenco"
    " | Highlife | Exotica | Bolero | Samba | Música Popular Brasileira | J-Pop | K-Pop | Русский рок"
    " | Schlager | Rock 'n' Roll | Singer/Songwriter | Children's Music | Soundtrack | Musique concrète"
    " | 演歌"
)
_GENRE_PREFIXES = [
    p + " "
    for p in _words(
        "Dark | Progressive | Indie | Experimental | Psychedelic | Alternative | Acid | Avant-garde"
        " | Latin | Nordic | Tropical | Minimal | Melodic | Symphonic | Japanese | Brazilian | French"
        " | Deep | Art | Chamber"
    )
] + ["Post-", "Neo-"]


class FakeLibrary:
    """Artists, albums and tracks of one music section, keyed by ratingKey.

    `tracks`, `albums` and `artists` are dicts in ratingKey order. Mutations hold `lock`
    (the server holds it while reading), bump updatedAt and never reuse a key.
    """

    def __init__(self, tracks=1000, seed=1):
        self.seed = seed
        self.lock = threading.RLock()
        self.clock = time.time  # mutations stamp this; tests may replace it
        self.tracks: dict[int, Track] = {}
        self.albums: dict[int, Album] = {}
        self.artists: dict[int, Artist] = {}
        self._next_key = 10001
        self._name_counts: Counter[str] = Counter()
        self._various: Artist | None = None
        rng = random.Random(seed)
        self._mutation_rng = random.Random(f"{seed}:mutations")
        self._genres, self._genre_weights = _genre_pool(rng, tracks)
        self._generate(rng, tracks)

    def album_tracks(self, album_key):
        found = [t for t in self.tracks.values() if t.album_key == album_key]
        return sorted(found, key=lambda t: (t.disc, t.index))

    def artist_albums(self, artist_key):
        return [a for a in self.albums.values() if a.artist_key == artist_key]

    def take_key(self):
        """The next ratingKey. Playlists share the sequence with library items, as on Plex."""
        with self.lock:
            self._next_key += 1
            return self._next_key - 1

    def add_tracks(self, n):
        """Add n new tracks: some as bonus tracks on existing albums, most on new albums."""
        rng = self._mutation_rng
        with self.lock:
            now = int(self.clock())
            added = []
            while len(added) < n:
                albums = [a for a in self.albums.values() if a.artist_key != self._various_key()]
                if albums and rng.random() < 0.35:
                    album = rng.choice(albums)
                    last = self.album_tracks(album.key)[-1]
                    position = (last.disc, last.index + 1)
                    track = self._add_track(rng, album, _track_title(rng), None, position, now, False)
                    album.updated_at = now
                    added.append(track.rating_key)
                    continue
                artists = [a for a in self.artists.values() if a is not self._various]
                if artists and rng.random() < 0.6:
                    _, tracks = self._make_album(rng, rng.choice(artists), n - len(added), now, settled=False)
                else:
                    artist = self._new_artist(now)
                    album, tracks = self._make_album(rng, artist, n - len(added), now, settled=False)
                    self._settle_artist(rng, artist, [album])
                added += [t.rating_key for t in tracks]
            return added

    def remove_tracks(self, n_or_keys):
        """Remove tracks (n random ones, or the given keys); emptied albums and artists go too."""
        with self.lock:
            keys = self._pick(n_or_keys)
            touched = {self.tracks.pop(key).album_key for key in keys}
            left = {t.album_key for t in self.tracks.values()}
            now = int(self.clock())
            for key in touched:
                if key in left:
                    self.albums[key].updated_at = now
                else:
                    del self.albums[key]
            with_albums = {a.artist_key for a in self.albums.values()}
            for artist in list(self.artists.values()):
                if artist.key not in with_albums:
                    del self.artists[artist.key]
                    if artist is self._various:
                        self._various = None
            return keys

    def change_tracks(self, n_or_keys, bump_updated_at=True):
        """Retitle, rate, re-rate or unrate tracks (n random ones, or the given keys).

        Real Plex does not reliably move updatedAt on rating changes: pass
        bump_updated_at=False to simulate that.
        """
        rng = self._mutation_rng
        with self.lock:
            keys = self._pick(n_or_keys)
            now = int(self.clock())
            for key in keys:
                track = self.tracks[key]
                if rng.random() < 0.4:
                    # A reversible retitle that keeps the title's liveness.
                    suffix = " (Remastered)"
                    if track.title.endswith(suffix):
                        track.title = track.title.removesuffix(suffix)
                    else:
                        track.title += suffix
                else:
                    choices = [None] + [float(r) for r in range(2, 11)]
                    track.user_rating = rng.choice([r for r in choices if r != track.user_rating])
                    track.last_rated_at = now
                if bump_updated_at:
                    track.updated_at = now
            return keys

    def _generate(self, rng, total):
        for name in _SPECIAL_ARTISTS:
            if len(self.tracks) >= total:
                return
            self._make_artist(rng, total, name)
        while len(self.tracks) < total:
            if rng.random() < 0.04:
                self._make_compilation(rng, total)
            else:
                self._make_artist(rng, total, _artist_name(rng))

    def _make_artist(self, rng, total, name):
        added_at = EPOCH - rng.randrange(_DAY, 4 * _YEAR)
        artist = self._new_artist(added_at, name)
        year = rng.randint(1950, 2020)
        albums = []
        for _ in range(rng.randint(2, 5)):
            if len(self.tracks) >= total:
                break
            added_at = min(EPOCH - _DAY, added_at + rng.randrange(90 * _DAY))
            room = total - len(self.tracks)
            album, _ = self._make_album(rng, artist, room, added_at, True, min(year, 2025))
            albums.append(album)
            year += rng.randint(1, 4)
        self._settle_artist(rng, artist, albums)

    def _make_compilation(self, rng, total):
        added_at = EPOCH - rng.randrange(_DAY, 4 * _YEAR)
        if self._various is None:
            self._various = self._new_artist(added_at, "Various Artists")
        self._various.added_at = min(self._various.added_at, added_at)
        performers = [a.title for a in self.artists.values() if a is not self._various]
        room = total - len(self.tracks)
        self._make_album(rng, self._various, room, added_at, True, performers=performers)
        self._settle_artist(rng, self._various, self.artist_albums(self._various.key))

    def _new_artist(self, added_at, name=None):
        name = name or _artist_name(self._mutation_rng)
        self._name_counts[name] += 1
        if self._name_counts[name] > 1:  # Discogs-style disambiguation, as real libraries have
            name = f"{name} ({self._name_counts[name]})"
        artist = Artist(self.take_key(), name, [], added_at, added_at)
        self.artists[artist.key] = artist
        return artist

    def _settle_artist(self, rng, artist, albums):
        # An artist's genres are the commonest of its albums', sometimes none.
        counts = Counter(g for a in albums for g in a.genres)
        artist.genres = [] if rng.random() < 0.1 else [g for g, _ in counts.most_common(rng.randint(1, 4))]

    def _make_album(self, rng, artist, room, added_at, settled, year=None, performers=None):
        """An album of up to `room` tracks; `settled` gives it a history (edits, ratings, plays)."""
        r = rng.random()
        size = rng.randint(3, 6) if r < 0.08 else rng.randint(18, 26) if r < 0.13 else rng.randint(8, 13)
        size = min(size, room)
        year = year or rng.randint(1950, 2025)
        live = performers is None and rng.random() < 0.06
        title = _album_title(rng, artist.title, year, live, performers is not None, self._genres)
        genres = _pick_genres(rng, self._genres, self._genre_weights)
        album_year = None if rng.random() < 0.05 else year
        album = Album(self.take_key(), title, artist.key, album_year, genres, added_at, added_at, live)
        self.albums[album.key] = album
        per_disc = -(-size // (2 if size >= 18 else 1))
        tracks = []
        for i in range(size):
            title = _track_title(rng)
            track_artist = None
            if performers is not None:  # a compilation: every track has its performer
                known = performers and rng.random() < 0.5
                track_artist = rng.choice(performers) if known else _artist_name(rng)
            elif rng.random() < 0.05:
                guest = _artist_name(rng)
                track_artist = f"{artist.title} feat. {guest}"
                if rng.random() < 0.5:
                    title = f"{title} (feat. {guest})"
            disc, index = divmod(i, per_disc)
            position = (disc + 1, index + 1)
            tracks.append(self._add_track(rng, album, title, track_artist, position, added_at + i, settled))
        album.updated_at = max(t.updated_at for t in tracks)
        return album, tracks

    def _add_track(self, rng, album, title, track_artist, position, added_at, settled):
        disc, index = position
        live = album.truth_live
        if not live and album.artist_key != self._various_key():
            r = rng.random()
            if r < 0.006:
                title = rng.choice(STUDIO_TRAP_TITLES)
            elif r < 0.016:  # a live bonus track on a studio album
                title = rng.choice(_LIVE_TRACK_FORMS).format(title)
                live = True
        duration = max(45, min(900, int(rng.gauss(235, 70)))) * 1000 + rng.randrange(1000)
        rating = rated_at = viewed_at = None
        views = 0
        # A quarter of tracks carry genres of their own (tagged files, newer servers).
        genres = _pick_genres(rng, self._genres, self._genre_weights) if rng.random() < 0.25 else []
        updated_at = added_at
        if settled:
            # Most tracks were touched once around import; some were edited later.
            late = rng.random() < 0.3
            updated_at = rng.randint(added_at, EPOCH) if late else added_at + rng.randrange(3600)
            if rng.random() < 0.6:
                rating = float(rng.randint(2, 10))
                rated_at = rng.randint(added_at, EPOCH)
            if rng.random() < 0.45:
                views = int(rng.expovariate(1 / 5)) + 1
                viewed_at = rng.randint(added_at, EPOCH)
        track = Track(
            rating_key=self.take_key(),
            title=title,
            album_key=album.key,
            artist_key=album.artist_key,
            track_artist=track_artist,
            duration_ms=duration,
            user_rating=rating,
            added_at=added_at,
            updated_at=updated_at,
            index=index,
            disc=disc,
            view_count=views,
            last_viewed_at=viewed_at,
            last_rated_at=rated_at,
            truth_live=live,
            genres=genres,
        )
        self.tracks[track.rating_key] = track
        return track

    def _various_key(self):
        return self._various.key if self._various else None

    def _pick(self, n_or_keys):
        if isinstance(n_or_keys, int):
            keys = list(self.tracks)
            return sorted(self._mutation_rng.sample(keys, min(n_or_keys, len(keys))))
        keys = list(n_or_keys)
        missing = [k for k in keys if k not in self.tracks]
        if missing:
            raise KeyError(f"no such tracks: {missing}")
        return keys


def _genre_pool(rng, tracks):
    """Several hundred genre tags, popular ones first; bigger libraries use more of them."""
    combos = [p + b for p in _GENRE_PREFIXES for b in _GENRE_BASES[:45]]
    rng.shuffle(combos)
    pool = (_GENRE_BASES + combos)[: min(900, 80 + tracks // 25)]
    return pool, [1 / (i + 1) ** 0.8 for i in range(len(pool))]


def _pick_genres(rng, pool, weights):
    # Up to four tags, three and four common: more than the two a Plex listing shows.
    count = rng.choices((0, 1, 2, 3, 4), weights=(6, 24, 26, 24, 20))[0]
    return list(dict.fromkeys(rng.choices(pool, weights=weights, k=count)))


def _artist_name(rng):
    r = rng.random()
    if r < 0.4:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if r < 0.7:
        return f"The {rng.choice(_ADJ)} {rng.choice(_BAND)}"
    if r < 0.85:
        return f"{rng.choice(_ADJ)} {rng.choice(_BAND)}"
    return f"{rng.choice(_FIRST)} & the {rng.choice(_BAND)}"


def _album_title(rng, artist, year, live, compilation, genres):
    if compilation:
        form = rng.choice(_COMPILATION_FORMS)
        noun, adj, genre = rng.choice(_NOUN), rng.choice(_ADJ), rng.choice(genres)
        return form.format(n=rng.randint(1, 60), decade=year // 10 * 10, adj=adj, noun=noun, genre=genre)
    if live:
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return rng.choice(_LIVE_ALBUM_FORMS).format(date=date, venue=rng.choice(_VENUES))
    r = rng.random()
    if r < 0.03:
        return artist  # self-titled
    if r < 0.06:
        return rng.choice(_SPECIAL_ALBUMS)
    if r < 0.07:
        return rng.choice(STUDIO_TRAP_ALBUMS)
    if r < 0.5:
        return f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
    if r < 0.75:
        return f"The {rng.choice(_NOUN)} of {rng.choice(_NOUN)}"
    return rng.choice(_NOUN) + rng.choice(("s", "", " EP", " Songs", "land"))


def _track_title(rng):
    r = rng.random()
    if r < 0.03:
        return rng.choice(_SPECIAL_TRACKS)
    if r < 0.3:
        return rng.choice(_NOUN)
    if r < 0.6:
        return f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
    if r < 0.8:
        return f"{rng.choice(_VERB)} {rng.choice(_PREP)} the {rng.choice(_NOUN)}"
    if r < 0.9:
        return f"{rng.choice(_NOUN)} of {rng.choice(_NOUN)}"
    return f"Song for {rng.choice(_FIRST)}"
