"""Write a synthetic Sparkify dataset in the exact source layout of the real one.

    song_data/A/B/C/TR….json            one song object per file (Million Song Dataset style)
    log_data/YYYY/MM/YYYY-MM-DD-events.json  the app's events of one day, one object per line

Output goes to a folder or to s3://bucket/prefix. The same arguments give byte-identical output.
A share of the NextSong events (--match-share) names a generated song exactly (title, artist name and
duration); the rest name songs that are not in song_data, as in the real data.

Options that plant behaviour with known answers (for the analytics, trends and report tests):
--weekly, --trend and --random-walk shape the daily event counts (with Poisson-sized daily noise);
--plant adds the full page set, a rising song, a song going from 1 play to 3, users who cancel, and
writes OUT/planted.json with the exact funnel and churn counts of what was written.

    python generate_data.py OUT [--days 30] [--start 2018-11-01] [--users 100] [--songs 1000]
                                [--events 10000] [--match-share 0.7] [--seed 42] [--force]
                                [--weekly A] [--trend G] [--random-walk S] [--plant]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import heapq
import itertools
import json
import math
import os
import random
import shutil
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkify_dwh import cli, console, s3, settings
from sparkify_dwh.errors import DwhError, SourceError

DAY_MS = 86_400_000
PLANTED = "planted.json"  # --plant's known answers, at the root of OUT
BREAK_MS = 20 * 60_000  # a user rests at least this long between two sessions of a day
ANON_SHARE = 0.03  # sessions of visitors who never log in
START_LOGGED_OUT = 0.08  # user sessions that begin at the Home/Login pages
MATCH_PULL = 50.0  # how hard the matched share is pulled back to --match-share (smaller: harder)

# Hour-of-day activity (UTC), from the real sample's event counts.
HOUR_WEIGHTS = (185, 201, 157, 130, 159, 206, 230, 219, 246, 311, 356, 391,
                368, 415, 504, 577, 626, 572, 579, 431, 397, 326, 247, 223)

# What a logged-in user does next, with "Upgrade" standing for Downgrade when the user is paid.
LOGGED_IN_PAGES = (("NextSong", 0.852), ("Home", 0.06), ("Settings", 0.012), ("Upgrade", 0.014),
                   ("Logout", 0.012), ("Help", 0.008), ("About", 0.005), ("Error", 0.002))
LOGGED_OUT_PAGES = (("Home", 0.8), ("About", 0.1), ("Help", 0.1))
FOLLOW_UPS = {"Upgrade": ("Submit Upgrade", 0.15), "Downgrade": ("Submit Downgrade", 0.06),
              "Settings": ("Save Settings", 0.25)}
# Method and status of each page, as in the real logs: 307 redirects (to Home) after a form.
PAGE_HTTP = {"NextSong": ("PUT", 200), "Home": ("GET", 200), "Login": ("PUT", 307), "Logout": ("PUT", 307),
             "Upgrade": ("GET", 200), "Submit Upgrade": ("PUT", 307), "Downgrade": ("GET", 200),
             "Submit Downgrade": ("PUT", 307), "Settings": ("GET", 200), "Save Settings": ("PUT", 307),
             "Help": ("GET", 200), "About": ("GET", 200), "Error": ("GET", 404),
             # The rest of the real Sparkify page set, written only with --plant.
             "Thumbs Up": ("PUT", 307), "Thumbs Down": ("PUT", 307), "Add to Playlist": ("PUT", 200),
             "Add Friend": ("PUT", 307), "Roll Advert": ("GET", 200), "Cancel": ("PUT", 307),
             "Cancellation Confirmation": ("GET", 200)}
STAY_ON_PAGE = {"Thumbs Up", "Thumbs Down", "Add Friend", "Cancel"}  # PUTs that redirect back, not to Home

# --weekly: the shape of a week by ISO weekday (Monday 1), mean 0: busy midweek, quiet weekends.
WEEKLY_SHAPE = {1: 0.2, 2: 0.3, 3: 0.3, 4: 0.4, 5: 0.3, 6: -0.7, 7: -0.8}

# --plant: what a logged-in user does next, with the real service's full page set (shares of all events
# as in Sparkify's own logs: Thumbs Up ~4%, Add to Playlist ~2.5%, Add Friend ~1.5%, Thumbs Down ~1%).
# Adverts roll for free users only; a paid user's draw of one is a NextSong.
PLANTED_PAGES = (("NextSong", 0.75), ("Home", 0.045), ("Thumbs Up", 0.043), ("Thumbs Down", 0.011),
                 ("Add to Playlist", 0.026), ("Add Friend", 0.016), ("Roll Advert", 0.04),
                 ("Settings", 0.012), ("Upgrade", 0.014), ("Logout", 0.012), ("Help", 0.008), ("About", 0.005),
                 ("Error", 0.002))
# More of the users who open the forms submit them, so even small planted data has upgrades and downgrades.
PLANTED_FOLLOW_UPS = dict(FOLLOW_UPS, **{"Upgrade": ("Submit Upgrade", 0.25),
                                         "Downgrade": ("Submit Downgrade", 0.2)})
RISING = ("Planted Rising", "The Planted Risers")  # ~1 play a day, then RISING_PLAYS a day in the last week
SMALL = ("Planted Small", "The Planted Few")  # 1 play in the 21 days before the last 7, then 3 (3 listeners)
RISING_PLAYS = 45
# Songs that really rise, tripling their daily plays (0.5 -> 1.5+ a day; exact counts in planted.json):
# a chart has more than one riser, and they outrank a song going from 1 play to 3 however it is shrunk.
CLIMBERS = 10
CLIMBING = {"earlier": 0.5, "before": 0.5, "last": 3.0}  # window -> plays a day, on average
TREND_DAYS, BEFORE_DAYS = 7, 21  # the trending window and the days it is held against
CHURN_SHARE = 0.05  # users who cancel, spread over the days
PLAY_SHARE = 0.6  # a low estimate of the NextSong share of events, to size what is planted per day

# ----------------------------------------------------------------------------- vocabulary


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


# ----------------------------------------------------------------------------- serialization


def log_json(value: Any) -> str:
    """A value as the app's logs write it: ASCII only, and '/' escaped as '\\/'."""
    return json.dumps(value).replace("/", "\\/")


def event_line(artist: str, auth: str, name_gender: str, item: int, last: str, length: str, level: str,
               location: str, method_page: str, registration: str, session: int, song: str, status: int,
               ts: int, agent_user: str) -> str:
    """One event in the sample's key order; every argument but the ints is already JSON."""
    return (f'{{"artist":{artist},"auth":{auth},{name_gender},"itemInSession":{item},"lastName":{last},'
            f'"length":{length},"level":{level},"location":{location},{method_page},'
            f'"registration":{registration},"sessionId":{session},"song":{song},"status":{status},'
            f'"ts":{ts},{agent_user}}}')


# ----------------------------------------------------------------------------- songs


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


# ----------------------------------------------------------------------------- users and sessions


@dataclass
class Users:
    """A fixed population. Per user, the JSON fragments of its events and its current level."""

    fragments: list[tuple[str, str, str, str, str]]  # name+gender, lastName, location, registration, agent+id
    levels: list[str]
    cum_weights: list[float]  # how active each user is, cumulated for bisect


LOGGED_OUT = ('"firstName":null,"gender":null', "null", "null", "null", '"userAgent":null,"userId":""')


def make_users(rng: random.Random, count: int, start_ms: int) -> Users:
    fragments, levels, weights = [], [], []
    for number in range(1, count + 1):
        gender = rng.choice("MF")
        first, last = rng.choice(FIRST_NAMES[gender]), rng.choice(LAST_NAMES)
        registered = float(start_ms - rng.randrange(DAY_MS, 200 * DAY_MS))
        fragments.append((
            f'"firstName":{log_json(first)},"gender":"{gender}"', log_json(last),
            log_json(rng.choice(USER_LOCATIONS)), repr(registered),
            f'"userAgent":{log_json(rng.choice(USER_AGENTS))},"userId":"{number}"',
        ))
        levels.append('"paid"' if rng.random() < 0.3 else '"free"')
        weights.append(rng.lognormvariate(0, 1.1))  # a few heavy listeners, many light ones
    return Users(fragments, levels, list(itertools.accumulate(weights)))


@dataclass
class Session:
    start: int  # epoch ms
    user: int  # index into Users, or -1 for a visitor who never logs in
    gaps: array  # ms between consecutive events
    sid: int = 0
    cancel: bool = False  # ends with Cancel and Cancellation Confirmation: the user's last events


def day_budgets(rng: random.Random, total: int, first_day: dt.date, days: int) -> list[int]:
    """Split the events over the days, unevenly (weekends are quieter); every day gets one if it can."""
    weights = [(0.65 if (first_day + dt.timedelta(d)).weekday() >= 5 else 1.0) * rng.uniform(0.6, 1.4)
               for d in range(days)]
    return split_budget(total, weights)


def shaped_budgets(rng: random.Random, args: argparse.Namespace) -> list[int]:
    """--weekly, --trend, --random-walk: each day's share of the events follows the shape, with noise
    the size of a Poisson count's (sd = square root of the day's mean), so the shape stays clear.
    The random walk has no weekly shape to find: each day is the same weekday a week before times a
    random step, so the best forecast of a day is that day a week before, which is seasonal-naive.
    (A walk stepping from the day before is best forecast by its last day, which a smoothing model
    finds and seasonal-naive does not: it would beat seasonal-naive on a series without a season.)"""
    shape: list[float] = []
    for d in range(args.days):
        if args.random_walk:  # replaces the week
            season = shape[d - 7] / (1 + args.trend * (d - 7)) * math.exp(rng.gauss(0, args.random_walk)) \
                if d >= 7 else 1.0
        else:
            season = 1 + args.weekly * WEEKLY_SHAPE[(args.start + dt.timedelta(d)).isoweekday()]
        shape.append(season * (1 + args.trend * d))
    means = [args.events * w / sum(shape) for w in shape]
    return split_budget(args.events, [max(0.0, m + rng.gauss(0, math.sqrt(m))) + 1e-9 for m in means])


def split_budget(total: int, weights: list[float]) -> list[int]:
    """Whole numbers in proportion to the weights, summing to total; every day one first if it can."""
    days = len(weights)
    base = 1 if total >= days else 0
    rest = total - base * days
    shares = [rest * w / sum(weights) for w in weights]
    budgets = [base + int(s) for s in shares]
    by_remainder = sorted(range(days), key=lambda d: (int(shares[d]) - shares[d], d))
    for d in by_remainder[: total - sum(budgets)]:
        budgets[d] += 1
    return budgets


def session_gaps(rng: random.Random, events: int, anonymous: bool) -> array:
    """Mostly a song's length apart, sometimes a quick click."""
    r = rng.random
    gaps = array("l")
    for _ in range(events - 1):
        if anonymous or r() < 0.15:
            gaps.append(1000 + int(r() * 59_000))
        else:  # 1.5 to 6 minutes, mostly 3 to 4.5: cheaper than a Gaussian, and as good here
            gaps.append(90_000 + int((r() + r() + r()) * 90_000))
    return gaps


def hour_point(rng: random.Random, cum_hours: list[float]) -> float:
    """A fraction of the day, following the hour-of-day activity."""
    hour = bisect.bisect(cum_hours, rng.random() * cum_hours[-1])
    return (hour + rng.random()) / 24


def plan_day(rng: random.Random, users: Users, day_start: int, budget: int,
             cancelling: tuple[int, ...] = ()) -> list[Session]:
    """The day's sessions in start order, with exactly `budget` events. A user's sessions never
    overlap, so replaying them in start order keeps each user's level history consistent.
    Each user in `cancelling` gets a last session of the day that ends in a cancellation."""
    cum_hours = list(itertools.accumulate(HOUR_WEIGHTS))
    by_user: dict[int, list[array]] = {}
    final = [(user, 2 + min(40, max(1, int(rng.lognormvariate(1.4, 1.1))))) for user in cancelling]
    remaining = budget - sum(size for _, size in final)
    if remaining < 0:
        raise DwhError("too few events a day for the cancellations --plant makes; add --events")
    while remaining:
        anonymous = rng.random() < ANON_SHARE
        size = 1 + int(rng.random() * 3) if anonymous else min(300, max(1, int(rng.lognormvariate(1.4, 1.1))))
        size = min(size, remaining)
        remaining -= size
        user = -1 if anonymous else bisect.bisect(users.cum_weights, rng.random() * users.cum_weights[-1])
        by_user.setdefault(min(user, len(users.levels) - 1), []).append(session_gaps(rng, size, anonymous))
    for user, size in final:  # after the user's other sessions: placed last
        by_user.setdefault(user, []).append(session_gaps(rng, size, False))
    sessions = []
    for user, all_gaps in by_user.items():
        groups = [[g] for g in all_gaps] if user < 0 else [all_gaps]  # visitors are strangers to each other
        for group in groups:
            placed = place_sessions(rng, user, group, day_start, cum_hours)
            sessions += placed
        if user in cancelling:
            placed[-1].cancel = True
    sessions.sort(key=lambda s: s.start)  # stable: ties keep their (deterministic) order
    return sessions


def place_sessions(rng: random.Random, user: int, all_gaps: list[array], day_start: int,
                   cum_hours: list[float]) -> list[Session]:
    """Scatter one user's sessions over the day without overlap; squeeze them if they cannot fit."""
    spans = [sum(g) for g in all_gaps]
    rest = BREAK_MS
    busy = sum(spans) + rest * (len(spans) - 1)
    if busy > DAY_MS * 0.9:
        factor = DAY_MS * 0.9 / busy
        all_gaps = [array("l", (max(1, int(x * factor)) for x in g)) for g in all_gaps]
        spans, rest = [sum(g) for g in all_gaps], int(rest * factor)
        busy = sum(spans) + rest * (len(spans) - 1)
        if busy >= DAY_MS:
            raise DwhError("too many events per user and day to fit in a day; add --users or --days")
    points = sorted(int(hour_point(rng, cum_hours) * (DAY_MS - busy)) for _ in all_gaps)
    sessions, offset = [], 0
    for point, gaps, span in zip(points, all_gaps, spans, strict=True):
        sessions.append(Session(day_start + point + offset, user, gaps))
        offset += span + rest
    return sessions


# ----------------------------------------------------------------------------- events


def cumulative(choices: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    return [c[0] for c in choices], list(itertools.accumulate(c[1] for c in choices))


@dataclass
class EventWriter:
    """Turns planned sessions into event lines; counts what the summary reports."""

    rng: random.Random
    users: Users
    catalogue: Catalogue
    match_share: float
    events: int = 0
    plays: int = 0
    matched: int = 0
    active: set[int] = field(default_factory=set)
    next_sid: int = 1
    planting: bool = False  # PlantedWriter: --plant
    follow_ups: dict[str, tuple[str, float]] = field(default_factory=lambda: FOLLOW_UPS)

    def __post_init__(self) -> None:
        self.in_pages, self.in_cum = cumulative(LOGGED_IN_PAGES)
        self.out_pages, self.out_cum = cumulative(LOGGED_OUT_PAGES)
        self.http = {p: (f'"method":"{m}","page":{log_json(p)}', s) for p, (m, s) in PAGE_HTTP.items()}

    def day_lines(self, sessions: list[Session]) -> Iterator[str]:
        """The day's events ordered by ts, separated by newlines (none after the last, as in the
        sample). Only the sessions under way are held in memory."""
        heap: list[tuple[int, int, int, str]] = []
        separator = ""
        for session in sessions:
            session.sid, self.next_sid = self.next_sid, self.next_sid + 1
            while heap and heap[0][:2] < (session.start, session.sid):
                yield separator + heapq.heappop(heap)[3]
                separator = "\n"
            for event in self.session_events(session):
                heapq.heappush(heap, event)
        while heap:
            yield separator + heapq.heappop(heap)[3]
            separator = "\n"

    def next_page(self, logged_in: bool, level: str, visitor: bool) -> str:
        r = self.rng.random()
        if logged_in:
            page = self.in_pages[bisect.bisect(self.in_cum, r * self.in_cum[-1])]
            return "Downgrade" if page == "Upgrade" and level == '"paid"' else page
        if not visitor and r < 0.6:
            return "Login"
        return self.out_pages[bisect.bisect(self.out_cum, self.rng.random() * self.out_cum[-1])]

    def song(self) -> tuple[str, str, str]:
        """A song for a NextSong event; matched to song_data at --match-share, held there by feedback."""
        r = self.rng.random
        pull = (self.match_share * self.plays - self.matched) / MATCH_PULL
        self.plays += 1
        if r() < self.match_share + pull:
            self.matched += 1
            return self.catalogue.songs[int(len(self.catalogue.songs) * r() ** 2.5)]
        return self.catalogue.ghosts[int(len(self.catalogue.ghosts) * r() ** 2)]

    def session_events(self, session: Session) -> Iterator[tuple[int, int, int, str]]:
        rng, user, sid, planting, follow_ups = self.rng, session.user, session.sid, self.planting, self.follow_ups
        visitor = user < 0
        level = '"free"' if visitor else self.users.levels[user]
        logged_in = not visitor and (session.cancel or rng.random() >= START_LOGGED_OUT)
        follow: str | None = None
        ts = session.start
        for item in range(len(session.gaps) + 1 - 2 * session.cancel):
            if item:
                ts += session.gaps[item - 1]
            page = follow or self.next_page(logged_in, level, visitor)
            follow = None
            artist = length = song = "null"
            if page == "NextSong":
                planted = self.planted_play(user) if planting else None
                artist, length, song = planted or self.song()
            user_fragments = self.users.fragments[user] if logged_in else LOGGED_OUT
            name_gender, last, location, registration, agent_user = user_fragments
            method_page, status = self.http[page]
            auth = '"Logged In"' if logged_in else '"Logged Out"'
            yield ts, sid, item, event_line(artist, auth, name_gender, item, last, length, level, location,
                                            method_page, registration, sid, song, status, ts, agent_user)
            if logged_in:
                self.active.add(user)
            if planting:
                self.tally(user if logged_in else -1, page, level, ts)
            # What the page changes for the events after it.
            if page in follow_ups and rng.random() < follow_ups[page][1]:
                follow = follow_ups[page][0]
            elif status == 307 and page not in STAY_ON_PAGE:
                follow = "Home"  # forms redirect to Home
                if page == "Login":
                    logged_in = True
                elif page == "Logout":
                    logged_in = False
                elif page == "Submit Upgrade":
                    level = '"paid"'
                elif page == "Submit Downgrade":
                    level = '"free"'
        if session.cancel:
            yield from self.cancel_events(session, ts, level)
        self.events += len(session.gaps) + 1
        if not visitor:
            self.users.levels[user] = level

    def planted_play(self, user: int) -> tuple[str, str, str] | None:
        """--plant (PlantedWriter): a planted song for this play, or None."""
        raise NotImplementedError

    def tally(self, user: int, page: str, level: str, ts: int) -> None:
        """--plant (PlantedWriter): count an event for planted.json."""
        raise NotImplementedError

    def cancel_events(self, session: Session, ts: int, level: str) -> Iterator[tuple[int, int, int, str]]:
        """The last two events of a cancelling session, logged in: Cancel, then its confirmation."""
        user, sid = session.user, session.sid
        name_gender, last, location, registration, agent_user = self.users.fragments[user]
        for item in (len(session.gaps) - 1, len(session.gaps)):
            ts += session.gaps[item - 1]
            page = "Cancel" if item < len(session.gaps) else "Cancellation Confirmation"
            method_page, status = self.http[page]
            auth = '"Logged In"' if page == "Cancel" else '"Cancelled"'  # as the real logs write it
            yield ts, sid, item, event_line("null", auth, name_gender, item, last, "null", level, location,
                                            method_page, registration, sid, "null", status, ts, agent_user)
            self.tally(user, page, level, ts)


# ----------------------------------------------------------------------------- --plant


def climber(n: int) -> tuple[str, str]:
    return f"Planted Climber {n}", f"The Planted Climbers {n}"


def day_of(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).date()


@dataclass
class Tally:
    """What planted.json reports, counted over every event written, with the shared definitions
    (GUIDE: funnel, churn). A user's events are written in time order, so "at or after their first …"
    is "seen after it"."""

    pages: Counter[str] = field(default_factory=Counter)
    free_listeners: set[int] = field(default_factory=set)  # a NextSong at level free
    upgrade_page: set[int] = field(default_factory=set)  # … then an Upgrade
    submit_upgrade: set[int] = field(default_factory=set)  # … then a Submit Upgrade
    paid_users: set[int] = field(default_factory=set)  # any event at level paid
    downgrade_page: set[int] = field(default_factory=set)  # a Downgrade (of paid users: at the end)
    submit_downgrade: set[int] = field(default_factory=set)  # … then a Submit Downgrade
    churned: dict[int, dt.date] = field(default_factory=dict)  # user -> day of Cancellation Confirmation
    plays: dict[str, Counter[str]] = field(default_factory=dict)  # planted song -> window -> plays
    listeners: dict[str, dict[str, set[int]]] = field(default_factory=dict)

    def note(self, user: int, page: str, level: str, ts: int) -> None:
        self.pages[page] += 1
        if user < 0:
            return
        if level == '"paid"':
            self.paid_users.add(user)
        if page == "NextSong":
            if level == '"free"':
                self.free_listeners.add(user)
        elif page == "Upgrade":
            if user in self.free_listeners:
                self.upgrade_page.add(user)
        elif page == "Submit Upgrade":
            if user in self.upgrade_page:
                self.submit_upgrade.add(user)
        elif page == "Downgrade":
            self.downgrade_page.add(user)
        elif page == "Submit Downgrade":
            if user in self.downgrade_page:
                self.submit_downgrade.add(user)
        elif page == "Cancellation Confirmation":
            self.churned[user] = day_of(ts)

    def played(self, which: str, window: str, user: int) -> None:
        self.plays.setdefault(which, Counter())[window] += 1
        self.listeners.setdefault(which, {}).setdefault(window, set()).add(user)

    def song(self, which: str, title: str, artist: str) -> dict[str, Any]:
        plays, listeners = self.plays.get(which, Counter()), self.listeners.get(which, {})
        return {"song": title, "artist": artist, "plays_before": plays["before"], "plays_last_7": plays["last"],
                "listeners_before": len(listeners.get("before", ())),
                "listeners_last_7": len(listeners.get("last", ()))}

    def funnel(self) -> dict[str, int]:
        paid = self.paid_users
        return {"free_listeners": len(self.free_listeners), "upgrade_page": len(self.upgrade_page),
                "submit_upgrade": len(self.submit_upgrade), "paid_users": len(paid),
                "downgrade_page": len(self.downgrade_page & paid),
                "submit_downgrade": len(self.submit_downgrade & paid)}

    def churned_by_week(self) -> dict[str, int]:
        weeks = Counter((day - dt.timedelta(day.weekday())).isoformat() for day in self.churned.values())
        return dict(sorted(weeks.items()))


@dataclass
class PlantedWriter(EventWriter):
    """EventWriter for --plant: the full page set, the planted songs, cancellations, and the tally.
    Each day has a quota of plays per planted song, spread over the day's plays."""

    days: int = 0
    counts: Tally = field(default_factory=Tally)
    cancel_days: dict[int, tuple[int, ...]] = field(default_factory=dict)  # day -> users who cancel
    quotas: dict[int, Counter[str]] = field(default_factory=dict)  # day -> planted song -> plays that day
    small_listeners: set[int] = field(default_factory=set)  # of the small song in the last week
    cancelling: bool = False  # the session being written ends in a cancellation
    # The day being written: its index, window, plays so far and expected, and what is still to plant.
    day: int = 0
    window: str = ""
    day_plays: int = 0
    expected: float = 1.0
    due: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.planting = True
        self.follow_ups = PLANTED_FOLLOW_UPS
        self.free_pages, self.free_cum = cumulative(PLANTED_PAGES)
        self.paid_pages, self.paid_cum = cumulative(tuple(p for p in PLANTED_PAGES if p[0] != "Roll Advert"))
        self.weights = [b - a for a, b in itertools.pairwise([0.0, *self.users.cum_weights])]
        self.songs = {**{"rising": self.catalogue.rising, "small": self.catalogue.small},
                      **{f"climber {n}": song for n, song in enumerate(self.catalogue.climbers, 1)}}
        self.plan()

    def window_of(self, d: int) -> str:
        last_week = self.days - TREND_DAYS
        return "last" if d >= last_week else "before" if d >= last_week - BEFORE_DAYS else "earlier"

    def plan(self) -> None:
        """Who cancels on which day, and each planted song's plays per day."""
        rng, users, days = self.rng, len(self.users.levels), self.days
        # Not the last user: a rounding at the top of the weights falls on it (plan_day's min()).
        churners = rng.sample(range(users - 1), max(2, round(users * CHURN_SHARE)))
        by_day: dict[int, list[int]] = {}
        for user in churners:
            by_day.setdefault(rng.randrange(1, days), []).append(user)
        self.cancel_days = {d: tuple(us) for d, us in by_day.items()}
        self.quotas = {d: Counter() for d in range(days)}
        windows = {w: [d for d in range(days) if self.window_of(d) == w] for w in ("earlier", "before", "last")}
        for d in range(days):
            self.quotas[d]["rising"] = RISING_PLAYS if d in windows["last"] else 1
        self.quotas[rng.choice(windows["before"][:-1])]["small"] = 1  # not on its last day: room to carry
        for d in rng.sample(windows["last"], 3):
            self.quotas[d]["small"] = 1
        for n in range(1, CLIMBERS + 1):
            for w, per_day in CLIMBING.items():
                for d in rng.choices(windows[w], k=round(per_day * len(windows[w]))) if windows[w] else ():
                    self.quotas[d][f"climber {n}"] += 1

    def start_day(self, d: int, budget: int) -> tuple[int, ...]:
        """Start planting day d; returns the users who cancel today."""
        self.day, self.day_plays, self.expected = d, 0, max(1.0, budget * PLAY_SHARE)
        self.window = self.window_of(d)
        self.due.update(self.quotas[d])
        return self.cancel_days.get(d, ())

    def end_day(self) -> None:
        """Users who cancelled today never come back; what could not be planted moves to the next day
        of the same window."""
        for user in self.cancel_days.get(self.day, ()):
            self.weights[user] = 0.0
        if self.day in self.cancel_days:
            self.users.cum_weights = list(itertools.accumulate(self.weights))
        self.due = +self.due
        if self.due and (self.day + 1 == self.days or self.window_of(self.day + 1) != self.window):
            raise DwhError("too few plays a day for what --plant plants; add --events")

    def planted_play(self, user: int) -> tuple[str, str, str] | None:
        """Turn this play into a planted song's with the chance that spreads what is due over the
        plays the day is expected to have; the small song's plays in the last week need new listeners."""
        k, self.day_plays = self.day_plays, self.day_plays + 1
        due = sum(self.due.values())
        if not due or self.rng.random() * max(1.0, self.expected - k) >= due:
            return None
        songs = list(self.due)  # in a fixed order: the songs' first day, then plan order
        which = songs[bisect.bisect(list(itertools.accumulate(self.due.values())), self.rng.random() * due)]
        if which == "small" and self.window == "last" and user in self.small_listeners:
            return None
        if which == "small" and self.window == "last":
            self.small_listeners.add(user)
        self.due[which] -= 1
        self.counts.played(which, self.window, user)
        self.plays += 1
        self.matched += which == "rising"  # the rising song is in song_data
        return self.songs[which]

    def next_page(self, logged_in: bool, level: str, visitor: bool) -> str:
        if not logged_in:
            return super().next_page(logged_in, level, visitor)
        free = level == '"free"'
        pages, cum = (self.free_pages, self.free_cum) if free else (self.paid_pages, self.paid_cum)
        page = pages[bisect.bisect(cum, self.rng.random() * cum[-1])]
        if page == "Upgrade" and not free:
            return "Downgrade"
        if page == "Logout" and self.cancelling:
            return "Home"  # a user about to cancel stays logged in
        return page

    def session_events(self, session: Session) -> Iterator[tuple[int, int, int, str]]:
        self.cancelling = session.cancel
        return super().session_events(session)

    def tally(self, user: int, page: str, level: str, ts: int) -> None:
        self.counts.note(user, page, level, ts)

    def planted(self, first_day: dt.date) -> dict[str, Any]:
        """planted.json: the known answers."""
        counts = self.counts
        return {"rising_song": counts.song("rising", *RISING), "small_song": counts.song("small", *SMALL),
                "climbing_songs": [counts.song(f"climber {n}", *climber(n)) for n in range(1, CLIMBERS + 1)],
                "funnel": counts.funnel(), "churned_by_week": counts.churned_by_week(),
                "churned_users": sorted(user + 1 for user in counts.churned),
                "days": self.days, "first_day": first_day.isoformat(),
                "last_day": (first_day + dt.timedelta(self.days - 1)).isoformat(),
                "events": self.events, "pages": dict(sorted(counts.pages.items()))}


# ----------------------------------------------------------------------------- output


class Sink:
    """Stores files concurrently (creating files and uploading both wait on the system, not on Python).
    What is queued or being written is bounded in bytes, so memory stays flat however slow the target.
    The content never depends on the order the writes finish in."""

    def __init__(self, workers: int, batch: int, max_bytes: int = 64 << 20) -> None:
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="writer")
        self.batch = batch  # files per task: a task per small file costs more than writing it
        self.max_bytes = max_bytes
        self.in_flight = 0  # bytes queued or being written
        self.room = threading.Condition()
        self.pending: list[tuple[str, bytes]] = []
        self.failure: BaseException | None = None

    def store(self, relative: str, body: bytes) -> None:
        raise NotImplementedError

    def prepare(self, force: bool) -> None:
        """Refuse to mix with an earlier dataset; with force, remove it."""
        raise NotImplementedError

    def put(self, relative: str, body: bytes) -> None:
        self.pending.append((relative, body))
        if len(self.pending) >= self.batch:
            self._flush()

    def put_lines(self, relative: str, lines: Iterable[str]) -> None:
        self.put(relative, "".join(lines).encode("ascii"))
        self._flush()  # a day file is big: send it on its way now

    def _flush(self) -> None:
        self._check()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        size = sum(len(body) for _, body in batch)
        with self.room:  # wait for room; a body bigger than the bound goes alone
            self.room.wait_for(lambda: not self.in_flight or self.in_flight + size <= self.max_bytes)
            self.in_flight += size
        self.pool.submit(self._store_all, batch).add_done_callback(lambda future: self._done(future, size))

    def _store_all(self, batch: list[tuple[str, bytes]]) -> None:
        for relative, body in batch:
            self.store(relative, body)

    def _done(self, future: Future[None], size: int) -> None:
        with self.room:
            self.in_flight -= size
            self.room.notify_all()
        if not future.cancelled() and future.exception() and self.failure is None:
            self.failure = future.exception()

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def close(self, failed: bool = False) -> None:
        """Wait for the writes; after a failure elsewhere, drop the queued ones and keep quiet."""
        if self.pending and not failed:
            self._flush()
        self.pool.shutdown(wait=True, cancel_futures=failed or self.failure is not None)
        if not failed:
            self._check()


class LocalSink(Sink):
    """Files under a folder."""

    def __init__(self, root: Path) -> None:
        super().__init__(workers=4, batch=256)
        self.root = root
        self.folders: set[str] = set()

    def _path(self, relative: str) -> str:
        path = f"{self.root}/{relative}"
        folder = path.rpartition("/")[0]
        if folder not in self.folders:
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise DwhError(f"cannot create {folder}: {exc.strerror}") from None
            self.folders.add(folder)
        return path

    def store(self, relative: str, body: bytes) -> None:
        path = self._path(relative)
        try:  # the bare system calls: the files are many and small
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                os.write(fd, body)
            finally:
                os.close(fd)
        except OSError as exc:
            raise DwhError(f"cannot write {path}: {exc.strerror}") from None

    def put_lines(self, relative: str, lines: Iterable[str]) -> None:
        """Streamed: a day file is never held in memory whole."""
        path = self._path(relative)
        try:
            with open(path, "w", encoding="ascii", newline="") as f:
                f.writelines(lines)
        except OSError as exc:
            raise DwhError(f"cannot write {path}: {exc.strerror}") from None

    def prepare(self, force: bool) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DwhError(f"{self.root} is a file, not a folder")
        for name in ("song_data", "log_data"):
            existing = self.root / name
            if existing.is_dir() and any(existing.iterdir()):
                if not force:
                    raise DwhError(f"{existing} already holds data; use --force to replace it")
                shutil.rmtree(existing)
        planted = self.root / PLANTED  # a stale one would give the wrong answers for new data
        if planted.is_file():
            if not force:
                raise DwhError(f"{planted} is from an earlier dataset; use --force to replace it")
            planted.unlink()


class S3Sink(Sink):
    """Objects under s3://bucket/prefix, uploaded concurrently."""

    def __init__(self, uri: str, client: Any) -> None:
        super().__init__(workers=16, batch=4)
        self.bucket, prefix = s3.split_s3_uri(uri)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client

    def store(self, relative: str, body: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.prefix + relative
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        except (BotoCoreError, ClientError) as exc:
            where = f"cannot write s3://{self.bucket}/{key}"
            raise SourceError(s3.describe_aws_error(exc, where)) from None

    def _keys(self, folder: str) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + folder + "/"):
            yield from (o["Key"] for o in page.get("Contents", []))

    def prepare(self, force: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"s3://{self.bucket}/{self.prefix}"
        try:
            for name in ("song_data", "log_data"):
                if next(self._keys(name), None) is None:
                    continue
                if not force:
                    raise DwhError(f"{where}{name}/ already holds data; use --force to replace it")
                keys = self._keys(name)
                while batch := list(itertools.islice(keys, 1000)):  # delete_objects takes up to 1000
                    answer = self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
                    if answer.get("Errors"):
                        error = answer["Errors"][0]
                        raise SourceError(f"cannot delete s3://{self.bucket}/{error.get('Key')}: "
                                              f"{error.get('Code')} {error.get('Message', '')}".rstrip())
            planted = self.prefix + PLANTED  # a stale one would give the wrong answers for new data
            listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=planted, MaxKeys=1)
            if any(o["Key"] == planted for o in listed.get("Contents", [])):
                if not force:
                    raise DwhError(f"{where}{PLANTED} is from an earlier dataset; use --force to replace it")
                self.client.delete_object(Bucket=self.bucket, Key=planted)
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(s3.describe_aws_error(exc, f"cannot list or clear {where}")) from None


def open_sink(args: argparse.Namespace) -> Sink:
    if s3.is_s3(args.out):
        return S3Sink(args.out, s3.s3_client(settings.load_config(args.config)))
    return LocalSink(Path(args.out).expanduser())


# ----------------------------------------------------------------------------- script


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return value


def day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2018-11-01") from None


def parse_args() -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.split("\n\n")[0], json_help=None)
    parser.add_argument("out", metavar="OUT",
                        help="folder or s3://bucket/prefix to write song_data/ and log_data/ in")
    parser.add_argument("--days", type=positive, default=30, help="days of event logs (default: 30)")
    parser.add_argument("--start", type=day, default=dt.date(2018, 11, 1),
                        help="first day, UTC (default: 2018-11-01)")
    parser.add_argument("--users", type=positive, default=100, help="users (default: 100)")
    parser.add_argument("--songs", type=positive, default=1000, help="song files (default: 1000)")
    parser.add_argument("--events", type=count, default=10_000, help="events over all days (default: 10000)")
    parser.add_argument("--match-share", type=share, default=0.7,
                        help="share of NextSong events that name a generated song exactly (default: 0.7)")
    parser.add_argument("--seed", type=int, default=42,
                        help="random seed: the same arguments give the same bytes (default: 42)")
    parser.add_argument("--force", action="store_true",
                        help=f"replace song_data/, log_data/ and {PLANTED} already in OUT (old files are removed)")
    shaping = parser.add_argument_group(
        "shaping the daily event counts (any of these: each day's count gets Poisson-sized noise instead of "
        "the default's quiet weekends and +-40% day-to-day swings; --events stays the total)")
    shaping.add_argument("--weekly", metavar="A", type=share, default=0.0,
                         help="weekly pattern of amplitude A (0 to 1): a day's count is multiplied by "
                              "1 + A x shape[ISO weekday], shape = "
                              + " ".join(f"{v:+g}" for v in WEEKLY_SHAPE.values()) + " (Mon..Sun, mean 0)")
    shaping.add_argument("--trend", metavar="G", type=float, default=0.0,
                         help="linear trend: day d (from 0) has 1 + G x d times the first day's count "
                              "(G may be negative while every day stays above 0)")
    shaping.add_argument("--random-walk", metavar="S", type=share, default=0.0,
                         help="geometric random walk of the daily count with no weekly shape: a day is "
                              "the same weekday a week before times a random step, log-step sd S, so "
                              "seasonal-naive is the best forecast (0 to 1; replaces --weekly, keeps --trend)")
    parser.add_argument("--plant", action="store_true",
                        help=f"plant behaviour with known answers and write them to OUT/{PLANTED}: the full "
                             "page set (Thumbs Up/Down, Add to Playlist, Add Friend, Roll Advert for free users, "
                             f"Cancel), the rising song {RISING[0]!r} by {RISING[1]!r} (about 1 play a day, "
                             f"then about {RISING_PLAYS} a day in the last 7 days), the small song "
                             f"{SMALL[0]!r} by {SMALL[1]!r} (1 play in the 21 days before the last 7, then 3 "
                             f"by 3 listeners), and {CHURN_SHARE:.0%}% of the users cancelling (no event "
                             f"after it); {PLANTED} has the funnel and churn counts of every event written. "
                             f"Needs --days {TREND_DAYS + BEFORE_DAYS} or more and 200 events a day")
    args = parser.parse_args()
    if 1 + args.trend * (args.days - 1) <= 0:
        parser.error(f"argument --trend: {args.trend:g} makes the last of {args.days} days empty")
    if args.plant and args.days < TREND_DAYS + BEFORE_DAYS:
        parser.error(f"argument --plant: needs --days {TREND_DAYS + BEFORE_DAYS} or more (the trending window "
                     f"and the {BEFORE_DAYS} days before it)")
    if args.plant and (args.events < 200 * args.days or args.users < 10):
        parser.error("argument --plant: needs 200 events a day (--events) and 10 --users or more")
    return args


def write_songs(sink: Sink, rng: random.Random, args: argparse.Namespace,
                progress: console.Progress) -> Catalogue:
    """The song files, then the songs events play that have no file."""
    catalogue = Catalogue(files=args.songs)
    keys: set[tuple[str, str, float]] = set()  # (title, artist, duration) of every song, to keep ghosts apart
    for n, (path, body) in enumerate(song_files(rng, args.songs, catalogue, keys), 1):
        sink.put(path, body)
        if n % 1024 == 0:
            progress(lambda n=n: f"songs: {n:,} of {args.songs:,} written")
    add_ghosts(rng, catalogue, keys, max(100, args.songs // 2))
    if args.plant:  # no generated title or artist uses the word "Planted": these names are unique
        path, body, duration = planted_song_file(rng, *RISING, set())
        sink.put(path, body)
        catalogue.files += 1
        catalogue.rising = (log_json(RISING[1]), duration, log_json(RISING[0]))
        catalogue.small = (log_json(SMALL[1]), repr(song_duration(rng)), log_json(SMALL[0]))
        catalogue.climbers = [(log_json(climber(n)[1]), repr(song_duration(rng)), log_json(climber(n)[0]))
                              for n in range(1, CLIMBERS + 1)]
    return catalogue


def write_logs(sink: Sink, rng: random.Random, args: argparse.Namespace,
               catalogue: Catalogue, progress: console.Progress) -> tuple[EventWriter, int]:
    """One file per day with events; returns the writer (with its counts) and the number of files."""
    start_ms = int(dt.datetime.combine(args.start, dt.time(), dt.UTC).timestamp() * 1000)
    users = make_users(rng, args.users, start_ms)
    shaped = args.weekly or args.trend or args.random_walk
    budgets = shaped_budgets(rng, args) if shaped else day_budgets(rng, args.events, args.start, args.days)
    if args.plant:
        writer: EventWriter = PlantedWriter(rng, users, catalogue, args.match_share, days=args.days)
    else:
        writer = EventWriter(rng, users, catalogue, args.match_share)
    files = 0
    for d, budget in enumerate(budgets):
        if not budget:
            continue  # the app writes no file for a day without events
        date = args.start + dt.timedelta(d)
        cancelling = writer.start_day(d, budget) if isinstance(writer, PlantedWriter) else ()
        sessions = plan_day(rng, users, start_ms + d * DAY_MS, budget, cancelling)
        sink.put_lines(f"log_data/{date:%Y/%m/%Y-%m-%d}-events.json", writer.day_lines(sessions))
        if isinstance(writer, PlantedWriter):
            writer.end_day()
        files += 1
        progress(lambda date=date: f"events: {writer.events:,} of {args.events:,} written (up to {date})")
    if isinstance(writer, PlantedWriter):  # beside log_data/ and song_data/, never inside them
        sink.put(PLANTED, (json.dumps(writer.planted(args.start), indent=2) + "\n").encode())
        files += 1
    return writer, files


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    rng = random.Random(args.seed)  # the only source of randomness: same arguments, same bytes
    progress = console.Progress()
    sink = open_sink(args)
    sink.prepare(args.force)
    try:
        catalogue = write_songs(sink, rng, args, progress)
        writer, day_files = write_logs(sink, rng, args, catalogue, progress)
    except BaseException:
        sink.close(failed=True)
        raise
    sink.close()
    matched = writer.matched / writer.plays if writer.plays else 0.0
    print(f"{writer.events:,} events ({writer.plays:,} NextSong, {matched:.1%} matched to a song), "
          f"{catalogue.files:,} songs by {len(catalogue.artist_names) + args.plant:,} artists, "
          f"{len(writer.active):,} of {args.users:,} users active, {catalogue.files + day_files:,} files "
          f"in {time.monotonic() - started:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
