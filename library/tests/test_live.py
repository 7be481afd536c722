import pytest

from library.live import is_live

# (title, album): real releases, except those marked "shape": made up in the shape real ones take
LIVE = [
    # live tracks on studio albums and compilations, as stores and taggers write them
    ("Song (Live)", "Studio Album"),
    ("Roxanne - Live at Budokan", "Outlandos"),
    ("Heroes [Live 1977]", "Heroes"),
    ("Hotel California (Live On MTV, 1994)", "Hell Freezes Over"),
    ("Sympathy for the Devil - Live", "Get Yer Ya-Ya's Out!"),
    ("Bohemian Rhapsody (Live at Wembley Stadium, July 1986)", "Greatest Hits"),
    ("Wonderwall - Live at Knebworth, 10 August 1996", "Stop the Clocks"),
    ("Fake Plastic Trees - Live From Austin, TX", "The Bends (Collector's Edition)"),
    ("Layla (Live Version)", "Timepieces"),
    ("Rock and Roll (Live/Remastered 2011)", "Coda (Deluxe Edition)"),
    ("Sweet Child O' Mine - 2011 Remaster / Live", "Appetite for Destruction (Deluxe)"),
    ("Creep - Acoustic Live", "My Iron Lung"),
    ("Jolene - Recorded Live", "Jolene (Deluxe)"),
    ("Holocene - Live Session", "Bon Iver (Deluxe)"),
    ("Go Your Own Way - Live Edit", "The Dance"),
    ("Only Love Can Break Your Heart (Live @ KEXP)", "Singles"),  # shape
    ("Live at Wembley", "Greatest Hits"),
    ("Bésame (En Vivo)", "Grandes Éxitos"),
    ("Malandragem (Ao Vivo)", "Cássia Eller Acústico MTV"),
    ("Il cielo (Dal vivo)", "Raccolta"),  # shape
    ("Layla (Unplugged)", "Unplugged Sessions"),
    ("1994-05-12: MSG", "Tour Tapes"),  # shape
    ("Morning Dew - 5/8/77", "Cornell Selections"),  # shape
    # "Live" alone or as a prefix
    ("Track 1", "Live!"),
    ("No Woman, No Cry", "Live!"),
    ("Track 1", "Live"),
    ("Hey Hey, My My (Into the Black)", "Live Rust"),
    ("Aces High", "Live After Death"),
    ("We Will Rock You", "Live Killers"),
    ("The Boys Are Back in Town", "Live and Dangerous"),
    ("Breed", "Live and Loud"),
    ("Dark Star", "Live/Dead"),
    ("Sivad", "Live-Evil"),
    ("War Pigs", "Live Evil"),
    ("Turn the Page", "'Live' Bullet"),
    ("Right Now", "Live: Right Here, Right Now"),
    ("Thunder Road", "Live 1975–85"),
    ("Welcome to the Jungle", "Live Era '87–'93"),
    ("Like a Rolling Stone", 'Live 1966: The "Royal Albert Hall" Concert'),
    (
        "Ballad of a Thin Man",
        'The Bootleg Series Vol. 4: Bob Dylan Live 1966, The "Royal Albert Hall" Concert',
    ),
    ("Track 1", "Live at Wembley Stadium"),
    ("Track 1", "Live in Tokyo"),
    ("Du hast", "Live aus Berlin"),
    ("Hey Joe", "Live @ the Fillmore"),  # shape
    ("Tiny Dancer", "Live in Australia with the Melbourne Symphony Orchestra"),
    ("Daughter", "Live on Two Legs"),
    # "<Band> Live", "Alive!"
    ("Hotel California", "Eagles Live"),
    ("Sultans of Swing", "Alchemy: Dire Straits Live"),
    ("Comfortably Numb", "Is There Anybody Out There? The Wall Live 1980–81"),
    ("No Woman, No Cry", "Bob Marley & The Wailers – Live!"),
    ("Stranglehold", "Double Live Gonzo!"),
    ("Rock and Roll All Nite", "Alive!"),
    ("Detroit Rock City", "Alive II"),
    ("Robot Rock / Oh Yeah", "Alive 2007"),
    ("Reelin' in the Years", "Alive in America"),
    ("Show Me the Way", "Frampton Comes Alive!"),
    # venues
    ("Folsom Prison Blues", "At Folsom Prison"),
    ("A Boy Named Sue", "At San Quentin"),
    ("Night Train", "Live at the Apollo"),
    ("Surrender", "Cheap Trick at Budokan"),
    ("Statesboro Blues", "At Fillmore East"),
    ("Peaches en Regalia", "Fillmore East – June 1971"),
    ("Tangled Up in Blue", "Hammersmith Odeon London '75"),
    ("Eyes of the World", "Winterland 1973: The Complete Recordings"),
    ("Salt Peanuts", "Jazz at Massey Hall"),
    ("Diminuendo and Crescendo in Blue", "Ellington at Newport"),
    ("Gloria's Step", "Sunday at the Village Vanguard"),
    ("Twist and Shout", "The Beatles at the Hollywood Bowl"),
    ("Wonderwall", "Knebworth 1996"),
    ("Ne me quitte pas", "Enregistrement public à l'Olympia 1961"),
    ("Mahler: Symphony No. 2", "Live at the Concertgebouw"),  # shape
    ("Bring It On Home to Me", "Live at the Harlem Square Club, 1963"),
    ("Lovely Rita", "Live at the BBC"),
    # concerts and unplugged
    ("Track 1", "Neil Young in Concert"),
    ("Part I", "The Köln Concert"),
    ("My Sweet Lord", "The Concert for Bangladesh"),
    ("Mrs. Robinson", "The Concert in Central Park"),
    ("Track 1", "MTV Unplugged in New York"),
    ("Come as You Are", "MTV Unplugged in New York"),
    ("Layla", "Unplugged"),
    ("Kill the King", "On Stage"),
    # show dates and archive series
    ("Intro", "1977.06.07 Winterland"),
    ("Morning Dew", "1977-05-08 Barton Hall, Cornell University"),
    ("Dark Star", "1969/12/31 Fillmore East"),
    ("Scarlet Begonias", "Cornell 5/8/77"),
    ("Two Step", "Live at Red Rocks 8.15.95"),
    ("Tweezer", "Live Phish 12.31.95"),
    ("You Enjoy Myself", "New Year's Eve 1995 – Live at Madison Square Garden"),
    ("Dark Star", "Dick's Picks Volume 4: Fillmore East 2/13–14/70"),
    ("Shakedown Street", "Road Trips Volume 1 Number 1: Fall '79"),
    ("Sugaree", "Dave's Picks Volume 1: Mid-South Coliseum, Memphis, TN 5/15/77"),
    ("Corduroy", "31.12.1995 Berlin"),  # shape
    ("Bertha", "Barton Hall, 8 May 1977"),  # shape
    ("Bertha", "Barton Hall, May 8th, 1977"),  # shape
    ("Morning Dew", "gd77-05-08 sbd"),  # shape: a taper's folder name
    ("Corduroy", "Official Bootleg: Katowice, Poland"),  # shape
    # other languages
    ("Rayando el Sol", "MTV Unplugged"),
    ("Sorte Grande", "MTV Ao Vivo"),
    ("Bocca di rosa", "Fabrizio De André in concerto – Arrangiamenti PFM"),
    ("Oye Como Va", "En Vivo!"),  # shape
    ("Entre dos tierras", "Héroes del Silencio en directo"),  # shape
    ("Se telefonando", "Mina Live '78"),
    ("Track 1", "百恵ライブ"),  # shape
    ("Track 1", "ライヴ・イン・トーキョー"),  # shape
    ("Track 1", "Концерт в Лужниках"),  # shape
]

STUDIO = [
    # songs that use "live" as a verb or an idiom
    ("Alive", "Ten"),
    ("Alive", "Alive"),
    ("Live Forever", "Definitely Maybe"),
    ("Live and Let Die", "Red Rose Speedway"),
    ("Live and Let Die", "Live and Let Die"),
    ("Live & Let Die", "Wings Greatest"),
    ("Livewire", "Shout at the Devil"),
    ("Live Wire", "Too Fast for Love"),
    ("Live to Tell", "True Blue"),
    ("Live Your Life", "Paper Trail"),
    ("I Live for You", "All Things Must Pass (30th Anniversary Edition)"),
    ("Livin' on a Prayer", "Slippery When Wet"),
    ("Living Loving Maid (She's Just a Woman)", "Led Zeppelin II"),
    ("Live It Up", "Fundamental As Anything"),
    ("Long Live Rock 'n' Roll", "Long Live Rock 'n' Roll"),
    ("Long Live", "Speak Now"),
    ("Live and Learn", "Joe Public"),
    ("Let Me Live", "Made in Heaven"),
    ("Learning to Live", "Images and Words"),
    ("Little House I Used to Live In", "Burnt Weeny Sandwich"),
    ("Let's Live for Today", "Let's Live for Today"),
    ("You Only Live Twice", "You Only Live Twice"),
    ("Live in the Moment", "Live in the Moment"),
    ("Stayin' Alive", "Saturday Night Fever"),
    ("Alive and Kicking", "Once Upon a Time"),
    ("Oliver's Army", "Armed Forces"),
    ("Food, Glorious Food", "Oliver!"),
    ("Liverpool Drive", "St. Louis to Liverpool"),
    ("Deliver Us", "Prince of Egypt"),
    ("Bootleg", "Bayou Country"),
    # albums that use "live" as a verb
    ("Track 1", "Alive & Kicking"),
    ("Violet", "Live Through This"),
    ("Track 1", "Live It Up"),
    ("Live to Win", "Live to Win"),
    ("Back When", "Live Like You Were Dying"),
    ("Last Goodbye", "Live On"),
    ("Track 1", "Long Live"),
    ("Track 1", "(How to Live) AS GHOSTS"),
    ("Released 2011-05", "Delivery"),
    # venue names that are song or album names
    ("Bohemian Rhapsody", "A Night at the Opera"),
    ("Somebody to Love", "A Day at the Races"),
    ("An Ending (Ascent)", "Apollo: Atmospheres and Soundtracks"),
    ("Woodstock", "Ladies of the Canyon"),
    ("Woodstock", "Déjà Vu"),
    ("Birdland", "Heavy Weather"),
    ("Folsom Prison Blues", "With His Hot and Blue Guitar"),
    ("(White Man) In Hammersmith Palais", "(White Man) In Hammersmith Palais"),
    ("Glastonbury Song", "Dream Harder"),
    ("Monterey", "The Twain Shall Meet"),
    ("Symphony No. 4 in G Major: I. Bedächtig", "Mahler: Symphony No. 4 – Royal Concertgebouw Orchestra"),
    ("Strangers in the Night", "Strangers in the Night"),
    # radio sessions: recorded in the BBC's studios
    ("My Generation", "BBC Sessions"),
    ("Exercise One", "The Peel Sessions"),
    # bootleg series volumes of studio outtakes and demos, and a studio album called Bootleg
    ("Blind Willie McTell", "The Bootleg Series Vols. 1–3 (Rare & Unreleased) 1961–1991"),
    ("Blowin' in the Wind", "The Bootleg Series Vol. 9: The Witmark Demos: 1962–1964"),
    ("Loser", "Bootleg"),
    # classical: concertos, concert pieces, ensembles, and "Konzert" meaning concerto
    ("Piano Concerto No. 1", "Tchaikovsky"),
    ("Piano Concerto No. 2 in C Minor, Op. 18: I. Moderato", "Rachmaninoff: Piano Concertos 2 & 3"),
    ("Brandenburg Concerto No. 3 in G Major, BWV 1048: I. Allegro", "Bach: Brandenburg Concertos"),
    ("Ch'io mi scordi di te?, K. 505", "Mozart: Concert Arias"),
    ("Trois études de concert, S. 144: No. 3 'Un sospiro'", "Liszt: Concert Études"),
    ("In the South (Alassio), Op. 50", "Elgar: Concert Overtures"),
    ("Alla Hornpipe", "Handel: Water Music – Le Concert des Nations, Jordi Savall"),
    ("Violinkonzert D-Dur, Op. 61: I. Allegro ma non troppo", "Beethoven: Konzert für Violine und Orchester"),
    ("Allegro con fuoco", "Чайковский: Концерт для фортепиано с оркестром № 1"),
    ("Track 1", "サウンド・ライブラリー"),  # shape: ライブラリー is "library"
    # numbers and dates that are not shows
    ("1999", "1999"),
    ("19/2000", "Gorillaz"),
    ("2 + 2 = 5", "Hail to the Thief"),
    ("7/11", "Beyoncé"),
    ("867-5309/Jenny", "Tommy Tutone 2"),
    ("2-4-6-8 Motorway", "Power in the Darkness"),
    ("25 or 6 to 4", "Chicago"),
    ("Summer of '69", "Reckless"),
    ("April 29, 1992 (Miami)", "Sublime"),
    ("December, 1963 (Oh, What a Night)", "Who Loves You"),
    ("Strawberry Fields Forever", "1967–1970"),
    ("Your Song", "Greatest Hits 1970–2002"),
    ("Paris 1919", "Paris 1919"),
    ("Half Past France", "Paris 1919"),
    ("", ""),
]


@pytest.mark.parametrize(("title", "album"), LIVE)
def test_live_recordings_are_detected(title, album):
    assert is_live(title, album)


@pytest.mark.parametrize(("title", "album"), STUDIO)
def test_studio_recordings_are_not_live(title, album):
    assert not is_live(title, album)


def test_server_album_flag_marks_every_track_live():
    assert is_live("Intro", "Some Album", server_says_live=True)


def test_missing_title_and_album_are_studio():
    assert not is_live(None, None)
