"""The demo's songs and artists (titles, names, places and ids shaped like the Million Song
Dataset's), and its users' names, places and user agents."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


def log_json(value: Any) -> str:
    """A value as the app's logs write it: ASCII only, and '/' escaped as '\\/'."""
    return json.dumps(value).replace("/", "\\/")


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TITLE_WORDS = words(
    "Love Night Heart Fire Rain Dream Gun Road Home Baby Blue Moon Sun Girl Boy City Dance Time Soul "
    "Light Shadow River Summer Winter Wild Rose Money Gold Angel Devil Ghost Train Highway Heaven "
    "Dust Storm Ocean Tonight Forever Lonely Crazy Sweet Broken Silent Electric Midnight Paradise "
    "Loaded Burning Falling Running Dancing Waiting Talking Lost Young Golden Little Last First Never "
    "Always Again Away Down Up Liebe Amour Ciudad"
)


FOREIGN_WORDS = words("Corazón Noël Sueño Träume Été Café Señorita Niño Fiancé Mañana Smörgåsbord 東京 Ночь")


TITLE_GLUE = ("", "", "", "The", "My", "In The", "Of", "Like A", "For", "To The", "On", "And")


TITLE_SUFFIXES = (" (Album Version)", " (LP Version)", " (Live)", " (Remix)", " (Instrumental Version)",
                  " (Radio Edit)", " (Live 12/31/99)", " (Acoustic)", " (Remastered)", " (Explicit)")


FIRST_NAMES = {
    "M": words(
        "James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew Anthony "
        "Mark Steven Paul Andrew Joshua Kevin Brian George Timothy Ryan Jacob Gary Nicholas Eric "
        "Jonathan Justin Walter Tegan Ethan Noah Liam Mason Logan Lucas Jayden Aiden José Björn "
        "Jürgen Søren André François Łukasz"
    ),
    "F": words(
        "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty "
        "Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie "
        "Rebecca Sharon Laura Cynthia Kaylee Lily Chloe Ava Mia Sophia Isabella Zoë Chloé Léa Renée "
        "Inés Ingrid Åsa"
    ),
}


LAST_NAMES = words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Frye Summers "
    "O'Brien Müller Muñoz Sánchez Ødegaard Dvořák Gómez Björklund Côté"
)


BAND_NOUNS = words(
    "Rockers Kings Tigers Wolves Strangers Saints Sinners Brothers Sisters Lovers Ghosts Machines "
    "Pilots Rebels Horses Monkeys Diamonds Cowboys Astronauts Rain Trio Quartet Orchestra Crew "
    "Collective Project Experience Band Ensemble Mafia Crüe Føxes Señores"
)


BAND_ADJECTIVES = words(
    "Black Red Blue Electric Steel Velvet Crystal Silver Golden Midnight Wild Broken Holy Dead Flying "
    "Lazy Happy Bombay Arctic Royal Little Big Cosmic Urban Mötley Jazzy"
)


ARTIST_PLACES = (
    ("Nashville, TN.", 36.16778, -86.77836), ("California - SF", 37.77916, -122.42005),
    ("California - LA", 34.05349, -118.24532), ("Denmark", 56.27609, 9.51695),
    ("London, England", 51.50632, -0.12714), ("New York, NY", 40.71455, -74.00712),
    ("Chicago, IL", 41.88415, -87.63241), ("Houston, TX", 29.76045, -95.36978),
    ("Toronto, Ontario, Canada", 43.64856, -79.38533), ("Memphis, TN", 35.14968, -90.04892),
    ("Seattle, Washington USA", 47.60356, -122.32944), ("Atlanta, GA", 33.74831, -84.39111),
    ("Paris, France", 48.85693, 2.3412), ("Berlin, Germany", 52.51607, 13.37698),
    ("Stockholm, Sweden", 59.33217, 18.06243), ("Reykjavík, Iceland", 64.13586, -21.89521),
    ("São Paulo, Brazil", -23.56287, -46.65466), ("México D.F.", 19.43195, -99.13315),
    ("Tokyo, Japan", 35.68308, 139.80882), ("Kingston, Jamaica", 17.99702, -76.79358),
    ("Dubai UAE", 25.26533, 55.29244), ("Zagreb Croatia", 45.80726, 15.96757),
    ("Detroit, MI", 42.33168, -83.04792), ("New Orleans, LA", 29.95369, -90.07771),
    ("Brooklyn, NY", 40.65507, -73.94888), ("Melbourne, Australia", -37.81753, 144.96715),
)


USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA", "Portland-South Portland, ME", "Lansing-East Lansing, MI",
    "Chicago-Naperville-Elgin, IL-IN-WI", "Atlanta-Sandy Springs-Roswell, GA", "Waterloo-Cedar Falls, IA",
    "Lake Havasu City-Kingman, AZ", "San Jose-Sunnyvale-Santa Clara, CA", "Phoenix-Mesa-Scottsdale, AZ",
    "New York-Newark-Jersey City, NY-NJ-PA", "Los Angeles-Long Beach-Anaheim, CA",
    "Houston-The Woodlands-Sugar Land, TX", "Dallas-Fort Worth-Arlington, TX",
    "Tampa-St. Petersburg-Clearwater, FL",
    "Seattle-Tacoma-Bellevue, WA", "Birmingham-Hoover, AL", "Marinette, WI-MI", "Winston-Salem, NC",
    "Red Bluff, CA", "Janesville-Beloit, WI", "Augusta-Richmond County, GA-SC", "Tucson, AZ",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD", "Miami-Fort Lauderdale-West Palm Beach, FL",
)


USER_AGENTS = (  # the real sample's; most carry their own double quotes
    ('"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
     'Chrome/36.0.1985.143 Safari/537.36"'),
    ('"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) '
     'Version/7.0.6 Safari/537.78.2"'),
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    ('"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 '
     'Chrome/36.0.1985.125 Safari/537.36"'),
    ('"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 '
     'Safari/537.36"'),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    ('"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 '
     'Safari/537.36"'),
    ('"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 '
     'Safari/537.36"'),
    ('"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) '
     'Version/7.0.5 Safari/537.77.4"'),
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    ('"Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 '
     'Safari/537.36"'),
    ('"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) '
     'Version/7.0 Mobile/11D257 Safari/9537.53"'),
    '"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)"',
)


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


LETTER_PAIRS = tuple(map("".join, itertools.product(LETTERS, repeat=2)))


LETTER_TRIPLES = tuple(map("".join, itertools.product(LETTERS, repeat=3)))


@dataclass
class Catalogue:
    """What events need of the songs: (artist, length, song) as log JSON, for songs in song_data
    (`songs`) and for songs the service streams that are not in song_data (`ghosts`)."""

    songs: list[tuple[str, str, str]] = field(default_factory=list)
    ghosts: list[tuple[str, str, str]] = field(default_factory=list)
    artist_names: list[str] = field(default_factory=list)
    # --plant: the rising song (in song_data) and the small one (not), kept out of the lists above
    # so the other songs' popularity does not move.
    rising: tuple[str, str, str] = ("", "", "")
    small: tuple[str, str, str] = ("", "", "")
    climbers: list[tuple[str, str, str]] = field(default_factory=list)
    files: int = 0


def msd_id(rng: random.Random, prefix: str, taken: set[str]) -> str:
    """An id shaped like the Million Song Dataset's: prefix, five letters, eleven hex digits."""
    while True:
        n = rng.getrandbits(24)
        new = f"{prefix}{LETTER_PAIRS[n % 676]}{LETTER_TRIPLES[(n >> 10) % 17576]}{rng.getrandbits(44):011X}"
        if new not in taken:
            taken.add(new)
            return new


def song_title(rng: random.Random) -> str:
    words = [rng.choice(FOREIGN_WORDS if rng.random() < 0.04 else TITLE_WORDS)
             for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))]
    glue = rng.choice(TITLE_GLUE)
    if glue and len(words) > 1:
        words.insert(1, glue)
    title = " ".join(words)
    r = rng.random()
    if r < 0.15:
        title += rng.choice(TITLE_SUFFIXES)
    elif r < 0.17:
        title = f'The "{title}" Song'  # quotes inside values, as real titles have
    return title


def artist_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return f"{rng.choice(FIRST_NAMES[rng.choice('MF')])} {rng.choice(LAST_NAMES)}"
    if r < 0.55:
        return f"The {rng.choice(BAND_NOUNS)}"
    if r < 0.8:
        return f"{rng.choice(BAND_ADJECTIVES)} {rng.choice(BAND_NOUNS)}"
    if r < 0.9:
        return f"{rng.choice(LAST_NAMES)} & The {rng.choice(BAND_NOUNS)}"
    if r < 0.95:
        return f"DJ {rng.choice(TITLE_WORDS)}"
    return f"{rng.choice(BAND_ADJECTIVES)}/{rng.choice(BAND_ADJECTIVES)}"  # AC/DC style


@dataclass
class Artist:
    name: str
    fields: str  # artist_id … artist_name as the song file writes them
    unplaced: str  # the same with artist_location ""


def make_artist(rng: random.Random, taken: set[str]) -> Artist:
    """Artist fields as song files carry them: some places unknown, some without coordinates."""
    place, lat, lon = rng.choice(ARTIST_PLACES)
    r = rng.random()
    if r < 0.38:
        place, lat, lon = "", None, None
    elif r < 0.55:
        lat = lon = None
    fields = {"artist_id": msd_id(rng, "AR", taken), "artist_latitude": lat, "artist_longitude": lon,
              "artist_location": place, "artist_name": artist_name(rng)}
    unplaced = dict(fields, artist_location="")
    return Artist(fields["artist_name"], json.dumps(fields)[1:-1], json.dumps(unplaced)[1:-1])


def song_duration(rng: random.Random) -> float:
    return round(max(15.0, rng.lognormvariate(5.4, 0.35)), 5)


def song_year(rng: random.Random) -> int:
    if rng.random() < 0.5:
        return 0  # unknown, as for about half of the Million Song Dataset
    return max(1950, int(2010 - abs(rng.gauss(0, 12))))


def song_files(rng: random.Random, count: int, catalogue: Catalogue,
               keys: set[tuple[str, str, float]]) -> Iterator[tuple[str, bytes]]:
    """(path, content) of each song file, recording in `catalogue` what events need of each song.
    The content is what json.dumps writes for the object, assembled from per-artist pieces."""
    artists: list[Artist] = []
    artist_count = max(1, count * 3 // 4)  # fewer artists than songs: some have several
    taken: set[str] = set()
    for _ in range(count):
        if len(artists) < artist_count:
            artist = make_artist(rng, taken)
            artists.append(artist)
            catalogue.artist_names.append(artist.name)
            fields = artist.fields
        else:
            artist = artists[int(artist_count * rng.random() ** 2)]  # prolific artists early
            # An artist's rows may disagree, as in the real data.
            fields = artist.unplaced if rng.random() < 0.1 else artist.fields
        key = (song_title(rng), artist.name, song_duration(rng))
        while key in keys:  # (title, artist, duration) names one song: events match it exactly
            key = (song_title(rng), artist.name, song_duration(rng))
        keys.add(key)
        title, _, duration = key
        track, song_id, title_json = msd_id(rng, "TR", taken), msd_id(rng, "SO", taken), json.dumps(title)
        catalogue.songs.append((log_json(artist.name), repr(duration), title_json.replace("/", "\\/")))
        body = (f'{{"num_songs": 1, {fields}, "song_id": "{song_id}", "title": {title_json}, '
                f'"duration": {duration!r}, "year": {song_year(rng)}}}')
        yield f"song_data/{track[2]}/{track[3]}/{track[4]}/{track}.json", body.encode()


def planted_song_file(rng: random.Random, title: str, artist: str, taken: set[str]) -> tuple[str, bytes, str]:
    """--plant: the rising song's file; returns its path, content and duration (repr)."""
    fields = {"artist_id": msd_id(rng, "AR", taken), "artist_latitude": None, "artist_longitude": None,
              "artist_location": "", "artist_name": artist}
    track, song_id, duration = msd_id(rng, "TR", taken), msd_id(rng, "SO", taken), song_duration(rng)
    body = (f'{{"num_songs": 1, {json.dumps(fields)[1:-1]}, "song_id": "{song_id}", "title": {json.dumps(title)}, '
            f'"duration": {duration!r}, "year": {song_year(rng)}}}')
    return f"song_data/{track[2]}/{track[3]}/{track[4]}/{track}.json", body.encode(), repr(duration)


def add_ghosts(rng: random.Random, catalogue: Catalogue, keys: set[tuple[str, str, float]],
               count: int) -> None:
    """Songs the events play that are in no song file: new titles, sometimes by known artists."""
    known = catalogue.artist_names
    while len(catalogue.ghosts) < count:
        artist = known[rng.randrange(len(known))] if rng.random() < 0.3 else artist_name(rng)
        key = (song_title(rng), artist, song_duration(rng))
        if key not in keys:
            keys.add(key)
            catalogue.ghosts.append((log_json(key[1]), repr(key[2]), log_json(key[0])))
