"""generate_data.py --lifecycle: users who sign up over the period and some who cancel, sessions that
walk a page state machine in the spirit of eventsim (the simulator behind Sparkify's logs), and new
releases that rise in the charts. Deterministic by seed, like the rest of the generator (demo_data)."""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from sparkify_dwh import console
from sparkify_dwh.demo_catalogue import Catalogue
from sparkify_dwh.demo_data import (
    DAY_MS,
    EventWriter,
    Session,
    Sink,
    Users,
    cumulative,
    make_users,
    plan_day,
    shaped_budgets,
)

EXISTING_SHARE = 0.35  # users who signed up before the first day (in no cohort); the rest sign up during it


MEAN_LIFETIME = 320.0  # days from sign-up to cancellation, on average (exponential): ~1 in 4 cancel in 90 days


ACTIVITY_DECAY = 14.0  # days: a new user's first weeks are their busiest ...
KEPT_ACTIVITY = (0.08, 0.8)  # ... then each keeps a share of it drawn from this range (retention decays)


SIGN_UP_LEAD_MS = (30_000, 900_000)  # registration comes this long before the first session starts


NEW_RELEASE_SHARE = 0.03  # plays of the week's new releases (a few songs a week; recent ones most)
RELEASES_A_WEEK = 3
RELEASES_PLAYED = 12  # only the latest releases are still played as new ones


# A logged-in user's next page given the page before, each page with its own transition probabilities,
# as eventsim walks its state machine. "Upgrade" is Downgrade for a paid user; a paid user's draw of
# "Roll Advert" is a NextSong (adverts roll for free users only). Overall shares come out near Sparkify's
# logs: NextSong ~80%, Thumbs Up ~4.5%, Add to Playlist ~2.5%, Add Friend ~1.5%, Thumbs Down ~1%.
# Forms (Save Settings, Submit Upgrade/Downgrade, Logout) redirect to Home: their next page is Home.
TRANSITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "": (("NextSong", 0.8), ("Home", 0.1), ("Settings", 0.02), ("Upgrade", 0.02), ("Help", 0.01),
         ("Add Friend", 0.02), ("Roll Advert", 0.03)),  # the session's first page, logged in
    "NextSong": (("NextSong", 0.82), ("Thumbs Up", 0.05), ("Thumbs Down", 0.011), ("Add to Playlist", 0.028),
                 ("Add Friend", 0.013), ("Roll Advert", 0.02), ("Home", 0.03), ("Settings", 0.005),
                 ("Upgrade", 0.006), ("Help", 0.005), ("About", 0.002), ("Error", 0.001), ("Logout", 0.009)),
    "Home": (("NextSong", 0.76), ("Settings", 0.03), ("Upgrade", 0.04), ("Help", 0.03), ("About", 0.02),
             ("Add Friend", 0.03), ("Roll Advert", 0.03), ("Logout", 0.055), ("Error", 0.005)),
    "Thumbs Up": (("NextSong", 0.92), ("Add to Playlist", 0.04), ("Add Friend", 0.02), ("Home", 0.02)),
    "Thumbs Down": (("NextSong", 0.88), ("Thumbs Down", 0.04), ("Home", 0.05), ("Logout", 0.03)),
    "Add to Playlist": (("NextSong", 0.93), ("Add to Playlist", 0.04), ("Home", 0.03)),
    "Add Friend": (("NextSong", 0.85), ("Add Friend", 0.1), ("Home", 0.05)),
    "Roll Advert": (("NextSong", 0.84), ("Roll Advert", 0.04), ("Upgrade", 0.07), ("Home", 0.05)),
    "Settings": (("Save Settings", 0.3), ("Home", 0.35), ("NextSong", 0.35)),
    "Upgrade": (("Submit Upgrade", 0.22), ("Home", 0.38), ("NextSong", 0.4)),
    "Downgrade": (("Submit Downgrade", 0.12), ("Home", 0.38), ("NextSong", 0.5)),
    "Help": (("Home", 0.35), ("NextSong", 0.45), ("Help", 0.05), ("Error", 0.05), ("About", 0.05),
             ("Logout", 0.05)),
    "About": (("Home", 0.5), ("NextSong", 0.45), ("Help", 0.05)),
    "Error": (("Home", 0.5), ("Help", 0.2), ("NextSong", 0.3)),
}


REDIRECTED = {"Login", "Logout", "Save Settings", "Submit Upgrade", "Submit Downgrade"}  # to Home


# Users who will cancel are unhappier on the way: more thumbs down, fewer thumbs up.
UNHAPPY = {"Thumbs Down": 1.6, "Thumbs Up": 0.8}


@dataclass
class Lifecycle:
    """Each user's sign-up day (-1: before the data), cancellation day (`days`: never) and activity."""

    arrival: list[int]
    cancel: list[int]
    base: list[float]  # how active the user is
    kept: list[float]  # the share of a new user's first-weeks activity kept later on
    days: int

    def activity(self, user: int, d: int) -> float:
        arrival = self.arrival[user]
        if d < arrival or d > self.cancel[user]:
            return 0.0
        if arrival < 0:
            return self.base[user]
        kept = self.kept[user]
        return self.base[user] * (kept + (1 - kept) * math.exp(-(d - arrival) / ACTIVITY_DECAY))

    def by_day(self, d: int) -> list[float]:
        return [self.activity(user, d) for user in range(len(self.arrival))]

    def on_day(self, which: list[int], d: int) -> tuple[int, ...]:
        return tuple(user for user, day in enumerate(which) if day == d)


def plan_lifecycle(rng: random.Random, users: Users, days: int) -> Lifecycle:
    """Sign-up and cancellation days: the old users from the first day, new ones spread evenly
    over the days; new users start free."""
    base = [b - a for a, b in itertools.pairwise([0.0, *users.cum_weights])]
    arrival, cancel, kept = [], [], []
    for user in range(len(base)):
        first = -1 if rng.random() < EXISTING_SHARE else rng.randrange(days)
        if first >= 0:
            users.levels[user] = '"free"'
        last = max(first, 0) + 1 + int(rng.expovariate(1 / MEAN_LIFETIME))
        arrival.append(first)
        cancel.append(min(last, days))
        kept.append(rng.uniform(*KEPT_ACTIVITY))
    return Lifecycle(arrival, cancel, base, kept, days)


@dataclass
class LifecycleWriter(EventWriter):
    """EventWriter for --lifecycle: the page state machine, the new releases, no planting."""

    unhappy: set[int] = field(default_factory=set)  # users who cancel within the data
    releases: list[tuple[str, str, str]] = field(default_factory=list)  # released so far, oldest first
    previous: str = ""  # the page the state machine is on
    cancelling: bool = False  # the session being written ends in a cancellation
    is_unhappy: bool = False  # … or its user's does later

    def __post_init__(self) -> None:
        super().__post_init__()
        self.follow_ups = {}  # the state machine's rows hold the forms' submissions
        self.rows: dict[tuple[str, bool, bool], tuple[list[str], list[float]]] = {}
        for page, row in TRANSITIONS.items():
            for paid, unhappy in itertools.product((False, True), repeat=2):
                weights: dict[str, float] = {}
                for target, p in row:
                    if paid and target == "Upgrade":
                        target = "Downgrade"
                    elif paid and target == "Roll Advert":
                        target = "NextSong"
                    weights[target] = weights.get(target, 0.0) + p * (UNHAPPY.get(target, 1.0) if unhappy else 1)
                self.rows[page, paid, unhappy] = cumulative(tuple(weights.items()))

    def next_page(self, logged_in: bool, level: str, visitor: bool) -> str:
        if not logged_in:
            page = super().next_page(logged_in, level, visitor)
        else:
            previous = "Home" if self.previous in REDIRECTED else self.previous
            pages, cum = self.rows.get((previous, level == '"paid"', self.is_unhappy),
                                       self.rows["NextSong", level == '"paid"', self.is_unhappy])
            page = pages[bisect.bisect(cum, self.rng.random() * cum[-1])]
            if page == "Logout" and self.cancelling:
                page = "Home"  # a user about to cancel stays logged in
        self.previous = page
        return page

    def session_events(self, session: Session) -> Iterator[tuple[int, int, int, str]]:
        self.previous, self.cancelling = "", session.cancel
        self.is_unhappy = session.user in self.unhappy
        return super().session_events(session)

    def tally(self, user: int, page: str, level: str, ts: int) -> None:
        """Nothing to count: cancel_events reports its pages here."""

    def release(self, songs: list[tuple[str, str, str]]) -> None:
        self.releases += songs

    def song(self) -> tuple[str, str, str]:
        """A new release at NEW_RELEASE_SHARE, the latest most often; otherwise any song."""
        if self.releases and self.rng.random() < NEW_RELEASE_SHARE:
            self.plays += 1
            self.matched += 1
            latest = self.releases[-RELEASES_PLAYED:]
            return latest[len(latest) - 1 - int(len(latest) * self.rng.random() ** 2)]
        return super().song()


def register(rng: random.Random, users: Users, sessions: list[Session], arriving: tuple[int, ...],
             day_start: int) -> None:
    """Each user signing up today registers shortly before their first session of the day."""
    first: dict[int, Session] = {}
    for session in sessions:  # in start order
        if session.user in arriving:
            first.setdefault(session.user, session)
    for user in arriving:
        first[user].signing_up = True
        signed_up = max(day_start, first[user].start - rng.randrange(*SIGN_UP_LEAD_MS))
        name_gender, last, location, _, agent_user = users.fragments[user]
        users.fragments[user] = (name_gender, last, location, repr(float(signed_up)), agent_user)


def write_lifecycle_logs(sink: Sink, rng: random.Random, args: argparse.Namespace,
                         catalogue: Catalogue, progress: console.Progress) -> tuple[EventWriter, int]:
    """write_logs for --lifecycle: the day's events follow the activity of the users signed up and not
    cancelled (times the shaping options); returns the writer and the number of files."""
    start_ms = int(dt.datetime.combine(args.start, dt.time(), dt.UTC).timestamp() * 1000)
    users = make_users(rng, args.users, start_ms)
    life = plan_lifecycle(rng, users, args.days)
    budgets = shaped_budgets(rng, args, [sum(life.by_day(d)) + 1e-9 for d in range(args.days)])
    writer = LifecycleWriter(rng, users, catalogue, args.match_share,
                             unhappy={u for u, day in enumerate(life.cancel) if day < args.days})
    songs = catalogue.songs
    files = 0
    for d, budget in enumerate(budgets):
        if d % 7 == 0 and songs:
            writer.release([songs[rng.randrange(len(songs) // 2, len(songs))] for _ in range(RELEASES_A_WEEK)])
        activity = life.by_day(d)
        users.cum_weights = list(itertools.accumulate(activity))
        arriving, cancelling = life.on_day(life.arrival, d), life.on_day(life.cancel, d)
        if not users.cum_weights[-1] or not (budget or arriving or cancelling):
            continue  # the app writes no file for a day without events (plan_day refuses too few for these)
        day_start = start_ms + d * DAY_MS
        sessions = plan_day(rng, users, day_start, budget, cancelling, arriving)
        register(rng, users, sessions, arriving, day_start)
        date = args.start + dt.timedelta(d)
        sink.put_lines(f"log_data/{date:%Y/%m/%Y-%m-%d}-events.json", writer.day_lines(sessions))
        files += 1
        progress(lambda date=date: f"events: {writer.events:,} of {args.events:,} written (up to {date})")
    return writer, files
