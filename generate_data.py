"""Write a synthetic Sparkify dataset in the exact source layout of the real one.

    song_data/A/B/C/TR….json            one song object per file (Million Song Dataset style)
    log_data/YYYY/MM/YYYY-MM-DD-events.json  the app's events of one day, one object per line

Output goes to a folder or to s3://bucket/prefix. The same arguments give byte-identical output.
A share of the NextSong events (--match-share) names a generated song exactly (title, artist name and
duration); the rest name songs that are not in song_data, as in the real data.

Options that plant behaviour with known answers (for the analytics, trends and report tests):
--weekly, --trend and --random-walk shape the daily event counts (with Poisson-sized daily noise), and
--shocks multiplies each day's count by a random factor (a busy day, a quiet one);
--plant adds the full page set, a rising song, a song going from 1 play to 3, users who cancel, and
writes OUT/planted.json with the exact funnel and churn counts of what was written.

--lifecycle is the demo's realism: users sign up over the period (registration is the sign-up time),
sessions walk a page state machine with the full page set, free users upgrade, paid users downgrade,
some cancel and stop, and a few new releases a week rise in the charts.

    python generate_data.py OUT [--days 30] [--start 2018-11-01] [--users 100] [--songs 1000]
                                [--events 10000] [--match-share 0.7] [--seed 42] [--force]
                                [--weekly A] [--trend G] [--random-walk S] [--shocks S] [--plant]
                                [--lifecycle]

Without --plant nothing trends: every play picks its song from the same popularity, so every song
keeps its share of the traffic from day to day (the null data set of the trending tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from sparkify_dwh import cli, console
from sparkify_dwh.demo_data import (
    BEFORE_DAYS,
    CHURN_SHARE,
    PLANTED,
    RISING,
    RISING_PLAYS,
    SMALL,
    TREND_DAYS,
    WEEKLY_SHAPE,
    open_sink,
    write_logs,
    write_songs,
)
from sparkify_dwh.demo_lifecycle import EXISTING_SHARE, write_lifecycle_logs

# ----------------------------------------------------------------------------- vocabulary


# ----------------------------------------------------------------------------- serialization


# ----------------------------------------------------------------------------- songs


# ----------------------------------------------------------------------------- users and sessions


# ----------------------------------------------------------------------------- events


# ----------------------------------------------------------------------------- --plant


# ----------------------------------------------------------------------------- output


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
    shaping.add_argument("--shocks", metavar="S", type=share, default=0.0,
                         help="day-level multiplicative shocks: each day's count is multiplied by "
                              "exp(N(0, S) - S^2/2), independently (mean 1; 0 to 1; e.g. 0.1 for +-10%%)")
    parser.add_argument("--plant", action="store_true",
                        help=f"plant behaviour with known answers and write them to OUT/{PLANTED}: the full "
                             "page set (Thumbs Up/Down, Add to Playlist, Add Friend, Roll Advert for free users, "
                             f"Cancel), the rising song {RISING[0]!r} by {RISING[1]!r} (about 1 play a day, "
                             f"then about {RISING_PLAYS} a day in the last 7 days), the small song "
                             f"{SMALL[0]!r} by {SMALL[1]!r} (1 play in the 21 days before the last 7, then 3 "
                             f"by 3 listeners), and {CHURN_SHARE:.0%}% of the users cancelling (no event "
                             f"after it); {PLANTED} has the funnel and churn counts of every event written. "
                             f"Needs --days {TREND_DAYS + BEFORE_DAYS} or more and 200 events a day")
    parser.add_argument("--lifecycle", action="store_true",
                        help="users sign up over the days and some cancel: "
                             f"{EXISTING_SHARE:.0%}% signed up before the first day, the rest sign up during "
                             "it (registration is the sign-up time, shortly before the user's first session) "
                             "and start free; sessions walk a page state machine in the spirit of eventsim "
                             "with the full page set, so free users upgrade and paid users downgrade; users "
                             "who cancel have no event after their Cancellation Confirmation; the day's "
                             "events follow the activity of the users signed up and not cancelled (new "
                             "users are busiest in their first weeks), times the shaping options; a few "
                             "songs a week are new releases that rise in the charts. Not with --plant")
    args = parser.parse_args()
    if args.lifecycle and args.plant:
        parser.error("argument --lifecycle: not allowed with --plant (--plant plans its own cancellations)")
    if 1 + args.trend * (args.days - 1) <= 0:
        parser.error(f"argument --trend: {args.trend:g} makes the last of {args.days} days empty")
    if args.plant and args.days < TREND_DAYS + BEFORE_DAYS:
        parser.error(f"argument --plant: needs --days {TREND_DAYS + BEFORE_DAYS} or more (the trending window "
                     f"and the {BEFORE_DAYS} days before it)")
    if args.plant and (args.events < 200 * args.days or args.users < 10):
        parser.error("argument --plant: needs 200 events a day (--events) and 10 --users or more")
    return args


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    rng = random.Random(args.seed)  # the only source of randomness: same arguments, same bytes
    progress = console.Progress()
    sink = open_sink(args)
    sink.prepare(args.force)
    try:
        catalogue = write_songs(sink, rng, args, progress)
        write = write_lifecycle_logs if args.lifecycle else write_logs
        writer, day_files = write(sink, rng, args, catalogue, progress)
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
