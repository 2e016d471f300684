"""Every statement the Sparkify warehouse runs, stage by stage, as SQL.

One dialect serves every target: PostgreSQL (the embedded server and a real one) and Amazon
Redshift share the transforms. What Redshift does differently stands right beside the shared
statement as a REDSHIFT_ constant (REDSHIFT_X is what Redshift is sent instead of X), its
physical design (DISTSTYLE, DISTKEY, SORTKEY) in REDSHIFT_LAYOUT. A POSTGRES_ constant is sent to
PostgreSQL only. The rule is applied by sparkify_dwh/dialects.py; sparkify_dwh/statements.py names,
renders and prints these constants (`python sql_queries.py postgres|redshift`).

Parameters use psycopg2's %(name)s style; `since_run` means "the records staged by this run"
(the run's own id) or, for a rebuild, 0: every record ever staged.
"""

from __future__ import annotations

# ============================================================================ 1. tables

# ---------------------------------------------------------------- bookkeeping

ETL_RUNS_CREATE = """
CREATE TABLE IF NOT EXISTS etl_runs (
    run_id           INTEGER        NOT NULL PRIMARY KEY,
    started_at       TIMESTAMP      NOT NULL,
    finished_at      TIMESTAMP,
    outcome          VARCHAR(16)    NOT NULL,   -- running | succeeded | failed
    target           VARCHAR(16)    NOT NULL,
    objects_loaded   INTEGER        NOT NULL DEFAULT 0,
    events_staged    BIGINT         NOT NULL DEFAULT 0,
    songs_staged     BIGINT         NOT NULL DEFAULT 0,
    rows_rejected    BIGINT         NOT NULL DEFAULT 0,
    values_repaired  BIGINT         NOT NULL DEFAULT 0,  -- garbled text values repaired while staging
    songplays_added  BIGINT         NOT NULL DEFAULT 0,
    checks           VARCHAR(16),               -- passed | failed | NULL when not run
    message          VARCHAR(2048),
    toolkit_version  VARCHAR(32),               -- the version that made the run; NULL: before 1.4.0
    unknown_fields   VARCHAR(4096)              -- JSON: per source, the records carrying each field no column reads
) {layout}
"""

LOADED_OBJECTS_CREATE = """
CREATE TABLE IF NOT EXISTS loaded_objects (
    object_id    BIGINT          NOT NULL PRIMARY KEY,
    run_id       INTEGER         NOT NULL,
    source       VARCHAR(8)      NOT NULL,      -- events | songs
    object_key   VARCHAR(1024)   NOT NULL,      -- s3://bucket/key or an absolute file path
    etag         VARCHAR(128),                  -- S3 ETag; for a file its modification time (mtime_ns:…)
    size         BIGINT          NOT NULL,
    records      BIGINT          NOT NULL,      -- rows staged from it
    rejected     BIGINT          NOT NULL       -- records sent to rejects
) {layout}
"""

REJECTS_CREATE = """
CREATE TABLE IF NOT EXISTS rejects (
    run_id       INTEGER         NOT NULL,
    source       VARCHAR(8)      NOT NULL,
    object_key   VARCHAR(1024)   NOT NULL,
    line         INTEGER,                       -- where the record starts; NULL when unknown
    record_no    INTEGER         NOT NULL,      -- its ordinal in the object, from 1
    reason       VARCHAR(512)    NOT NULL,
    record       VARCHAR(4096)                  -- the raw text, cut at 1,000 characters
) {layout}
"""

# The star tables' row counts, kept by every run from its statements' own row counts, so that a
# run reports "rows now" without counting millions of rows (check_data.py verifies them).
TABLE_ROWS_CREATE = """
CREATE TABLE IF NOT EXISTS table_rows (
    table_name  VARCHAR(64)  NOT NULL PRIMARY KEY,
    row_count   BIGINT       NOT NULL,
    run_id      INTEGER      NOT NULL            -- the run that last set it
) {layout}
"""

# Folder sources: the folders whose files were all loaded, so that a run need not stat every
# file again (sources.KnownFolders says when a folder is skipped; S3 sources do not use it).
LISTED_FOLDERS_CREATE = """
CREATE TABLE IF NOT EXISTS listed_folders (
    source      VARCHAR(8)      NOT NULL,
    folder      VARCHAR(1024)   NOT NULL,      -- an absolute folder path
    mtime_ns    BIGINT          NOT NULL,      -- its modification time when its files were loaded
    subfolders  INTEGER         NOT NULL,
    run_id      INTEGER         NOT NULL,
    PRIMARY KEY (source, folder)
) {layout}
"""

# ---------------------------------------------------------------- staging (the raw layer)
# One row per source record, every field typed, plus the run and the object that loaded it.
# VARCHAR sizes are bytes on every target (Redshift counts bytes), so a value that fits on
# PostgreSQL fits on Redshift too. NOT NULL marks the fields a record cannot do without.

STAGING_EVENTS_CREATE = """
CREATE TABLE IF NOT EXISTS staging_events (
    artist           VARCHAR(512),
    auth             VARCHAR(32),
    first_name       VARCHAR(256),
    gender           VARCHAR(16),
    item_in_session  INTEGER          NOT NULL,
    last_name        VARCHAR(256),
    length           DOUBLE PRECISION,
    level            VARCHAR(16),
    location         VARCHAR(512),
    method           VARCHAR(16),
    page             VARCHAR(64)      NOT NULL,
    registration     BIGINT,
    session_id       BIGINT           NOT NULL,
    song             VARCHAR(512),
    status           SMALLINT,
    ts               BIGINT           NOT NULL,   -- epoch milliseconds
    user_agent       VARCHAR(1024),
    user_id          INTEGER,                     -- NULL: a logged-out visitor
    run_id           INTEGER          NOT NULL,
    object_id        BIGINT           NOT NULL,   -- loaded_objects.object_id
    source_line      INTEGER,                     -- the line the record starts on (NULL: in an array)
    source_record    INTEGER                      -- the record's number in its object, from 1 (orders records)
) {layout}
"""

STAGING_SONGS_CREATE = """
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs         INTEGER,
    artist_id         VARCHAR(64)      NOT NULL,
    artist_latitude   DOUBLE PRECISION,
    artist_longitude  DOUBLE PRECISION,
    artist_location   VARCHAR(512),
    artist_name       VARCHAR(512),
    song_id           VARCHAR(64)      NOT NULL,
    title             VARCHAR(512)     NOT NULL,
    duration          DOUBLE PRECISION,
    year              SMALLINT,                   -- 0: unknown
    run_id            INTEGER          NOT NULL,
    object_id         BIGINT           NOT NULL,
    source_line       INTEGER,
    source_record     INTEGER
) {layout}
"""

# Where each staging column comes from in a source record (the JSONPaths, in Redshift terms).
STAGING_FIELDS: dict[str, dict[str, str]] = {
    "staging_events": {
        "artist": "artist", "auth": "auth", "first_name": "firstName", "gender": "gender",
        "item_in_session": "itemInSession", "last_name": "lastName", "length": "length",
        "level": "level", "location": "location", "method": "method", "page": "page",
        "registration": "registration", "session_id": "sessionId", "song": "song",
        "status": "status", "ts": "ts", "user_agent": "userAgent", "user_id": "userId",
    },
    "staging_songs": {
        "num_songs": "num_songs", "artist_id": "artist_id", "artist_latitude": "artist_latitude",
        "artist_longitude": "artist_longitude", "artist_location": "artist_location",
        "artist_name": "artist_name", "song_id": "song_id", "title": "title",
        "duration": "duration", "year": "year",
    },
}
STAGING_TABLE = {"events": "staging_events", "songs": "staging_songs"}
# Where each staged row came from, after its fields. The record's number in its object orders the
# records of one object (the latest loaded copy of a song wins, the first of an event): a line
# holds several records in a top-level array or when objects are concatenated.
PROVENANCE_COLUMNS = ["run_id", "object_id", "source_line", "source_record"]

# ---------------------------------------------------------------- star schema

SONGPLAYS_CREATE = """
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id      BIGINT           NOT NULL PRIMARY KEY,   -- the play's number in load order (SONGPLAYS_INSERT)
    start_time       TIMESTAMP        NOT NULL,
    user_id          INTEGER,
    level            VARCHAR(16),
    song_id          VARCHAR(64),                 -- NULL: no known song matches
    artist_id        VARCHAR(64),
    session_id       BIGINT           NOT NULL,
    item_in_session  INTEGER          NOT NULL,
    location         VARCHAR(512),
    user_agent       VARCHAR(1024),
    UNIQUE (session_id, item_in_session, start_time)   -- the event's identity
) {layout}
"""

USERS_CREATE = """
CREATE TABLE IF NOT EXISTS users (
    user_id       INTEGER        NOT NULL PRIMARY KEY,
    first_name    VARCHAR(256),
    last_name     VARCHAR(256),
    gender        VARCHAR(16),
    level         VARCHAR(16),                  -- as of the user's latest event
    last_seen_at  TIMESTAMP      NOT NULL       -- that event's time
) {layout}
"""

SONGS_CREATE = """
CREATE TABLE IF NOT EXISTS songs (
    song_id    VARCHAR(64)       NOT NULL PRIMARY KEY,
    title      VARCHAR(512)      NOT NULL,
    artist_id  VARCHAR(64)       NOT NULL,
    year       SMALLINT,                        -- NULL: unknown (0 in the source)
    duration   DOUBLE PRECISION
) {layout}
"""

ARTISTS_CREATE = """
CREATE TABLE IF NOT EXISTS artists (
    artist_id  VARCHAR(64)       NOT NULL PRIMARY KEY,
    name       VARCHAR(512),
    location   VARCHAR(512),
    latitude   DOUBLE PRECISION,
    longitude  DOUBLE PRECISION
) {layout}
"""

TIME_CREATE = """
CREATE TABLE IF NOT EXISTS time (
    start_time  TIMESTAMP  NOT NULL PRIMARY KEY,
    hour        SMALLINT   NOT NULL,
    day         SMALLINT   NOT NULL,
    week        SMALLINT   NOT NULL,            -- ISO 8601 week
    month       SMALLINT   NOT NULL,
    year        SMALLINT   NOT NULL,
    weekday     SMALLINT   NOT NULL             -- ISO: 1 = Monday ... 7 = Sunday
) {layout}
"""

# ---------------------------------------------------------------- song matching (section 3 keeps them)
# So that a run finds a song by title, artist name and duration, and the plays a late song
# matches, through a key rather than by rescanning staging: one row per song text with its
# smallest song_id, and one row per songplay without a song (with the text it names).

SONG_LOOKUP_CREATE = """
CREATE TABLE IF NOT EXISTS song_lookup (
    title        VARCHAR(512)      NOT NULL,
    artist_name  VARCHAR(512)      NOT NULL,
    duration     DOUBLE PRECISION  NOT NULL,
    song_id      VARCHAR(64)       NOT NULL,    -- the smallest song_id staged with this text
    PRIMARY KEY (title, artist_name, duration)
) {layout}
"""

UNMATCHED_PLAYS_CREATE = """
CREATE TABLE IF NOT EXISTS unmatched_plays (
    song             VARCHAR(512)      NOT NULL,
    artist           VARCHAR(512)      NOT NULL,
    length           DOUBLE PRECISION  NOT NULL,
    start_time       TIMESTAMP         NOT NULL,   -- with session_id, item_in_session: the songplay
    session_id       BIGINT            NOT NULL,
    item_in_session  INTEGER           NOT NULL,
    PRIMARY KEY (song, artist, length, session_id, item_in_session, start_time)
) {layout}
"""

# ---------------------------------------------------------------- analytics layer
# Every app event, each user's level history, the devices and the aggregates the dashboard
# reads: maintained by every run from its own records (section 4).

APP_EVENTS_CREATE = """
CREATE TABLE IF NOT EXISTS app_events (
    start_time       TIMESTAMP        NOT NULL,
    event_date       DATE             NOT NULL,   -- the UTC day of start_time
    user_id          INTEGER,                     -- NULL: a logged-out visitor
    session_id       BIGINT           NOT NULL,
    item_in_session  INTEGER          NOT NULL,
    page             VARCHAR(64)      NOT NULL,
    auth             VARCHAR(32),
    level            VARCHAR(16),
    method           VARCHAR(16),
    status           SMALLINT,
    location         VARCHAR(512),
    user_agent       VARCHAR(1024),
    song             VARCHAR(512),
    artist           VARCHAR(512),
    length           DOUBLE PRECISION,
    registration     BIGINT,
    run_id           INTEGER          NOT NULL,   -- the run that staged the kept copy
    UNIQUE (session_id, item_in_session, start_time)   -- the event's identity
) {layout}
"""

USER_LEVELS_CREATE = """
CREATE TABLE IF NOT EXISTS user_levels (
    user_id     INTEGER      NOT NULL,
    level       VARCHAR(16)  NOT NULL,
    valid_from  TIMESTAMP    NOT NULL,            -- the first event at that level
    valid_to    TIMESTAMP,                        -- the first event at the next level, or the
                                                  -- cancellation; NULL: current
    PRIMARY KEY (user_id, valid_from)
) {layout}
"""

DEVICES_CREATE = """
CREATE TABLE IF NOT EXISTS devices (
    user_agent       VARCHAR(1024)  NOT NULL PRIMARY KEY,   -- as in the events, quotes and all
    os_family        VARCHAR(64),
    os_version       VARCHAR(32),
    browser_family   VARCHAR(64),
    browser_version  VARCHAR(32),
    device_family    VARCHAR(64),
    device_type      VARCHAR(16)                -- desktop | mobile | tablet | other
) {layout}
"""

USER_DAYS_CREATE = """
CREATE TABLE IF NOT EXISTS user_days (
    user_id            INTEGER           NOT NULL,
    activity_date      DATE              NOT NULL,
    level              VARCHAR(16),               -- as of the day's last event
    events             INTEGER,
    plays              INTEGER,
    sessions           INTEGER,                   -- distinct session ids
    listening_seconds  DOUBLE PRECISION,
    thumbs_up          INTEGER           NOT NULL,
    thumbs_down        INTEGER           NOT NULL,
    add_to_playlist    INTEGER           NOT NULL,
    add_friend         INTEGER           NOT NULL,
    adverts            INTEGER           NOT NULL,  -- 'Roll Advert'
    errors             INTEGER           NOT NULL,
    help               INTEGER           NOT NULL,
    upgrades           INTEGER           NOT NULL,  -- 'Submit Upgrade'
    downgrades         INTEGER           NOT NULL,  -- 'Submit Downgrade'
    cancellations      INTEGER           NOT NULL,  -- 'Cancellation Confirmation'
    first_event_at     TIMESTAMP,
    last_event_at      TIMESTAMP,
    registered_at      TIMESTAMP,                 -- the earliest registration in the day's events
    PRIMARY KEY (user_id, activity_date)
) {layout}
"""

USER_SESSIONS_CREATE = """
CREATE TABLE IF NOT EXISTS user_sessions (
    user_id     INTEGER      NOT NULL,
    session_id  BIGINT       NOT NULL,
    started_at  TIMESTAMP    NOT NULL,
    ended_at    TIMESTAMP    NOT NULL,            -- when its last event ended (a NextSong: ts + length)
    events      INTEGER      NOT NULL,
    plays       INTEGER      NOT NULL,
    level       VARCHAR(16),                      -- as of the session's last event
    PRIMARY KEY (user_id, session_id)
) {layout}
"""

SONG_DAYS_CREATE = """
CREATE TABLE IF NOT EXISTS song_days (
    activity_date  DATE          NOT NULL,
    song           VARCHAR(512)  NOT NULL,        -- the event's own song and artist text
    artist         VARCHAR(512)  NOT NULL,
    song_id        VARCHAR(64),                   -- the songplays' match, where they have one
    plays          INTEGER       NOT NULL,
    listeners      INTEGER       NOT NULL,        -- distinct user ids that day
    PRIMARY KEY (activity_date, song, artist)
) {layout}
"""

HOUR_PLAYS_CREATE = """
CREATE TABLE IF NOT EXISTS hour_plays (
    activity_date  DATE      NOT NULL,
    hour           SMALLINT  NOT NULL,
    weekday        SMALLINT  NOT NULL,            -- ISO: 1 = Monday ... 7 = Sunday
    plays          INTEGER   NOT NULL,
    PRIMARY KEY (activity_date, hour)
) {layout}
"""

# The dashboard's per-user facts that user_days does not keep (report.py, section 8): each
# user-day's events by US state and device (geography, devices), with the funnel's first free
# play and paid events; a funnel step (FUNNEL_PAGES) is a row of its own, with its time. The
# state and the device names rather than the location and user agent text: a narrow table.
USER_DAY_PLACES_CREATE = """
CREATE TABLE IF NOT EXISTS user_day_places (
    user_id          INTEGER        NOT NULL,
    activity_date    DATE           NOT NULL,
    state            VARCHAR(8),                -- of the location (PLACE_STATE); NULL: none
    os_family        VARCHAR(64),               -- the user agent's, from devices; NULL: no agent
    browser_family   VARCHAR(64),
    device_type      VARCHAR(16),
    step_page        VARCHAR(64),               -- a funnel page; NULL: the other events
    step_time        TIMESTAMP,                 -- that step's time
    events           INTEGER        NOT NULL,
    plays            INTEGER        NOT NULL,
    first_free_play  TIMESTAMP,                 -- the first NextSong at level 'free'
    paid_events      INTEGER        NOT NULL    -- events at level 'paid'
) {layout}
"""

# Each song text's plays over all loaded days: the dashboard ranks the top songs and artists of
# a period that spans every loaded day from it, not from song_days' millions of rows.
SONG_TOTALS_CREATE = """
CREATE TABLE IF NOT EXISTS song_totals (
    song     VARCHAR(512)  NOT NULL,               -- the events' own song and artist text
    artist   VARCHAR(512)  NOT NULL,
    song_id  VARCHAR(64),                          -- the largest of its song-days' song_id
    plays    BIGINT        NOT NULL,
    PRIMARY KEY (song, artist)
) {layout}
"""

# ---------------------------------------------------------------- trends (trends.py, section 7)
# Each trends.py computation is one trend run: when, from which load, over which days; its
# forecasts, their backtest scores and the trending songs and artists hang off its id.

TREND_RUNS_CREATE = """
CREATE TABLE IF NOT EXISTS trend_runs (
    trend_run_id   INTEGER           NOT NULL PRIMARY KEY,
    computed_at    TIMESTAMP         NOT NULL,
    load_run_id    INTEGER,                     -- the latest succeeded etl run; NULL: none yet
    horizon        SMALLINT          NOT NULL,  -- days forecast
    first_day      DATE,                        -- the days the series cover; NULL: no data
    last_day       DATE,
    days           INTEGER           NOT NULL,
    recent_from    DATE,                        -- trending: recent_from .. last_day against
    before_from    DATE,                        -- before_from .. the day before recent_from
    plays_recent   BIGINT,                      -- all plays in those windows (the traffic)
    plays_before   BIGINT,
    prior_plays    DOUBLE PRECISION  NOT NULL,  -- the shrinkage prior a of the trending score
    min_listeners  INTEGER           NOT NULL,
    fdr            DOUBLE PRECISION  NOT NULL,  -- trending lists only q_value <= fdr (Benjamini-Hochberg)
    songs_tested   INTEGER,                     -- m of the songs' BH: every song played in either window
    artists_tested INTEGER,                     -- m of the artists'; NULL: nothing could be tested
    message        VARCHAR(1024),               -- what could not be computed, and why
    trending_note  VARCHAR(512)                 -- why nothing trends, when nothing can
) {layout}
"""

TREND_BACKTESTS_CREATE = """
CREATE TABLE IF NOT EXISTS trend_backtests (
    trend_run_id    INTEGER           NOT NULL,
    series          VARCHAR(32)       NOT NULL,  -- plays | active_users | paid_users
    model           VARCHAR(32),                 -- the published one; NULL: no forecast
    candidate       VARCHAR(64)       NOT NULL,  -- the smoothing model tried against the baseline
    mase            DOUBLE PRECISION,            -- the candidate's mean over the origins, at the horizon
    mase_baseline   DOUBLE PRECISION,            -- seasonal-naive's
    smape           DOUBLE PRECISION,            -- percent, 0 to 200
    smape_baseline  DOUBLE PRECISION,
    coverage80      DOUBLE PRECISION,            -- the published model's backtest days inside its 80% interval
    coverage95      DOUBLE PRECISION,            -- and its 95% interval (0 to 1; NULL: too few origins)
    origins         SMALLINT          NOT NULL,
    note            VARCHAR(512),
    PRIMARY KEY (trend_run_id, series)
) {layout}
"""

TREND_FORECASTS_CREATE = """
CREATE TABLE IF NOT EXISTS trend_forecasts (
    trend_run_id   INTEGER           NOT NULL,
    series         VARCHAR(32)       NOT NULL,
    forecast_date  DATE              NOT NULL,
    model          VARCHAR(32)       NOT NULL,
    value          DOUBLE PRECISION  NOT NULL,
    lo80           DOUBLE PRECISION  NOT NULL,
    hi80           DOUBLE PRECISION  NOT NULL,
    lo95           DOUBLE PRECISION  NOT NULL,
    hi95           DOUBLE PRECISION  NOT NULL,
    PRIMARY KEY (trend_run_id, series, forecast_date)
) {layout}
"""

TRENDING_CREATE = """
CREATE TABLE IF NOT EXISTS trending (
    trend_run_id  INTEGER           NOT NULL,
    kind          VARCHAR(8)        NOT NULL,   -- song | artist
    rank          SMALLINT          NOT NULL,   -- from 1
    song          VARCHAR(512),                 -- NULL for an artist
    artist        VARCHAR(512)      NOT NULL,
    score         DOUBLE PRECISION  NOT NULL,
    plays         BIGINT            NOT NULL,   -- in the last 7 days
    plays_before  BIGINT            NOT NULL,   -- in the 21 days before
    expected      DOUBLE PRECISION  NOT NULL,   -- plays_before scaled by the change in traffic
    listeners     INTEGER           NOT NULL,   -- distinct users in the last 7 days
    p_value       DOUBLE PRECISION  NOT NULL,   -- exact binomial test of plays given plays + plays_before
    q_value       DOUBLE PRECISION  NOT NULL,   -- Benjamini-Hochberg over every one tested; listed: <= fdr
    PRIMARY KEY (trend_run_id, kind, rank)
) {layout}
"""

# ---------------------------------------------------------------- physical design
# PostgreSQL keeps plain heaps (plus the indexes below); Redshift distributes and sorts.
# songplays and time are the big tables and are joined on start_time, so they share it as
# distribution and sort key; the dimensions are small enough to copy to every node (ALL).

REDSHIFT_LAYOUT = {
    "etl_runs": "DISTSTYLE ALL",
    "table_rows": "DISTSTYLE ALL",
    "loaded_objects": "DISTSTYLE ALL SORTKEY (object_key)",
    "rejects": "DISTSTYLE EVEN SORTKEY (run_id)",
    "staging_events": "DISTSTYLE EVEN SORTKEY (run_id)",
    "staging_songs": "DISTSTYLE EVEN SORTKEY (run_id)",
    "songplays": "DISTKEY (start_time) SORTKEY (start_time)",
    "users": "DISTSTYLE ALL SORTKEY (user_id)",
    "songs": "DISTSTYLE ALL SORTKEY (song_id)",
    "artists": "DISTSTYLE ALL SORTKEY (artist_id)",
    "time": "DISTKEY (start_time) SORTKEY (start_time)",
    # Joined on their text to a run's few songs: sorted on it, so zone maps skip the rest.
    "song_lookup": "DISTSTYLE ALL SORTKEY (title, artist_name)",
    "unmatched_plays": "DISTSTYLE EVEN SORTKEY (song, artist)",
    "listed_folders": "DISTSTYLE ALL SORTKEY (source, folder)",
    # The analytics layer is read per user (days, sessions, level history): those tables share
    # user_id as distribution key (logged-out events, NULL, are a few percent) and sort on time.
    "app_events": "DISTKEY (user_id) SORTKEY (start_time)",
    "user_levels": "DISTKEY (user_id) SORTKEY (user_id, valid_from)",
    "devices": "DISTSTYLE ALL SORTKEY (user_agent)",
    "user_days": "DISTKEY (user_id) SORTKEY (activity_date)",
    "user_sessions": "DISTKEY (user_id) SORTKEY (started_at)",
    "song_days": "DISTKEY (song) SORTKEY (activity_date)",
    "hour_plays": "DISTSTYLE ALL SORTKEY (activity_date, hour)",
    "user_day_places": "DISTKEY (user_id) SORTKEY (activity_date)",
    "song_totals": "DISTKEY (song) SORTKEY (song, artist)",
    # A few hundred rows per trends.py run, read by run: copied to every node.
    "trend_runs": "DISTSTYLE ALL SORTKEY (trend_run_id)",
    "trend_backtests": "DISTSTYLE ALL SORTKEY (trend_run_id)",
    "trend_forecasts": "DISTSTYLE ALL SORTKEY (trend_run_id, series, forecast_date)",
    "trending": "DISTSTYLE ALL SORTKEY (trend_run_id, kind, rank)",
}

# Indexes on PostgreSQL only (Redshift has none): planning looks objects up by key, and each
# run reads only its own staging rows (BRIN: tiny, and staging is appended in run order). COPY
# also puts a few rows into the room left on earlier pages, so a BRIN range is kept small
# (16 pages, not 128): each such row costs a run 16 pages more to read, not 128.
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS loaded_objects_key ON loaded_objects (object_key)",
    "CREATE INDEX IF NOT EXISTS staging_events_run ON staging_events USING brin (run_id)"
    " WITH (pages_per_range = 16)",
    "CREATE INDEX IF NOT EXISTS staging_songs_run ON staging_songs USING brin (run_id) WITH (pages_per_range = 16)",
    "CREATE INDEX IF NOT EXISTS rejects_run ON rejects (run_id)",
    # The analytics layer (section 4): a run finds its new events by run_id, then each key's
    # events: a user's by day, a session's by the identity index, a day's by day.
    "CREATE INDEX IF NOT EXISTS app_events_run ON app_events USING brin (run_id)",
    "CREATE INDEX IF NOT EXISTS app_events_user_day ON app_events (user_id, event_date)",
    "CREATE INDEX IF NOT EXISTS app_events_day ON app_events USING brin (event_date)",  # appended by day
    "CREATE INDEX IF NOT EXISTS song_days_song ON song_days (song, artist)",  # late song matches
    "CREATE INDEX IF NOT EXISTS user_day_places_user_day ON user_day_places (user_id, activity_date)",
]

TABLES = {  # name -> CREATE statement, in creation order
    "etl_runs": ETL_RUNS_CREATE,
    "table_rows": TABLE_ROWS_CREATE,
    "loaded_objects": LOADED_OBJECTS_CREATE,
    "rejects": REJECTS_CREATE,
    "staging_events": STAGING_EVENTS_CREATE,
    "staging_songs": STAGING_SONGS_CREATE,
    "songplays": SONGPLAYS_CREATE,
    "users": USERS_CREATE,
    "songs": SONGS_CREATE,
    "artists": ARTISTS_CREATE,
    "time": TIME_CREATE,
    "song_lookup": SONG_LOOKUP_CREATE,
    "unmatched_plays": UNMATCHED_PLAYS_CREATE,
    "listed_folders": LISTED_FOLDERS_CREATE,
    "app_events": APP_EVENTS_CREATE,
    "user_levels": USER_LEVELS_CREATE,
    "devices": DEVICES_CREATE,
    "user_days": USER_DAYS_CREATE,
    "user_sessions": USER_SESSIONS_CREATE,
    "song_days": SONG_DAYS_CREATE,
    "hour_plays": HOUR_PLAYS_CREATE,
    "user_day_places": USER_DAY_PLACES_CREATE,
    "song_totals": SONG_TOTALS_CREATE,
    "trend_runs": TREND_RUNS_CREATE,
    "trend_backtests": TREND_BACKTESTS_CREATE,
    "trend_forecasts": TREND_FORECASTS_CREATE,
    "trending": TRENDING_CREATE,
}
STAR_TABLES = ["songplays", "users", "songs", "artists", "time"]

# ---------------------------------------------------------------- descriptions (COMMENT ON, the README)
# What analysts read, described once: every table and column of the star schema, the analytics
# layer and the trend tables. create_tables.py sends them as COMMENT ON statements (TABLE_COMMENTS)
# to the tables and to the analyst views (ANALYST_SCHEMA), so a BI tool shows them beside each
# name; the README's "Tables for analysts" is rendered from the same text (statements.describe).
# What only the toolkit uses (TOOLKIT_TABLES) gets one comment saying so, and no view.

DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "songplays": ("Star schema fact: one row per song play (an event with page NextSong), deduplicated by the event's"
                  " identity (session_id, item_in_session, start_time).", {
        "songplay_id": "The play's number in load order: the run that first loaded the event, then its time.",
        "start_time": "When the play started (UTC; the event's ts, milliseconds kept).",
        "user_id": "The listener (users.user_id); NULL for a logged-out visitor.",
        "level": "The listener's subscription level at the play: free or paid.",
        "song_id": "The song (songs.song_id) whose title, artist name and duration equal the play's; NULL when none"
                   " does.",
        "artist_id": "That song's artist (artists.artist_id); NULL when no song matches.",
        "session_id": "The app session the play belongs to.",
        "item_in_session": "The event's position in its session, from 0.",
        "location": "Where the listener was, as the app reports it (City, ST).",
        "user_agent": "The listener's browser user agent (see the devices table).",
    }),
    "users": ("Star schema dimension: one row per user id seen in any event.", {
        "user_id": "The user's id.",
        "first_name": "First name, as of the user's latest event.",
        "last_name": "Last name, as of the user's latest event.",
        "gender": "Gender (F or M) as the app reports it.",
        "level": "Subscription level (free or paid) as of the user's latest event by time.",
        "last_seen_at": "The time of the user's latest event (UTC).",
    }),
    "songs": ("Star schema dimension: one row per song of the song catalogue.", {
        "song_id": "The song's id (Million Song Dataset).",
        "title": "The song's title.",
        "artist_id": "The song's artist (artists.artist_id).",
        "year": "Year of release; NULL when unknown.",
        "duration": "Length in seconds.",
    }),
    "artists": ("Star schema dimension: one row per artist of the song catalogue.", {
        "artist_id": "The artist's id (Million Song Dataset).",
        "name": "The artist's name.",
        "location": "Where the artist is from, as the catalogue says; NULL when unknown.",
        "latitude": "Latitude of that location in degrees; NULL when unknown.",
        "longitude": "Longitude of that location in degrees; NULL when unknown.",
    }),
    "time": ("Star schema dimension: one row per distinct songplay start_time, broken into calendar units.", {
        "start_time": "The songplay time (UTC) these units describe.",
        "hour": "Hour of the day, 0 to 23.",
        "day": "Day of the month, 1 to 31.",
        "week": "ISO 8601 week of the year.",
        "month": "Month, 1 to 12.",
        "year": "Year.",
        "weekday": "ISO day of the week: 1 = Monday to 7 = Sunday.",
    }),
    "app_events": ("Analytics layer: every app event of every page, one row per event identity (session_id,"
                   " item_in_session, start_time).", {
        "start_time": "When the event happened (UTC).",
        "event_date": "The UTC day of start_time.",
        "user_id": "The user; NULL for a logged-out visitor.",
        "session_id": "The app session.",
        "item_in_session": "The event's position in its session, from 0.",
        "page": "The page or action: NextSong, Home, Thumbs Up, Submit Upgrade and so on.",
        "auth": "Logged In, Logged Out, Guest or Cancelled.",
        "level": "The user's subscription level at the event: free or paid.",
        "method": "HTTP method of the request (GET or PUT).",
        "status": "HTTP status of the response (200, 307, 404 ...).",
        "location": "Where the user was, as the app reports it (City, ST).",
        "user_agent": "The user's browser user agent (see the devices table).",
        "song": "The song's title, as the event names it (NextSong only).",
        "artist": "The song's artist, as the event names it (NextSong only).",
        "length": "The song's length in seconds (NextSong only).",
        "registration": "When the user registered, epoch milliseconds.",
        "run_id": "The load run that staged this event (toolkit bookkeeping).",
    }),
    "user_levels": ("Analytics layer: each user's subscription level history (type 2): one row per period at one"
                    " level.", {
        "user_id": "The user.",
        "level": "The level of the period: free or paid.",
        "valid_from": "The first event at that level (UTC).",
        "valid_to": "The first event at the next level, or the cancellation; NULL while current.",
    }),
    "devices": ("Analytics layer: one row per distinct user agent, parsed into operating system, browser and"
                " device.", {
        "user_agent": "The user agent string, as in the events.",
        "os_family": "Operating system (Windows, Mac OS X, iOS ...).",
        "os_version": "Operating system version.",
        "browser_family": "Browser (Chrome, Firefox, Safari ...).",
        "browser_version": "Browser version.",
        "device_family": "Device (Mac, iPhone, Other ...).",
        "device_type": "desktop, mobile, tablet or other.",
    }),
    "user_days": ("Analytics layer: one row per user and day with any event by that (logged-in) user.", {
        "user_id": "The user.",
        "activity_date": "The UTC day.",
        "level": "The user's level as of the day's last event.",
        "events": "Events that day.",
        "plays": "Song plays (NextSong) that day.",
        "sessions": "Distinct sessions that day.",
        "listening_seconds": "Seconds of music played that day (the plays' song lengths).",
        "thumbs_up": "Thumbs Up events.",
        "thumbs_down": "Thumbs Down events.",
        "add_to_playlist": "Add to Playlist events.",
        "add_friend": "Add Friend events.",
        "adverts": "Adverts played (Roll Advert).",
        "errors": "Error pages seen.",
        "help": "Help pages seen.",
        "upgrades": "Upgrades to paid (Submit Upgrade).",
        "downgrades": "Downgrades to free (Submit Downgrade).",
        "cancellations": "Cancellations (Cancellation Confirmation).",
        "first_event_at": "The day's first event (UTC).",
        "last_event_at": "The day's last event (UTC).",
        "registered_at": "The user's registration (sign-up) time, the earliest the day's events carry; NULL when"
                         " they carry none. A user is new in the period their registration falls in.",
    }),
    "user_sessions": ("Analytics layer: one row per session of a logged-in user.", {
        "user_id": "The user.",
        "session_id": "The app session.",
        "started_at": "The session's first event (UTC).",
        "ended_at": "When the session's last event ended: a song play ends at its time plus the song's length.",
        "events": "Events in the session.",
        "plays": "Song plays in the session.",
        "level": "The user's level as of the session's last event.",
    }),
    "song_days": ("Analytics layer: one row per day and song (as the events name it) with its plays.", {
        "activity_date": "The UTC day.",
        "song": "The song's title, as the events name it.",
        "artist": "The song's artist, as the events name it.",
        "song_id": "The matching song of the catalogue, where the plays have one; else NULL.",
        "plays": "Plays that day.",
        "listeners": "Distinct users who played it that day.",
    }),
    "hour_plays": ("Analytics layer: one row per day and hour with song plays.", {
        "activity_date": "The UTC day.",
        "hour": "Hour of the day, 0 to 23.",
        "weekday": "ISO day of the week: 1 = Monday to 7 = Sunday.",
        "plays": "Song plays in that hour.",
    }),
    "user_day_places": ("Analytics layer (the dashboard's geography, devices and funnel): each user-day's events by"
                        " US state and device, and each funnel step with its time.", {
        "user_id": "The user.",
        "activity_date": "The UTC day.",
        "state": "US state of the location (two letters); NULL when none.",
        "os_family": "Operating system of the user agent (devices.os_family); NULL without an agent.",
        "browser_family": "Browser of the user agent (devices.browser_family).",
        "device_type": "desktop, mobile, tablet or other (devices.device_type).",
        "step_page": "A funnel page (the step); NULL for the other events.",
        "step_time": "That step's time (UTC).",
        "events": "Events.",
        "plays": "Song plays.",
        "first_free_play": "The first song play at level free (UTC).",
        "paid_events": "Events at level paid.",
    }),
    "song_totals": ("Analytics layer: one row per song (as the events name it) with its plays over all loaded"
                    " days.", {
        "song": "The song's title, as the events name it.",
        "artist": "The song's artist, as the events name it.",
        "song_id": "The matching song of the catalogue, where there is one; else NULL.",
        "plays": "Plays over all loaded days.",
    }),
    "trend_runs": ("Trends: one row per trends.py computation: when, from which load, over which days.", {
        "trend_run_id": "The computation's id (the forecasts, backtests and trending rows name it).",
        "computed_at": "When it was computed (UTC).",
        "load_run_id": "The latest succeeded load run it read; NULL when there was none.",
        "horizon": "Days forecast.",
        "first_day": "First day of the series; NULL without data.",
        "last_day": "Last day of the series; NULL without data.",
        "days": "Days in the series.",
        "recent_from": "Trending: the recent window runs from this day to last_day.",
        "before_from": "Trending: the window compared against runs from this day to the day before recent_from.",
        "plays_recent": "All plays in the recent window (the traffic).",
        "plays_before": "All plays in the window before.",
        "prior_plays": "The shrinkage prior of the trending score.",
        "min_listeners": "Fewest distinct listeners a song or artist needs to be ranked.",
        "fdr": "The false-discovery rate the trending lists are held at (Benjamini-Hochberg q).",
        "songs_tested": "Songs tested for trending (every one played in the 28 days): the m of Benjamini-Hochberg.",
        "artists_tested": "Artists tested for trending, likewise.",
        "message": "What could not be computed, and why.",
        "trending_note": "Why nothing trends, when nothing can.",
    }),
    "trend_backtests": ("Trends: one row per computation and series: the rolling-origin backtest that chose its"
                        " model.", {
        "trend_run_id": "The computation (trend_runs).",
        "series": "plays, active_users or paid_users.",
        "model": "The published model; NULL when no forecast was published.",
        "candidate": "The smoothing model tried against the seasonal-naive baseline.",
        "mase": "The candidate's mean absolute scaled error over the origins.",
        "mase_baseline": "The baseline's mean absolute scaled error.",
        "smape": "The candidate's symmetric mean absolute percentage error, 0 to 200.",
        "smape_baseline": "The baseline's symmetric mean absolute percentage error.",
        "origins": "Backtest origins.",
        "coverage80": "Share of backtest days inside the published method's 80% interval.",
        "coverage95": "Share of backtest days inside the published method's 95% interval.",
        "note": "Why a model was or was not published.",
    }),
    "trend_forecasts": ("Trends: one row per computation, series and forecast day, with calibrated intervals.", {
        "trend_run_id": "The computation (trend_runs).",
        "series": "plays, active_users or paid_users.",
        "forecast_date": "The day forecast.",
        "model": "The model that made the forecast.",
        "value": "The forecast.",
        "lo80": "Lower end of the 80 percent interval.",
        "hi80": "Upper end of the 80 percent interval.",
        "lo95": "Lower end of the 95 percent interval.",
        "hi95": "Upper end of the 95 percent interval.",
    }),
    "trending": ("Trends: the songs and artists trending in the last 7 days against the 21 days before, adjusted"
                 " for traffic, significant after false-discovery control; ranked by a shrunk score.", {
        "trend_run_id": "The computation (trend_runs).",
        "kind": "song or artist.",
        "rank": "Rank from 1.",
        "song": "The song's title; NULL for an artist.",
        "artist": "The artist.",
        "score": "The shrunk trending score (ranks the list).",
        "plays": "Plays in the last 7 days.",
        "plays_before": "Plays in the 21 days before.",
        "expected": "plays_before scaled by the change in overall traffic.",
        "listeners": "Distinct users in the last 7 days.",
        "p_value": "The exact test's p-value.",
        "q_value": "Its Benjamini-Hochberg q-value over every song (or artist) tested; listed only when <= the run's"
                   " fdr.",
    }),
}
# What only the toolkit uses: told apart by this comment, and absent from the analyst views.
TOOLKIT_TABLES: dict[str, str] = {
    "etl_runs": "one row per load run: when, outcome, counts, the toolkit version",
    "table_rows": "the star tables' row counts as the last run left them",
    "loaded_objects": "one row per source object loaded",
    "rejects": "source records that could not be used, with the reason",
    "staging_events": "the raw layer: every event record loaded, typed",
    "staging_songs": "the raw layer: every song record loaded, typed",
    "song_lookup": "song matching: the song of each title, artist name and duration",
    "unmatched_plays": "song matching: the songplays without a song",
    "listed_folders": "folder sources whose files were all loaded",
}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The analysts' schema: a view of every described table, with the same comments; BI tools pointed
# at it see only what is meant for them (the tables stay in the toolkit's schema, also commented).
ANALYST_SCHEMA = "sparkify"
ANALYST_SCHEMA_CREATE = f"CREATE SCHEMA IF NOT EXISTS {ANALYST_SCHEMA}"
ANALYST_SCHEMA_COMMENT = (f"COMMENT ON SCHEMA {ANALYST_SCHEMA} IS 'Sparkify for analysts: the star schema, the"
                          " analytics layer and the trend tables, as views'")
ANALYST_SCHEMA_DROP = f"DROP SCHEMA IF EXISTS {ANALYST_SCHEMA} CASCADE"
# {schema}: the toolkit's schema (current_schema()), where the tables are.
ANALYST_VIEWS = {table: f"CREATE OR REPLACE VIEW {ANALYST_SCHEMA}.{table} AS SELECT {', '.join(columns)}"
                        f" FROM {{schema}}.{table}" for table, (_, columns) in DESCRIPTIONS.items()}
TABLE_COMMENTS = {  # table -> its COMMENT statements: the table's and its columns', then its view's
    table: [f"COMMENT ON TABLE {table} IS {_quoted(text)}",
            *(f"COMMENT ON COLUMN {table}.{column} IS {_quoted(about)}" for column, about in columns.items()),
            f"COMMENT ON VIEW {ANALYST_SCHEMA}.{table} IS {_quoted(text)}",
            *(f"COMMENT ON COLUMN {ANALYST_SCHEMA}.{table}.{column} IS {_quoted(about)}"
              for column, about in columns.items())]
    for table, (text, columns) in DESCRIPTIONS.items()
}
TOOLKIT_TABLE_COMMENTS = {
    table: f"COMMENT ON TABLE {table} IS {_quoted(f'Toolkit internal, not for analysis: {about}')}"
    for table, about in TOOLKIT_TABLES.items()
}



# The analysts' views first: they depend on the tables (and hold no data).
drop_table_queries = [ANALYST_SCHEMA_DROP, *(f"DROP TABLE IF EXISTS {name}" for name in reversed(TABLES))]

# Schema changes take turns (create_tables.py): two CREATE TABLE of one name at once collide in
# PostgreSQL's catalog, so each waits for this transaction-level lock first (PostgreSQL only;
# the key is arbitrary, fixed). The model check waits in shared mode for a change in progress.
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(7265703530)"
SCHEMA_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(7265703530)"
# A drop waits for a running load, locking first what the load locks first (etl_runs): no deadlock.
DROP_LOCK = "LOCK TABLE etl_runs IN ACCESS EXCLUSIVE MODE"
REDSHIFT_DROP_LOCK = "LOCK etl_runs"

# ---------------------------------------------------------------- the catalog
# What the server has, to compare with the model above (catalog.model_problems, create_tables.py,
# doctor.py). Reads only: a login that may only read can compare too.
SERVER_VERSION = "SELECT version()"
CURRENT_SCHEMA = "SELECT current_schema()"
TABLE_EXISTS = """
SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = %(table)s
"""
SCHEMA_COLUMNS = """
SELECT table_name, column_name, data_type, character_maximum_length, is_nullable
FROM information_schema.columns
WHERE table_schema = %(schema)s
"""
# doctor.py: may the login create tables? (a probe its transaction rolls back)
CREATE_RIGHTS_PROBE = "CREATE TABLE dwh_doctor_probe (probe INTEGER)"

# The embedded server (embedded.py): a new database on first use (the name is quoted by
# psycopg2.sql as an identifier), the login rules re-read, and the password for TCP logins
# (a parameter: never part of the text, never traced).
POSTGRES_CREATE_DATABASE = "CREATE DATABASE {database}"
POSTGRES_RELOAD_CONF = "SELECT pg_reload_conf()"
POSTGRES_PASSWORD_ENCRYPTION = "SET password_encryption = 'scram-sha-256'"
POSTGRES_SET_PASSWORD = "ALTER ROLE CURRENT_USER PASSWORD %(password)s"
# Waiting for locks (PostgreSQL). [ETL] LOCK_TIMEOUT: how long a statement waits for a lock (0: for ever).
POSTGRES_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %(timeout)s, false)"
# Who a session waiting for a lock waits for: the table, and each blocking session's pid,
# application, state and for how long it has been in that state (asked from a second connection).
POSTGRES_LOCK_WAITS = """
SELECT COALESCE(c.relname, w.locktype), b.pid, COALESCE(NULLIF(b.application_name, ''), '(no name)'),
       COALESCE(b.state, ''), CAST(EXTRACT(EPOCH FROM now() - COALESCE(b.state_change, b.backend_start)) AS INTEGER)
FROM pg_locks w
LEFT JOIN pg_class c ON c.oid = w.relation
JOIN pg_stat_activity b ON b.pid = ANY (pg_blocking_pids(w.pid))
WHERE w.pid = %(pid)s AND NOT w.granted
ORDER BY b.pid
"""
# A writer that empties tables (a rebuild, a first load) takes them all at once, in one fixed order,
# without queueing (NOWAIT), and tries again until no reader holds one: it never holds some while
# waiting for others, and no reader ever queues behind it (see README, Readers and writers).
POSTGRES_LOCK_FOR_FILL = "LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE NOWAIT"
POSTGRES_LOCK_SAVEPOINT = "SAVEPOINT lock_for_fill"
POSTGRES_LOCK_RETRY = "ROLLBACK TO SAVEPOINT lock_for_fill"
POSTGRES_LOCK_TAKEN = "RELEASE SAVEPOINT lock_for_fill"
# The sessions holding a lock on any of those tables: what such a writer waits for.
POSTGRES_LOCK_HOLDERS = """
SELECT c.relname, b.pid, COALESCE(NULLIF(b.application_name, ''), '(no name)'), COALESCE(b.state, ''),
       CAST(EXTRACT(EPOCH FROM now() - COALESCE(b.state_change, b.backend_start)) AS INTEGER)
FROM pg_locks h
JOIN pg_class c ON c.oid = h.relation
JOIN pg_stat_activity b ON b.pid = h.pid
WHERE h.granted AND h.pid <> pg_backend_pid() AND c.oid = ANY (CAST(%(tables)s AS regclass[]))
ORDER BY c.relname, b.pid
"""
# The embedded server's sessions that are not the toolkit's own scripts (those are counted in
# clients.json): a psql or BI tool, perhaps connected through a serve.py since killed. While any
# remains, the last script out leaves the server up.
POSTGRES_OTHER_CLIENTS = """
SELECT pid, COALESCE(NULLIF(application_name, ''), '(no name)'), state
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND application_name NOT IN ('sparkify-dwh', 'sparkify-dwh-embedded')
ORDER BY pid
"""

# ============================================================================ 2. a run

# Runs take turns: the second waits for the first, then plans against what it loaded.
RUN_LOCK = "LOCK TABLE etl_runs IN SHARE ROW EXCLUSIVE MODE"
REDSHIFT_RUN_LOCK = "LOCK etl_runs"

RUN_NEXT_ID = "SELECT COALESCE(MAX(run_id), 0) + 1 FROM etl_runs"

RUN_START = """
INSERT INTO etl_runs (run_id, started_at, outcome, target, toolkit_version)
VALUES (%(run_id)s, %(started_at)s, 'running', %(target)s, %(version)s)
"""

RUN_FINISH = """
UPDATE etl_runs
SET finished_at = %(finished_at)s, outcome = %(outcome)s, objects_loaded = %(objects_loaded)s,
    events_staged = %(events_staged)s, songs_staged = %(songs_staged)s,
    rows_rejected = %(rows_rejected)s, values_repaired = %(values_repaired)s,
    songplays_added = %(songplays_added)s, message = %(message)s, unknown_fields = %(unknown_fields)s
WHERE run_id = %(run_id)s
"""

RUN_CHECKS = "UPDATE etl_runs SET checks = %(checks)s WHERE run_id = %(run_id)s"

# ---------------------------------------------------------------- planning
# The listing of both sources goes into a temporary table; the plan is every listed object
# not loaded before under the same key, size and ETag, numbered on from the last object id.
# The objects enter loaded_objects only with their counts, once they are staged.

LISTED_OBJECTS_CREATE = """
CREATE TEMPORARY TABLE listed_objects (
    source      VARCHAR(8)     NOT NULL,
    object_key  VARCHAR(1024)  NOT NULL,
    etag        VARCHAR(128),
    size        BIGINT         NOT NULL
)
"""

# The one format of every COPY … FROM STDIN (staging.DELIMITER and staging.QUOTE): the delimiter
# and quote are control characters that cannot occur unescaped in JSON text, so almost nothing
# needs quoting.
COPY_OPTIONS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', ENCODING 'UTF8'"
COPY_FROM_STDIN = f"FROM STDIN WITH ({COPY_OPTIONS})"

LISTED_OBJECTS_COPY = f"COPY listed_objects (source, object_key, etag, size) {COPY_FROM_STDIN}"

PLAN_DROP = ["DROP TABLE IF EXISTS listed_objects", "DROP TABLE IF EXISTS planned_objects"]

PLAN_NEW_OBJECTS = """
CREATE TEMPORARY TABLE planned_objects AS
SELECT (SELECT COALESCE(MAX(object_id), 0) FROM loaded_objects)
           + ROW_NUMBER() OVER (ORDER BY l.source, l.object_key) AS object_id,
       l.source, l.object_key, l.etag, l.size
FROM listed_objects l
WHERE NOT EXISTS (
    SELECT 1
    FROM loaded_objects o
    WHERE o.object_key = l.object_key
      AND o.size = l.size
      AND (o.etag = l.etag OR (o.etag IS NULL AND l.etag IS NULL)
           -- a file loaded by a version that kept no modification times: loaded, at its size
           OR (o.etag IS NULL AND l.etag LIKE 'mtime_ns:%%'))
)
"""

PLAN_SUMMARY = "SELECT source, COUNT(*), COALESCE(SUM(size), 0) FROM planned_objects GROUP BY source"

# The plan is read a batch at a time, so no run holds a list of every object it loads.
PLANNED_BATCH = """
SELECT object_id, object_key, etag, size
FROM planned_objects
WHERE source = %(source)s AND object_id > %(after)s
ORDER BY object_id
LIMIT %(limit)s
"""

PLANNED_BY_ID = "SELECT object_id, source, object_key, etag, size FROM planned_objects WHERE object_id IN %(ids)s"

PLAN_ALREADY_LOADED = """
SELECT l.source, COUNT(*)
FROM listed_objects l
WHERE EXISTS (SELECT 1 FROM loaded_objects o WHERE o.object_key = l.object_key)
GROUP BY l.source
"""

# Folder sources: what the last listings recorded, and, once the run has staged their files,
# the folders this listing saw new or changed.
KNOWN_FOLDERS = "SELECT folder, mtime_ns, subfolders FROM listed_folders WHERE source = %(source)s"

SEEN_FOLDERS_CREATE = """
CREATE TEMPORARY TABLE seen_folders (
    source      VARCHAR(8)     NOT NULL,
    folder      VARCHAR(1024)  NOT NULL,
    mtime_ns    BIGINT         NOT NULL,
    subfolders  INTEGER        NOT NULL
)
"""

SEEN_FOLDERS_COPY = f"COPY seen_folders (source, folder, mtime_ns, subfolders) {COPY_FROM_STDIN}"

LISTED_FOLDERS_RECORD = [
    """
    DELETE FROM listed_folders
    USING seen_folders s
    WHERE listed_folders.source = s.source AND listed_folders.folder = s.folder
    """,
    """
    INSERT INTO listed_folders (source, folder, mtime_ns, subfolders, run_id)
    SELECT source, folder, mtime_ns, subfolders, %(run_id)s FROM seen_folders
    """,
    "DROP TABLE seen_folders",
]

# After staging: the run's objects, with the rows each gave to staging and to rejects.
LOADED_OBJECTS_INSERT = """
INSERT INTO loaded_objects (object_id, run_id, source, object_key, etag, size, records, rejected)
SELECT p.object_id, %(run_id)s, p.source, p.object_key, p.etag, p.size,
       COALESCE(staged.records, 0), COALESCE(bad.rejected, 0)
FROM planned_objects p
LEFT JOIN (
    SELECT object_id, COUNT(*) AS records FROM staging_events WHERE run_id = %(run_id)s GROUP BY object_id
    UNION ALL
    SELECT object_id, COUNT(*) AS records FROM staging_songs WHERE run_id = %(run_id)s GROUP BY object_id
) staged ON staged.object_id = p.object_id
LEFT JOIN (
    SELECT object_key, COUNT(*) AS rejected FROM rejects WHERE run_id = %(run_id)s GROUP BY object_key
) bad ON bad.object_key = p.object_key
WHERE NOT EXISTS (  -- an object that could not be read (its reject is record 0): the next run tries it again
    SELECT 1 FROM rejects u WHERE u.run_id = %(run_id)s AND u.object_key = p.object_key AND u.record_no = 0
)
"""

# ---------------------------------------------------------------- staging
# PostgreSQL targets: the toolkit streams typed rows (COPY_FROM_STDIN).

STAGING_COPY = "COPY {table} ({columns}) " + COPY_FROM_STDIN
# Into a staging table this run emptied (a first load): its rows are written frozen, so no later
# statement dirties their pages again to mark them committed (and, on the embedded server,
# wal_level = minimal writes them without WAL: the table is fsynced at commit instead).
STAGING_COPY_FROZEN = "COPY {table} ({columns}) " + f"FROM STDIN WITH ({COPY_OPTIONS}, FREEZE)"

REJECTS_COPY = f"COPY rejects (run_id, source, object_key, line, record_no, reason, record) {COPY_FROM_STDIN}"

# Redshift: the cluster pulls the run's files from S3 itself, one COPY per staging table from
# a manifest of exactly those files (compacted gzip NDJSON parts, see redshift.py). The JSONPaths
# file maps each part's source fields and provenance to the column list. Statistics and
# compression analysis are skipped on staging: it is appended to every run and read once.
REDSHIFT_STAGING_COPY = """
COPY {table} ({columns})
FROM %(manifest)s
IAM_ROLE %(iam_role)s
MANIFEST
FORMAT AS JSON %(jsonpaths)s
GZIP
REGION %(region)s
MAXERROR %(max_errors)s
COMPUPDATE OFF
STATUPDATE OFF
"""

# The run's listing, written by the toolkit as a gzip CSV beside the parts.
REDSHIFT_LISTED_OBJECTS_COPY = """
COPY listed_objects (source, object_key, etag, size)
FROM %(listing)s
IAM_ROLE %(iam_role)s
CSV
GZIP
EMPTYASNULL
REGION %(region)s
"""

# Rejects found while compacting, written as a gzip CSV like the listing, so that an object key
# holding a control character is the same key in rejects as in loaded_objects.
REDSHIFT_REJECTS_COPY = """
COPY rejects (run_id, source, object_key, line, record_no, reason, record)
FROM %(rejects)s
IAM_ROLE %(iam_role)s
CSV
GZIP
EMPTYASNULL
REGION %(region)s
"""

REDSHIFT_SLICES = "SELECT COUNT(*) FROM stv_slices"

# Rows this session's COPYs skipped (under MAXERROR) or failed on, for rejects and the message.
REDSHIFT_LOAD_ERRORS = """
SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason), TRIM(raw_line)
FROM stl_load_errors
WHERE session = pg_backend_pid() AND starttime >= %(since)s
ORDER BY starttime, filename, line_number
"""

# doctor.py: can the cluster, with the role, read one source object? (a temporary table)
REDSHIFT_PROBE_TABLE = """
CREATE TEMPORARY TABLE doctor_{table} AS
SELECT {columns} FROM {table} WHERE 1 = 0
"""

REDSHIFT_PROBE_COPY = """
COPY doctor_{table} ({columns})
FROM %(object)s
IAM_ROLE %(iam_role)s
FORMAT AS JSON %(jsonpaths)s
REGION %(region)s
MAXERROR 100000
"""

REDSHIFT_PROBE_ROWS = "SELECT COUNT(*) FROM doctor_{table}"

# The columns of a table as the server has them, to type records and to compare with the model.
TABLE_COLUMNS = """
SELECT column_name, data_type, character_maximum_length, is_nullable
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %(table)s
ORDER BY ordinal_position
"""

# PostgreSQL plans the transforms on statistics, which COPY does not update (Redshift's COPY
# does, unless told not to). Sorts and hashes of a big run get room to stay in memory.
POSTGRES_SESSION_SETTINGS = ["SET work_mem = '256MB'"]
# report.py already reads on two connections at once (its panels apart): no parallel workers on
# top of them, which on a small machine only take turns (10M events on 2 cores: 16 s -> 15 s).
POSTGRES_REPORT_SETTINGS = [*POSTGRES_SESSION_SETTINGS, "SET max_parallel_workers_per_gather = 0"]
# A BRIN index answers only for the page ranges it has summarized, and COPY leaves the new
# pages unsummarized (until a VACUUM): without this, every run's "own rows" are all of staging.
# Summarizing reads only the run's new pages.
POSTGRES_AFTER_STAGING = [
    "SELECT brin_summarize_new_values('staging_events_run')",
    "SELECT brin_summarize_new_values('staging_songs_run')",
]
# ANALYZE reads a sample of 30,000 rows however big the table: a run that adds a tenth of a
# table's rows (staging, app_events) or more (a first load, a backfill) analyzes it; a smaller run does not
# pay for it, and needs not: its run id lies past the histogram, which the planner takes for a
# few rows (index scans, nested loops), and autovacuum re-analyzes as the table grows.
POSTGRES_ANALYZE_SHARE = 0.1
POSTGRES_ESTIMATED_ROWS = "SELECT reltuples FROM pg_class WHERE oid = CAST(%(table)s AS regclass)"
POSTGRES_ANALYZE = "ANALYZE {table}"
# Redshift: the staging COPYs run with STATUPDATE OFF, so a first load would leave staging (and
# app_events, filled from it) without statistics for the transforms. A run that grew them analyzes
# them, in its transaction (ANALYZE, unlike VACUUM, may run in one:
# https://docs.aws.amazon.com/redshift/latest/dg/r_ANALYZE.html), the columns used as predicates
# only; Redshift itself skips a table whose changed rows are under analyze_threshold_percent
# (10% by default: POSTGRES_ANALYZE_SHARE's rule). Temporary tables made by CREATE TABLE AS are
# analyzed by Redshift as they are made.
REDSHIFT_ANALYZE = "ANALYZE {table} PREDICATE COLUMNS"

# A table a run fills from empty (a first load, a rebuild, a new analytics layer) gets its rows
# before its indexes and key constraints, which are then built once, sorted: several times
# faster than maintaining them row by row. They are dropped and rebuilt inside the run's
# transaction (so a failed run keeps them); readers of that table wait for the run to commit.
# Staging and bookkeeping keep theirs: planning and staging look objects up in them. The tables:
# POSTGRES_BULK_TABLES (section 4).
POSTGRES_TABLE_INDEXES = """
SELECT i.relname, con.conname,
       CASE WHEN con.conname IS NULL THEN pg_get_indexdef(x.indexrelid) ELSE pg_get_constraintdef(con.oid) END
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
WHERE x.indrelid = CAST(%(table)s AS regclass)
ORDER BY i.relname
"""
POSTGRES_DROP_CONSTRAINT = "ALTER TABLE {table} DROP CONSTRAINT {name}"
POSTGRES_ADD_CONSTRAINT = "ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
POSTGRES_DROP_INDEX = "DROP INDEX {name}"
# A rebuild empties its tables with TRUNCATE (transactional on PostgreSQL, and it leaves no dead
# rows for the emptiness check and the inserts to wade through); Redshift's TRUNCATE commits.
POSTGRES_EMPTY = "TRUNCATE {tables}"


# ============================================================================ 3. transforms
# Each run transforms only the records it staged (run_id >= since_run); a rebuild empties the
# star schema and runs the same statements with since_run = 0.

START_TIME = "TIMESTAMP 'epoch' + {ts} / 1000.0 * INTERVAL '1 second'"  # milliseconds kept

# ---------------------------------------------------------------- songs
# One row per song_id; the latest loaded record wins, so this run's rows replace older ones.

# A song reloaded with another artist: its plays' artist_id follows (a play keeps its song_id;
# a rebuild takes artist_id from the songs as they are then). Found before songs is replaced,
# as the songs this run stages whose latest record names another artist than songs does.
REARTISTED_SONGS_DROP = "DROP TABLE IF EXISTS reartisted_songs"

REARTISTED_SONGS = """
CREATE TEMPORARY TABLE reartisted_songs AS
SELECT latest.song_id, latest.artist_id
FROM (
    SELECT song_id, artist_id,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY object_id DESC, source_record DESC) AS pick
    FROM staging_songs
    WHERE run_id >= %(since_run)s
) latest
JOIN songs s ON s.song_id = latest.song_id
WHERE latest.pick = 1 AND s.artist_id <> latest.artist_id
"""

# Rare: the EXISTS lets the server skip reading songplays when no song changed its artist.
SONGPLAYS_FOLLOW_REARTISTED = """
UPDATE songplays
SET artist_id = r.artist_id
FROM reartisted_songs r
WHERE songplays.song_id = r.song_id
  AND EXISTS (SELECT 1 FROM reartisted_songs)
"""

SONGS_DELETE_RELOADED = """
DELETE FROM songs
WHERE song_id IN (SELECT song_id FROM staging_songs WHERE run_id >= %(since_run)s)
"""

SONGS_INSERT = """
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, NULLIF(year, 0), duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY object_id DESC, source_record DESC) AS pick
    FROM staging_songs
    WHERE run_id >= %(since_run)s
) latest
WHERE pick = 1
"""

# ---------------------------------------------------------------- artists
# One row per artist_id, empty strings as NULL. Where an artist's rows disagree, the most
# complete row wins, then the latest loaded: a later song without a location does not erase it.

ARTIST_COMPLETENESS = (
    "(CASE WHEN {name} IS NULL THEN 0 ELSE 1 END + CASE WHEN {location} IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN {latitude} IS NULL THEN 0 ELSE 1 END + CASE WHEN {longitude} IS NULL THEN 0 ELSE 1 END)"
)

ARTIST_CANDIDATES_DROP = "DROP TABLE IF EXISTS artist_candidates"

ARTIST_CANDIDATES = f"""
CREATE TEMPORARY TABLE artist_candidates AS
SELECT artist_id, name, location, latitude, longitude, completeness
FROM (
    SELECT artist_id, name, location, latitude, longitude, completeness,
           ROW_NUMBER() OVER (PARTITION BY artist_id
                              ORDER BY completeness DESC, object_id DESC, source_record DESC) AS pick
    FROM (
        SELECT artist_id, NULLIF(artist_name, '') AS name, NULLIF(artist_location, '') AS location,
               artist_latitude AS latitude, artist_longitude AS longitude, object_id, source_record,
               {ARTIST_COMPLETENESS.format(name="NULLIF(artist_name, '')",
                                           location="NULLIF(artist_location, '')",
                                           latitude="artist_latitude",
                                           longitude="artist_longitude")} AS completeness
        FROM staging_songs
        WHERE run_id >= %(since_run)s
    ) rows_since
) ranked
WHERE pick = 1
"""

ARTISTS_DELETE_REPLACED = f"""
DELETE FROM artists
USING artist_candidates c
WHERE artists.artist_id = c.artist_id
  AND c.completeness >= {ARTIST_COMPLETENESS.format(name="artists.name", location="artists.location",
                                                   latitude="artists.latitude",
                                                   longitude="artists.longitude")}
"""

ARTISTS_INSERT = """
INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT c.artist_id, c.name, c.location, c.latitude, c.longitude
FROM artist_candidates c
WHERE NOT EXISTS (SELECT 1 FROM artists a WHERE a.artist_id = c.artist_id)
"""

# ---------------------------------------------------------------- songplays
# A songplay's song is the song whose title, artist name and duration equal the event's song,
# artist and length (the smallest song_id if several do). Songs that arrive after their plays
# fill in the songplays that had none.
# Nothing here reads more than the run's own records and what they key into: song_lookup keeps
# each song text's smallest song_id (updated from the run's songs), unmatched_plays keeps the
# songplays that have no song yet, by the text they name (a late song finds its plays there).
# On PostgreSQL their primary keys answer the lookups; on Redshift their sort keys.

RUN_SONG_KEYS_DROP = "DROP TABLE IF EXISTS run_song_keys"

# The song texts this run staged, each with its smallest song_id (a text without an artist
# name or a duration can never equal an event's).
RUN_SONG_KEYS = """
CREATE TEMPORARY TABLE run_song_keys AS
SELECT title, artist_name, duration, MIN(song_id) AS song_id
FROM staging_songs
WHERE run_id >= %(since_run)s AND artist_name IS NOT NULL AND duration IS NOT NULL
GROUP BY title, artist_name, duration
"""

# A text staged again with a smaller song_id: its songplays move to that song, as a rebuild
# would match them. Rare; the EXISTS lets the server skip the statement when there is none.
SONG_KEYS_BETTERED = """
SELECT k.title, k.artist_name, k.duration, l.song_id AS old_song_id, k.song_id
FROM run_song_keys k
JOIN song_lookup l ON l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
WHERE k.song_id < l.song_id
"""

SONGPLAYS_REMATCH_BETTERED = f"""
UPDATE songplays
SET song_id = b.song_id, artist_id = s.artist_id
FROM ({SONG_KEYS_BETTERED.strip()}) b,
     songs s
WHERE songplays.song_id = b.old_song_id
  AND s.song_id = b.song_id
  AND EXISTS ({SONG_KEYS_BETTERED.strip()})
"""

SONG_LOOKUP_DELETE_BETTERED = """
DELETE FROM song_lookup
USING run_song_keys k
WHERE song_lookup.title = k.title AND song_lookup.artist_name = k.artist_name
  AND song_lookup.duration = k.duration AND k.song_id < song_lookup.song_id
"""

SONG_LOOKUP_INSERT = """
INSERT INTO song_lookup (title, artist_name, duration, song_id)
SELECT k.title, k.artist_name, k.duration, k.song_id
FROM run_song_keys k
WHERE NOT EXISTS (
    SELECT 1 FROM song_lookup l
    WHERE l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
)
"""

# The run's songs fill in the earlier songplays that name them (only those without a song are
# in unmatched_plays), which then leave unmatched_plays. A text with unmatched plays was not in
# song_lookup before this run, so the run's smallest song_id for it is the lookup's.
SONGPLAYS_MATCH_LATE_SONGS = """
UPDATE songplays
SET song_id = k.song_id, artist_id = s.artist_id
FROM run_song_keys k, unmatched_plays u, songs s
WHERE u.song = k.title AND u.artist = k.artist_name AND u.length = k.duration
  AND s.song_id = k.song_id
  AND songplays.session_id = u.session_id AND songplays.item_in_session = u.item_in_session
  AND songplays.start_time = u.start_time
"""

UNMATCHED_PLAYS_DELETE_MATCHED = """
DELETE FROM unmatched_plays
USING run_song_keys k
WHERE unmatched_plays.song = k.title AND unmatched_plays.artist = k.artist_name
  AND unmatched_plays.length = k.duration
"""

RUN_PLAYS_DROP = "DROP TABLE IF EXISTS run_plays"

# The run's new songplays, once, with their song: its new NextSong events. The run has added its
# new events to app_events (section 4) by then, deduplicated; the rows it added are exactly those
# of its run, as an event kept before keeps the run that first loaded it. songplays,
# unmatched_plays and time are filled from run_plays.
RUN_PLAYS = """
CREATE TEMPORARY TABLE run_plays AS
SELECT e.run_id, e.start_time, e.user_id, e.level, l.song_id, s.artist_id, e.session_id, e.item_in_session,
       e.location, e.user_agent, e.song, e.artist, e.length
FROM app_events e
LEFT JOIN song_lookup l ON l.title = e.song AND l.artist_name = e.artist AND l.duration = e.length
LEFT JOIN songs s ON s.song_id = l.song_id
WHERE e.run_id >= %(since_run)s AND e.page = 'NextSong'
"""

# bench/ only (DWH_BENCH_NO_ANALYTICS=1): a run without the analytics layer, to measure what the
# layer costs, finds its new songplays in staging itself: the first loaded copy of each NextSong
# event not loaded before.
STAR_ONLY_RUN_PLAYS = f"""
CREATE TEMPORARY TABLE run_plays AS
SELECT e.run_id, e.start_time, e.user_id, e.level, l.song_id, s.artist_id, e.session_id, e.item_in_session,
       e.location, e.user_agent, e.song, e.artist, e.length
FROM (
    SELECT run_id, {START_TIME.format(ts="ts")} AS start_time, user_id, level, session_id, item_in_session,
           location, user_agent, song, artist, length,
           ROW_NUMBER() OVER (PARTITION BY session_id, item_in_session, ts
                              ORDER BY object_id, source_record) AS copy_no
    FROM staging_events
    WHERE run_id >= %(since_run)s AND page = 'NextSong'
) e
LEFT JOIN song_lookup l ON l.title = e.song AND l.artist_name = e.artist AND l.duration = e.length
LEFT JOIN songs s ON s.song_id = l.song_id
WHERE e.copy_no = 1
  AND NOT EXISTS (
      SELECT 1 FROM songplays p
      WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
        AND p.start_time = e.start_time
  )
"""

# songplay_id numbers the plays in the order they were loaded: by the run that first loaded the
# event, then by the event's time and identity, on from the last number. A rebuild (every run's
# plays at once) numbers them alike, and a failed or killed run uses up no numbers (an identity
# sequence would: its values are not rolled back).
SONGPLAYS_INSERT = """
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, item_in_session,
                       location, user_agent)
SELECT n.last_id + ROW_NUMBER() OVER (ORDER BY p.run_id, p.start_time, p.session_id, p.item_in_session),
       p.start_time, p.user_id, p.level, p.song_id, p.artist_id, p.session_id, p.item_in_session, p.location,
       p.user_agent
FROM run_plays p
CROSS JOIN (SELECT COALESCE(MAX(songplay_id), 0) AS last_id FROM songplays) n
"""

UNMATCHED_PLAYS_INSERT = """
INSERT INTO unmatched_plays (song, artist, length, start_time, session_id, item_in_session)
SELECT song, artist, length, start_time, session_id, item_in_session
FROM run_plays
WHERE song_id IS NULL AND song IS NOT NULL AND artist IS NOT NULL AND length IS NOT NULL
"""

# ---------------------------------------------------------------- users
# One row per user id (a logged-out visitor has none). Name, gender and level come from the
# user's latest event by ts; a late file for an old day never overrides a newer level.

USER_CANDIDATES_DROP = "DROP TABLE IF EXISTS user_candidates"

USER_CANDIDATES = f"""
CREATE TEMPORARY TABLE user_candidates AS
SELECT user_id, first_name, last_name, gender, level, {START_TIME.format(ts="ts")} AS seen_at
FROM (
    SELECT user_id, first_name, last_name, gender, level, ts,
           ROW_NUMBER() OVER (PARTITION BY user_id
                              ORDER BY ts DESC, object_id DESC, source_record DESC) AS pick
    FROM staging_events
    WHERE run_id >= %(since_run)s AND user_id IS NOT NULL
) ranked
WHERE pick = 1
"""

USERS_DELETE_SUPERSEDED = """
DELETE FROM users
USING user_candidates c
WHERE users.user_id = c.user_id AND users.last_seen_at <= c.seen_at
"""

USERS_INSERT = """
INSERT INTO users (user_id, first_name, last_name, gender, level, last_seen_at)
SELECT c.user_id, c.first_name, c.last_name, c.gender, c.level, c.seen_at
FROM user_candidates c
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = c.user_id)
"""

# ---------------------------------------------------------------- time
# One row per distinct songplay start_time. EXTRACT(week) is the ISO week on both engines;
# neither has an ISO weekday, so it is derived from dow (0 = Sunday).

TIME_INSERT = """
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT start_time,
       EXTRACT(hour FROM start_time), EXTRACT(day FROM start_time), EXTRACT(week FROM start_time),
       EXTRACT(month FROM start_time), EXTRACT(year FROM start_time),
       MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1
FROM (SELECT DISTINCT start_time FROM run_plays) new_times
WHERE NOT EXISTS (SELECT 1 FROM time t WHERE t.start_time = new_times.start_time)
-- in key order: the index grows at its end (no comment on a last line: it would swallow the ';' printed after it)
ORDER BY start_time
"""

transform_queries = [
    REARTISTED_SONGS_DROP,
    REARTISTED_SONGS,
    SONGS_DELETE_RELOADED,
    SONGS_INSERT,
    SONGPLAYS_FOLLOW_REARTISTED,
    REARTISTED_SONGS_DROP,
    ARTIST_CANDIDATES_DROP,
    ARTIST_CANDIDATES,
    ARTISTS_DELETE_REPLACED,
    ARTISTS_INSERT,
    ARTIST_CANDIDATES_DROP,
    RUN_SONG_KEYS_DROP,
    RUN_SONG_KEYS,
    SONGPLAYS_REMATCH_BETTERED,
    SONG_LOOKUP_DELETE_BETTERED,
    SONG_LOOKUP_INSERT,
    SONGPLAYS_MATCH_LATE_SONGS,
    UNMATCHED_PLAYS_DELETE_MATCHED,
    RUN_SONG_KEYS_DROP,
    RUN_PLAYS_DROP,
    RUN_PLAYS,
    SONGPLAYS_INSERT,
    UNMATCHED_PLAYS_INSERT,
    TIME_INSERT,
    RUN_PLAYS_DROP,
    USER_CANDIDATES_DROP,
    USER_CANDIDATES,
    USERS_DELETE_SUPERSEDED,
    USERS_INSERT,
    USER_CANDIDATES_DROP,
]
star_only_transform_queries = [STAR_ONLY_RUN_PLAYS if q is RUN_PLAYS else q for q in transform_queries]

# A rebuild empties the star schema and the song matching tables (and the analytics layer,
# section 4), which it fills again: on Redshift with DELETE (its TRUNCATE commits), on
# PostgreSQL with POSTGRES_EMPTY.
MATCH_TABLES = ["song_lookup", "unmatched_plays"]

TABLE_ROWS = "SELECT COUNT(*) FROM {table}"
# What table_rows keeps; a table it lacks (a warehouse from before it existed) is counted once.
KEPT_TABLE_ROWS = "SELECT table_name, row_count FROM table_rows"
KEEP_TABLE_ROWS = [
    "DELETE FROM table_rows WHERE table_name = %(table)s",
    "INSERT INTO table_rows (table_name, row_count, run_id) VALUES (%(table)s, %(rows)s, %(run_id)s)",
]
TABLE_HAS_ROWS = "SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) any_row"
STAGED_ROWS = "SELECT COUNT(*) FROM {table} WHERE run_id = %(run_id)s"

# ============================================================================ 4. analytics
# Beside the star schema, for the analysts: every app event of every page (app_events, one row
# per event identity), each user's level history (user_levels, type 2), the devices behind the
# user agents, and aggregates the dashboard reads. Every etl.py run maintains them right after
# the transforms, in the same transaction, from the records it staged (run_id >= since_run):
# app_events takes the run's new events; each aggregate then deletes exactly the keys those
# events touch and inserts their fresh aggregate from app_events, so an incremental load and a
# rebuild (emptied, since_run = 0) give the same rows by construction. Only APP_EVENTS_INSERT
# reads staging_events (which may hold an event twice); everything else reads app_events.
# (SONG_DAYS_RUN_SONGS also reads staging_songs, to learn which song texts this run's songs match.)

ANALYTICS_TABLES = ["app_events", "user_levels", "devices", "user_days", "user_sessions", "song_days", "hour_plays",
                    "user_day_places", "song_totals"]  # the last two: for the dashboard, at the end of the section

# ---------------------------------------------------------------- app_events
# Every page's events, deduplicated by identity as songplays are: the first loaded copy wins,
# and an event already kept by an earlier run stays as it is. Copies are rare: the identities the
# run staged more than once are found first (a narrow aggregate), and only their rows are ranked,
# so the run's events are not sorted whole.

EVENT_COPIES_DROP = "DROP TABLE IF EXISTS event_copies"

EVENT_COPIES = """
CREATE TEMPORARY TABLE event_copies AS
SELECT session_id, item_in_session, ts
FROM staging_events
WHERE run_id >= %(since_run)s
GROUP BY session_id, item_in_session, ts
HAVING COUNT(*) > 1
"""

APP_EVENTS_INSERT = f"""
INSERT INTO app_events (start_time, event_date, user_id, session_id, item_in_session, page, auth, level,
                        method, status, location, user_agent, song, artist, length, registration, run_id)
SELECT e.start_time, CAST(e.start_time AS DATE), e.user_id, e.session_id, e.item_in_session, e.page, e.auth,
       e.level, e.method, e.status, e.location, e.user_agent, e.song, e.artist, e.length, e.registration,
       e.run_id
FROM (
    SELECT {START_TIME.format(ts="s.ts")} AS start_time, s.user_id, s.session_id, s.item_in_session, s.page,
           s.auth, s.level, s.method, s.status, s.location, s.user_agent, s.song, s.artist, s.length,
           s.registration, s.run_id
    FROM staging_events s
    WHERE s.run_id >= %(since_run)s
      AND NOT EXISTS (SELECT 1 FROM event_copies c
                      WHERE c.session_id = s.session_id AND c.item_in_session = s.item_in_session AND c.ts = s.ts)
    UNION ALL
    SELECT {START_TIME.format(ts="ts")} AS start_time, user_id, session_id, item_in_session, page, auth, level,
           method, status, location, user_agent, song, artist, length, registration, run_id
    FROM (
        SELECT s.ts, s.user_id, s.session_id, s.item_in_session, s.page, s.auth, s.level, s.method, s.status,
               s.location, s.user_agent, s.song, s.artist, s.length, s.registration, s.run_id,
               ROW_NUMBER() OVER (PARTITION BY s.session_id, s.item_in_session, s.ts
                                  ORDER BY s.object_id, s.source_record) AS copy_no
        FROM staging_events s
        JOIN event_copies c ON c.session_id = s.session_id AND c.item_in_session = s.item_in_session AND c.ts = s.ts
        WHERE s.run_id >= %(since_run)s
    ) copies
    WHERE copy_no = 1
) e
WHERE NOT EXISTS (
    SELECT 1 FROM app_events a
    WHERE a.session_id = e.session_id AND a.item_in_session = e.item_in_session AND a.start_time = e.start_time
)
"""

# A warehouse that had staged events before the analytics layer existed: backfill it once.
ANALYTICS_BACKFILL_NEEDED = """
SELECT COUNT(*)
FROM (SELECT 1 FROM staging_events WHERE run_id < %(since_run)s LIMIT 1) older
WHERE NOT EXISTS (SELECT 1 FROM app_events)
"""

# ---------------------------------------------------------------- devices
# The run's new distinct user agents go to Python (ua-parser) and come back in one INSERT.

DEVICES_NEW_AGENTS = """
SELECT DISTINCT a.user_agent
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_agent IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_agent = a.user_agent)
ORDER BY a.user_agent
"""

DEVICES_INSERT = """
INSERT INTO devices (user_agent, os_family, os_version, browser_family, browser_version, device_family,
                     device_type)
VALUES %s
"""

# ---------------------------------------------------------------- user_levels
# Type 2: a user's events in order (start_time, then session_id, item_in_session for ties) form
# periods at one level. A period starts at the user's first event, at a change of level, and at
# the first event after a 'Cancellation Confirmation', which closes its period (valid_to = its
# start_time); otherwise a period ends where the next begins. A period of no length (a level
# that changed again within the same millisecond) is left out, and the periods it separated are
# one when they have the same level (no paid -> paid: check adjacent_user_levels_same_level).
# A run recomputes only its users, from their first new event on. A user new to user_levels has
# only the run's events. A known user's periods before the one in force at their first new event
# cannot change; that period (the "seed") may go on, so it is deleted and recomputed too, with
# its start standing in for the events before the first new one (they all had its level), and its
# cancellation, where one closed it before the first new event. So a run reads its users' events
# of its own days, not their whole history. Without a seed (the new events come before every
# period), the user's periods are all recomputed from the first new event.

LEVEL_WINDOWS_DROP = "DROP TABLE IF EXISTS level_windows"

# The run's known users: their first new event and the period in force then.
LEVEL_WINDOWS = """
CREATE TEMPORARY TABLE level_windows AS
SELECT w.user_id, w.first_new, p.level AS seed_level, p.valid_from AS seed_from,
       CASE WHEN p.valid_to < w.first_new THEN p.valid_to END AS seed_closed_at
FROM (
    SELECT n.user_id, n.first_new, MAX(CASE WHEN l.valid_from < n.first_new THEN l.valid_from END) AS seed_from
    FROM (
        SELECT user_id, MIN(start_time) AS first_new
        FROM app_events
        WHERE run_id >= %(since_run)s AND user_id IS NOT NULL AND level IS NOT NULL
        GROUP BY user_id
    ) n
    JOIN user_levels l ON l.user_id = n.user_id
    GROUP BY n.user_id, n.first_new
) w
LEFT JOIN user_levels p ON p.user_id = w.user_id AND p.valid_from = w.seed_from
"""

USER_LEVELS_DELETE = """
DELETE FROM user_levels
USING level_windows w
WHERE user_levels.user_id = w.user_id AND user_levels.valid_from >= COALESCE(w.seed_from, w.first_new)
"""

USER_LEVELS_INSERT = """
INSERT INTO user_levels (user_id, level, valid_from, valid_to)
SELECT user_id, MIN(level), MIN(valid_from),
       CASE WHEN COUNT(valid_to) = COUNT(*) THEN MAX(valid_to) END  -- the last period's end (NULL: open)
FROM (
    SELECT user_id, level, valid_from, valid_to,
           SUM(merges) OVER (PARTITION BY user_id ORDER BY valid_from ROWS UNBOUNDED PRECEDING) AS merged_no
    FROM (
        -- a period starts a merged one unless the one before it has its level, was not closed by
        -- a cancellation and ends where it begins (a period of no length between them left out)
        SELECT user_id, level, valid_from, valid_to,
               CASE WHEN LAG(level) OVER (PARTITION BY user_id ORDER BY valid_from) = level
                     AND LAG(closed) OVER (PARTITION BY user_id ORDER BY valid_from) = 0
                     AND LAG(valid_to) OVER (PARTITION BY user_id ORDER BY valid_from) = valid_from
                    THEN 0 ELSE 1 END AS merges
        FROM (
    SELECT user_id, level, valid_from,
           COALESCE(closed_at, LEAD(valid_from) OVER (PARTITION BY user_id ORDER BY period_no)) AS valid_to,
           CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END AS closed
    FROM (
        SELECT user_id, period_no, MIN(level) AS level, MIN(start_time) AS valid_from,
               MAX(CASE WHEN cancels = 1 THEN start_time END) AS closed_at
        FROM (
            SELECT user_id, level, start_time, cancels,
                   SUM(starts) OVER (PARTITION BY user_id ORDER BY start_time, session_id, item_in_session
                                     ROWS UNBOUNDED PRECEDING) AS period_no
            FROM (
                SELECT user_id, level, start_time, session_id, item_in_session, cancels,
                       CASE WHEN LAG(level) OVER (PARTITION BY user_id
                                                  ORDER BY start_time, session_id, item_in_session) IS NULL
                              OR LAG(level) OVER (PARTITION BY user_id
                                                  ORDER BY start_time, session_id, item_in_session) <> level
                              OR LAG(cancels) OVER (PARTITION BY user_id
                                                    ORDER BY start_time, session_id, item_in_session) = 1
                            THEN 1 ELSE 0 END AS starts
                FROM (
                    -- new users: the run's events
                    SELECT a.user_id, a.level, a.start_time, a.session_id, a.item_in_session,
                           CASE WHEN a.page = 'Cancellation Confirmation' THEN 1 ELSE 0 END AS cancels
                    FROM app_events a
                    WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL AND a.level IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM level_windows w WHERE w.user_id = a.user_id)
                    UNION ALL
                    -- known users: every event from their first new one on
                    SELECT a.user_id, a.level, a.start_time, a.session_id, a.item_in_session,
                           CASE WHEN a.page = 'Cancellation Confirmation' THEN 1 ELSE 0 END
                    FROM app_events a
                    JOIN level_windows w
                      ON w.user_id = a.user_id AND a.event_date >= CAST(w.first_new AS DATE)
                     AND a.start_time >= w.first_new
                    WHERE a.level IS NOT NULL  -- and only the days from the first new event on:
                      AND a.event_date BETWEEN (SELECT CAST(MIN(first_new) AS DATE) FROM level_windows)
                                           AND DATE '2099-12-31'  -- (every ts is before 2100)
                    UNION ALL
                    -- and the seed: its start, and its cancellation where one closed it before
                    SELECT user_id, seed_level, seed_from, 0, 0, 0
                    FROM level_windows
                    WHERE seed_from IS NOT NULL
                    UNION ALL
                    SELECT user_id, seed_level, seed_closed_at, 0, 0, 1
                    FROM level_windows
                    WHERE seed_closed_at IS NOT NULL
                ) user_events
            ) flagged
        ) numbered
        GROUP BY user_id, period_no
    ) periods
        ) bounded
        WHERE valid_to IS NULL OR valid_to > valid_from
    ) flagged_periods
) merged
GROUP BY user_id, merged_no
"""

# ---------------------------------------------------------------- the aggregates
# Each aggregate row is recomputed from all the events of its key, for the keys the run's new
# events touch: the (user, day), (user, session), (day, song, artist) and (day, hour). A key the
# aggregate does not have yet has only the run's events (every earlier run kept its keys), so
# those are aggregated straight from the run's rows; only the keys it has already ("old keys": a
# late file for an old day, a session that spans two runs) are deleted and read again with their
# earlier events, through app_events' indexes (PostgreSQL) and bounded to the keys' days.

ANALYTICS_KEYS_DROP = [
    "DROP TABLE IF EXISTS user_day_keys", "DROP TABLE IF EXISTS session_keys",
    "DROP TABLE IF EXISTS song_day_keys", "DROP TABLE IF EXISTS hour_keys",
]

USER_DAY_KEYS = """
CREATE TEMPORARY TABLE user_day_keys AS
SELECT DISTINCT a.user_id, a.event_date AS activity_date
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_days d WHERE d.user_id = a.user_id AND d.activity_date = a.event_date)
"""

USER_DAYS_DELETE = """
DELETE FROM user_days
USING user_day_keys k
WHERE user_days.user_id = k.user_id AND user_days.activity_date = k.activity_date
"""

# A user's registration (epoch ms) as a time: the earliest of the day's events; one from 2100 on is
# a unit error (as staging's ts range says), kept as missing rather than failing the cast.
REGISTERED_AT = ("TIMESTAMP 'epoch' + MIN(CASE WHEN registration < 4102444800000 THEN registration END) / 1000.0"
                 " * INTERVAL '1 second'")

USER_DAYS_INSERT = f"""
INSERT INTO user_days (user_id, activity_date, level, events, plays, sessions, listening_seconds, thumbs_up,
                       thumbs_down, add_to_playlist, add_friend, adverts, errors, help, upgrades, downgrades,
                       cancellations, first_event_at, last_event_at, registered_at)
SELECT user_id, activity_date,
       MAX(CASE WHEN latest = 1 THEN level END),
       COUNT(*),
       SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END),
       COUNT(DISTINCT session_id),
       CAST(COALESCE(SUM(CAST(CASE WHEN page = 'NextSong' THEN length END AS DECIMAL(18, 5))), 0)
            AS DOUBLE PRECISION),  -- summed exactly: a float sum would depend on the order of rows
       SUM(CASE WHEN page = 'Thumbs Up' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Thumbs Down' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Add to Playlist' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Add Friend' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Roll Advert' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Error' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Help' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Submit Upgrade' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Submit Downgrade' THEN 1 ELSE 0 END),
       SUM(CASE WHEN page = 'Cancellation Confirmation' THEN 1 ELSE 0 END),
       MIN(start_time), MAX(start_time),
       {REGISTERED_AT}
FROM (
    SELECT user_id, activity_date, level, page, session_id, length, start_time, registration,
           ROW_NUMBER() OVER (PARTITION BY user_id, activity_date
                              ORDER BY start_time DESC, session_id DESC, item_in_session DESC) AS latest
    FROM (
        SELECT a.user_id, a.event_date AS activity_date, a.level, a.page, a.session_id, a.item_in_session,
               a.length, a.start_time, a.registration
        FROM app_events a
        WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
        UNION ALL
        SELECT a.user_id, a.event_date, a.level, a.page, a.session_id, a.item_in_session, a.length, a.start_time,
               a.registration
        FROM user_day_keys k
        JOIN app_events a ON a.user_id = k.user_id AND a.event_date = k.activity_date
        WHERE a.run_id < %(since_run)s
    ) key_events
) day_events
GROUP BY user_id, activity_date
"""

SESSION_KEYS = """
CREATE TEMPORARY TABLE session_keys AS
SELECT DISTINCT a.user_id, a.session_id
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_sessions s WHERE s.user_id = a.user_id AND s.session_id = a.session_id)
"""

USER_SESSIONS_DELETE = """
DELETE FROM user_sessions
USING session_keys k
WHERE user_sessions.user_id = k.user_id AND user_sessions.session_id = k.session_id
"""

# A session ends when its last event ends: a NextSong at ts + length (rounded to the millisecond,
# as ts is), any other event at its ts.
EVENT_END = ("CASE WHEN page = 'NextSong' AND length IS NOT NULL"
             " THEN start_time + CAST(ROUND(length * 1000) AS BIGINT) / 1000.0 * INTERVAL '1 second'"
             " ELSE start_time END")

USER_SESSIONS_INSERT = f"""
INSERT INTO user_sessions (user_id, session_id, started_at, ended_at, events, plays, level)
SELECT user_id, session_id, MIN(start_time), MAX({EVENT_END}), COUNT(*),
       SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END),
       MAX(CASE WHEN latest = 1 THEN level END)
FROM (
    SELECT user_id, session_id, start_time, page, level, length,
           ROW_NUMBER() OVER (PARTITION BY user_id, session_id
                              ORDER BY start_time DESC, item_in_session DESC) AS latest
    FROM (
        SELECT a.user_id, a.session_id, a.start_time, a.item_in_session, a.page, a.level, a.length
        FROM app_events a
        WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
        UNION ALL
        SELECT a.user_id, a.session_id, a.start_time, a.item_in_session, a.page, a.level, a.length
        FROM session_keys k
        JOIN app_events a ON a.session_id = k.session_id AND a.user_id = k.user_id
        WHERE a.run_id < %(since_run)s
    ) key_events
) session_events
GROUP BY user_id, session_id
"""

# A song-day's song_id is the smallest its plays match as songplays do (song_lookup: title,
# artist name and duration). A song staged later can match old plays: the song-days of this
# run's songs' texts are old keys too.
SONG_DAY_KEYS = """
CREATE TEMPORARY TABLE song_day_keys AS
SELECT a.event_date AS activity_date, a.song, a.artist
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong' AND a.song IS NOT NULL AND a.artist IS NOT NULL
  AND EXISTS (SELECT 1 FROM song_days d
              WHERE d.activity_date = a.event_date AND d.song = a.song AND d.artist = a.artist)
UNION
SELECT d.activity_date, d.song, d.artist
FROM song_days d
JOIN (SELECT DISTINCT title, artist_name FROM staging_songs WHERE run_id >= %(since_run)s) s
  ON s.title = d.song AND s.artist_name = d.artist
"""

SONG_DAYS_DELETE = """
DELETE FROM song_days
USING song_day_keys k
WHERE song_days.activity_date = k.activity_date AND song_days.song = k.song AND song_days.artist = k.artist
"""

SONG_DAYS_INSERT = """
INSERT INTO song_days (activity_date, song, artist, song_id, plays, listeners)
SELECT p.activity_date, p.song, p.artist, MIN(m.song_id), COUNT(*), COUNT(DISTINCT p.user_id)
FROM (
    SELECT a.event_date AS activity_date, a.song, a.artist, a.length, a.user_id
    FROM app_events a
    WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong' AND a.song IS NOT NULL AND a.artist IS NOT NULL
    UNION ALL
    SELECT a.event_date, a.song, a.artist, a.length, a.user_id
    FROM song_day_keys k
    JOIN app_events a ON a.event_date = k.activity_date AND a.song = k.song AND a.artist = k.artist
    WHERE a.run_id < %(since_run)s AND a.page = 'NextSong'
      AND a.event_date BETWEEN (SELECT MIN(activity_date) FROM song_day_keys)
                           AND (SELECT MAX(activity_date) FROM song_day_keys)
) p
LEFT JOIN song_lookup m ON m.title = p.song AND m.artist_name = p.artist AND m.duration = p.length
GROUP BY p.activity_date, p.song, p.artist
"""

HOUR_KEYS = """
CREATE TEMPORARY TABLE hour_keys AS
SELECT DISTINCT k.activity_date, k.hour
FROM (SELECT a.event_date AS activity_date, CAST(EXTRACT(hour FROM a.start_time) AS SMALLINT) AS hour
      FROM app_events a
      WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong') k
WHERE EXISTS (SELECT 1 FROM hour_plays h WHERE h.activity_date = k.activity_date AND h.hour = k.hour)
"""

HOUR_PLAYS_DELETE = """
DELETE FROM hour_plays
USING hour_keys k
WHERE hour_plays.activity_date = k.activity_date AND hour_plays.hour = k.hour
"""

# The ISO weekday as in TIME_INSERT (dow: 0 = Sunday).
HOUR_PLAYS_INSERT = """
INSERT INTO hour_plays (activity_date, hour, weekday, plays)
SELECT activity_date, hour, MOD(CAST(EXTRACT(dow FROM activity_date) AS INTEGER) + 6, 7) + 1, COUNT(*)
FROM (
    SELECT a.event_date AS activity_date, CAST(EXTRACT(hour FROM a.start_time) AS SMALLINT) AS hour
    FROM app_events a
    WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong'
    UNION ALL
    SELECT k.activity_date, k.hour
    FROM hour_keys k
    JOIN app_events a ON a.event_date = k.activity_date AND EXTRACT(hour FROM a.start_time) = k.hour
    WHERE a.run_id < %(since_run)s AND a.page = 'NextSong'
      AND a.event_date BETWEEN (SELECT MIN(activity_date) FROM hour_keys)
                           AND (SELECT MAX(activity_date) FROM hour_keys)
) plays
GROUP BY activity_date, hour
"""

# ---------------------------------------------------------------- the dashboard's aggregates
# What report.py would otherwise read from all of app_events and song_days (section 8), kept by
# the same rule as the aggregates above: the keys the run's new events touch are recomputed.
# user_day_places: per user-day, by location and user agent (and a row per funnel step event),
# its events, plays, first free play and paid events. Old keys as in USER_DAY_KEYS. Both tables
# fill themselves from everything loaded when they are empty at a run (a warehouse that had the
# analytics layer before them gets them whole at its next run).
FUNNEL_PAGES = "('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade')"

PLACE_KEYS_DROP = "DROP TABLE IF EXISTS place_keys"

PLACE_KEYS = """
CREATE TEMPORARY TABLE place_keys AS
SELECT DISTINCT a.user_id, a.event_date AS activity_date
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_day_places p WHERE p.user_id = a.user_id AND p.activity_date = a.event_date)
"""

USER_DAY_PLACES_DELETE = """
DELETE FROM user_day_places
USING place_keys k
WHERE user_day_places.user_id = k.user_id AND user_day_places.activity_date = k.activity_date
"""

# A location "City, ST" or "Metro, NY-NJ-PA" is in the state of its first two-letter code after
# ", " (a multi-state metro counts for its first, principal state); anything else has none. The
# events are grouped by their location and user agent text first, then each group gets its state
# and device names (devices has every agent of the run's events by now: analytics.add_devices):
# two groups may share them, which every reader of the table sums over.
PLACE_STATE = ("CASE WHEN p.location LIKE '%%, %%' AND LENGTH(SPLIT_PART(SPLIT_PART(p.location, ', ', 2), '-', 1)) = 2"
               " THEN SPLIT_PART(SPLIT_PART(p.location, ', ', 2), '-', 1) END")

USER_DAY_PLACES_INSERT = f"""
INSERT INTO user_day_places (user_id, activity_date, state, os_family, browser_family, device_type, step_page,
                             step_time, events, plays, first_free_play, paid_events)
SELECT p.user_id, p.activity_date, {PLACE_STATE}, d.os_family, d.browser_family, d.device_type, p.step_page,
       p.step_time, p.events, p.plays, p.first_free_play, p.paid_events
FROM (
    SELECT user_id, activity_date, location, user_agent, step_page, step_time, COUNT(*) AS events,
           SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
           MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
           SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events
    FROM (
        SELECT user_id, activity_date, location, user_agent, page, level, start_time,
               CASE WHEN page IN {FUNNEL_PAGES} THEN page END AS step_page,
               CASE WHEN page IN {FUNNEL_PAGES} THEN start_time END AS step_time
        FROM (
            SELECT a.user_id, a.event_date AS activity_date, a.location, a.user_agent, a.page, a.level, a.start_time
            FROM app_events a
            WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
            UNION ALL
            SELECT a.user_id, a.event_date, a.location, a.user_agent, a.page, a.level, a.start_time
            FROM place_keys k
            JOIN app_events a ON a.user_id = k.user_id AND a.event_date = k.activity_date
            WHERE a.run_id < %(since_run)s
            UNION ALL  -- an empty table beside earlier runs' events (it is new to this warehouse): all of them
            SELECT a.user_id, a.event_date, a.location, a.user_agent, a.page, a.level, a.start_time
            FROM app_events a
            WHERE a.run_id < %(since_run)s AND a.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM user_day_places)
        ) key_events
    ) place_events
    GROUP BY user_id, activity_date, location, user_agent, step_page, step_time
) p
LEFT JOIN devices d ON d.user_agent = p.user_agent
"""

# song_totals: kept as a delta. A song text's plays are all its NextSong events, and a run's new
# events in app_events are exactly its new plays, so the run adds its plays per text (counted
# from its own rows) to the texts song_totals has and inserts the texts it lacks: no text's
# history is summed again. The song_id (the largest of the text's song-days' song_id, each the
# smallest its plays match) is no sum: where the run only added song-days (song_days then holds no
# earlier plays for the run's days of the text), it is the larger of the kept one and those of
# the run's song-days; where the run changed a song-day that was there (a late file for an old
# day: its smallest match may fall) or staged a song of the text (matches appear or move), the
# text's song_id is derived again from all its song-days (by song_days_song). Into an empty
# song_totals (a first load, a rebuild) every song-day is summed at once instead: no keys.
SONG_TOTAL_KEYS_DROP = "DROP TABLE IF EXISTS song_total_keys"

SONG_TOTAL_KEYS = """
CREATE TEMPORARY TABLE song_total_keys AS
SELECT song, artist, CAST(SUM(plays) AS BIGINT) AS plays, MAX(song_id) AS song_id, MAX(rederive) AS rederive
FROM (SELECT r.song, r.artist, SUM(r.plays) AS plays, MAX(d.song_id) AS song_id,
             MAX(CASE WHEN d.plays > r.plays THEN 1 ELSE 0 END) AS rederive
      FROM (SELECT a.event_date, a.song, a.artist, COUNT(*) AS plays
            FROM app_events a
            WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong' AND a.song IS NOT NULL AND a.artist IS NOT NULL
            GROUP BY a.event_date, a.song, a.artist) r
      JOIN song_days d ON d.activity_date = r.event_date AND d.song = r.song AND d.artist = r.artist
      GROUP BY r.song, r.artist
      UNION ALL
      SELECT DISTINCT title, artist_name, 0, CAST(NULL AS VARCHAR(64)), 1
      FROM staging_songs
      WHERE run_id >= %(since_run)s AND title IS NOT NULL AND artist_name IS NOT NULL) touched
WHERE EXISTS (SELECT 1 FROM song_totals)
GROUP BY song, artist
"""

SONG_TOTALS_ADD = """
UPDATE song_totals
SET plays = song_totals.plays + k.plays,
    song_id = CASE WHEN k.song_id IS NULL THEN song_totals.song_id
                   WHEN song_totals.song_id IS NULL OR k.song_id > song_totals.song_id THEN k.song_id
                   ELSE song_totals.song_id END
FROM song_total_keys k
WHERE song_totals.song = k.song AND song_totals.artist = k.artist
"""

SONG_TOTALS_INSERT_NEW = """
INSERT INTO song_totals (song, artist, song_id, plays)
SELECT k.song, k.artist, k.song_id, k.plays
FROM song_total_keys k
WHERE k.plays > 0
  AND NOT EXISTS (SELECT 1 FROM song_totals t WHERE t.song = k.song AND t.artist = k.artist)
"""

# Rare: the EXISTS lets the server skip reading song_days when no text needs it.
SONG_TOTALS_REDERIVE = """
UPDATE song_totals
SET song_id = r.song_id
FROM (SELECT d.song, d.artist, MAX(d.song_id) AS song_id
      FROM song_total_keys k
      JOIN song_days d ON d.song = k.song AND d.artist = k.artist
      WHERE k.rederive = 1
      GROUP BY d.song, d.artist) r
WHERE song_totals.song = r.song AND song_totals.artist = r.artist
  AND EXISTS (SELECT 1 FROM song_total_keys WHERE rederive = 1)
"""

SONG_TOTALS_INSERT = """
INSERT INTO song_totals (song, artist, song_id, plays)
SELECT song, artist, MAX(song_id), SUM(plays)
FROM song_days
WHERE NOT EXISTS (SELECT 1 FROM song_totals)
GROUP BY song, artist
"""

# In order: app_events first (before the transforms, which take the run's new songplays from it),
# then, after the transforms, everything derived from it. Devices go between, in Python.
analytics_app_events_queries = [EVENT_COPIES_DROP, EVENT_COPIES, APP_EVENTS_INSERT, EVENT_COPIES_DROP]
analytics_aggregate_queries = [
    LEVEL_WINDOWS_DROP, LEVEL_WINDOWS, USER_LEVELS_DELETE, USER_LEVELS_INSERT, LEVEL_WINDOWS_DROP,
    *ANALYTICS_KEYS_DROP,
    USER_DAY_KEYS, USER_DAYS_DELETE, USER_DAYS_INSERT,
    SESSION_KEYS, USER_SESSIONS_DELETE, USER_SESSIONS_INSERT,
    SONG_DAY_KEYS, SONG_DAYS_DELETE, SONG_DAYS_INSERT,
    HOUR_KEYS, HOUR_PLAYS_DELETE, HOUR_PLAYS_INSERT,
    *ANALYTICS_KEYS_DROP,
    PLACE_KEYS_DROP, PLACE_KEYS, USER_DAY_PLACES_DELETE, USER_DAY_PLACES_INSERT, PLACE_KEYS_DROP,
    SONG_TOTAL_KEYS_DROP, SONG_TOTAL_KEYS, SONG_TOTALS_ADD, SONG_TOTALS_INSERT_NEW, SONG_TOTALS_REDERIVE,
    SONG_TOTALS_INSERT, SONG_TOTAL_KEYS_DROP,
]
# PostgreSQL: app_events' block ranges are summarized once it has the run's events (as staging's,
# POSTGRES_AFTER_STAGING), each temporary table of keys is analyzed once made, and app_events when
# a run adds a large share of it (POSTGRES_ANALYZE_SHARE, as staging); Redshift's planner does
POSTGRES_AFTER_APP_EVENTS = [  # (none to summarize in a bulk load, see POSTGRES_BULK_TABLES)
    "SELECT brin_summarize_new_values(to_regclass('app_events_run')) WHERE to_regclass('app_events_run') IS NOT NULL",
    "SELECT brin_summarize_new_values(to_regclass('app_events_day')) WHERE to_regclass('app_events_day') IS NOT NULL",
]

# A rebuild empties the analytics layer too.
REBUILT_TABLES = STAR_TABLES + MATCH_TABLES + ANALYTICS_TABLES
# The tables a run may fill from empty without their indexes (section 2), all but the tiny devices.
POSTGRES_BULK_TABLES = [name for name in REBUILT_TABLES if name != "devices"]
rebuild_queries = [f"DELETE FROM {name}" for name in REBUILT_TABLES]


# ============================================================================ 5. a run's record (etl.py --status)

RECENT_RUNS = """
SELECT run_id, started_at, finished_at, outcome, objects_loaded, events_staged, songs_staged,
       rows_rejected, values_repaired, songplays_added, checks, message, toolkit_version, unknown_fields
FROM etl_runs
ORDER BY run_id DESC
LIMIT %(limit)s
"""

RUN_EXISTS = "SELECT outcome FROM etl_runs WHERE run_id = %(run_id)s"  # etl.py --rejects RUN
LATEST_RUN = "SELECT MAX(run_id) FROM etl_runs"

LOADED_BY_SOURCE = """
SELECT source, COUNT(*) AS objects, CAST(SUM(size) AS BIGINT) AS bytes, CAST(SUM(records) AS BIGINT) AS records,
       CAST(SUM(rejected) AS BIGINT) AS rejected
FROM loaded_objects
GROUP BY source
ORDER BY source
"""

LATEST_REJECTS_RUN = "SELECT MAX(run_id) FROM rejects"  # etl.py --rejects without a run

FIRST_REJECTS = """
SELECT object_key, line, record_no, reason
FROM rejects
WHERE run_id = %(run_id)s
ORDER BY object_key, record_no
LIMIT %(limit)s
"""

# ============================================================================ 6. checks
# check_data.py (and etl.py, when [ETL] RUN_CHECKS = true) runs these after loads. Each check
# is a query for the OFFENDING rows: it passes when it returns none, and a failure can be
# counted and shown. PostgreSQL enforces the keys the tables declare; Redshift only declares
# them, so these verify them on every target, in SQL both engines run.
# Each fault is reported by exactly one check: NULL keys only by the null_keys_ checks (the
# others skip NULLs), a time part out of range only by accepted_time_parts.

# songplays.user_id is no key column: NULL is a logged-out visitor's play (accepted_songplays_user_id).
CHECK_NULL_KEYS: dict[str, list[str]] = {  # table -> the columns none of its rows may leave NULL
    "songplays": ["songplay_id", "start_time", "session_id", "item_in_session"],
    "users": ["user_id", "level"],
    "songs": ["song_id", "title", "artist_id"],
    "artists": ["artist_id", "name"],
    "time": ["start_time", "hour", "day", "week", "month", "year", "weekday"],
    "staging_events": ["ts", "session_id", "item_in_session", "page"],
    "staging_songs": ["song_id", "title", "artist_id"],
    "app_events": ["start_time", "event_date", "session_id", "item_in_session", "page", "run_id"],
    "user_levels": ["user_id", "level", "valid_from"],
    "devices": ["user_agent"],
    "user_days": ["user_id", "activity_date"],
    "user_sessions": ["user_id", "session_id", "started_at", "ended_at"],
    "song_days": ["activity_date", "song", "artist"],
    "hour_plays": ["activity_date", "hour", "weekday"],
    "user_day_places": ["user_id", "activity_date"],
    "song_totals": ["song", "artist"],
}
CHECK_ROW_SOURCE = ["run_id", "object_id", "source_line"]  # shown with a staged row: where it came from

CHECK_UNIQUE_KEYS: dict[str, tuple[str, list[str]]] = {  # check name -> (table, key columns)
    "dup_songplays_event": ("songplays", ["session_id", "item_in_session", "start_time"]),
    "dup_songplays_songplay_id": ("songplays", ["songplay_id"]),
    "dup_users_user_id": ("users", ["user_id"]),
    "dup_songs_song_id": ("songs", ["song_id"]),
    "dup_artists_artist_id": ("artists", ["artist_id"]),
    "dup_time_start_time": ("time", ["start_time"]),
    "dup_app_events_event": ("app_events", ["session_id", "item_in_session", "start_time"]),
    "dup_user_levels_period": ("user_levels", ["user_id", "valid_from"]),
    "dup_devices_user_agent": ("devices", ["user_agent"]),
    "dup_user_days_user_day": ("user_days", ["user_id", "activity_date"]),
    "dup_user_sessions_session": ("user_sessions", ["user_id", "session_id"]),
    "dup_song_days_song_day": ("song_days", ["activity_date", "song", "artist"]),
    "dup_hour_plays_hour": ("hour_plays", ["activity_date", "hour"]),
    "dup_song_totals_song": ("song_totals", ["song", "artist"]),
}

ISO_WEEKDAY = "MOD(CAST(EXTRACT(dow FROM {ts}) AS INTEGER) + 6, 7) + 1"  # derived as in TIME_INSERT

# part -> (its accepted range, or None; its value computed from start_time)
TIME_PARTS: dict[str, tuple[tuple[int, int] | None, str]] = {
    "hour": ((0, 23), "EXTRACT(hour FROM start_time)"),
    "day": ((1, 31), "EXTRACT(day FROM start_time)"),
    "week": ((1, 53), "EXTRACT(week FROM start_time)"),
    "month": ((1, 12), "EXTRACT(month FROM start_time)"),
    "year": (None, "EXTRACT(year FROM start_time)"),
    "weekday": ((1, 7), ISO_WEEKDAY.format(ts="start_time")),
}


def _any_of(conditions: list[str]) -> str:
    return "\n   OR ".join(conditions)


def _which(conditions: dict[str, str]) -> str:
    """An expression naming what holds for a row, e.g. 'user_id, level' (SUBSTRING drops the
    leading ', '). Plain CASE and ||, which both engines have."""
    cases = "\n           || ".join(
        f"CASE WHEN {condition} THEN ', {name}' ELSE '' END" for name, condition in conditions.items()
    )
    return f"SUBSTRING({cases} FROM 3)"


def _null_keys_check(table: str, columns: list[str]) -> str:
    nulls = {column: f"{column} IS NULL" for column in columns}
    shown = columns + (CHECK_ROW_SOURCE if table.startswith("staging_") else [])
    return f"""
SELECT {", ".join(shown)},
       {_which(nulls)} AS null_columns
FROM {table}
WHERE {_any_of(list(nulls.values()))}
"""


def _duplicate_keys_check(table: str, columns: list[str]) -> str:
    key = ", ".join(columns)
    return f"""
SELECT {key}, COUNT(*) AS copies
FROM {table}
WHERE {" AND ".join(f"{column} IS NOT NULL" for column in columns)}
GROUP BY {key}
HAVING COUNT(*) > 1
"""


TIME_PARTS_OUT_OF_RANGE = {
    part: f"{part} NOT BETWEEN {accepted[0]} AND {accepted[1]}"
    for part, (accepted, _) in TIME_PARTS.items() if accepted
}
# A part out of range is accepted_time_parts' to report; the agreement check looks at the others.
TIME_PARTS_DISAGREEING = {
    part: (f"{part} BETWEEN {accepted[0]} AND {accepted[1]} AND " if accepted else "") + f"{part} <> {value}"
    for part, (accepted, value) in TIME_PARTS.items()
}

# The dashboard's two helpers (section 4) against what they refine. Counts are compared NULL-safe
# with CASE (Redshift has no IS DISTINCT FROM): a side that lacks the key differs from one that has
# it. Each is reported only where what it is built beside agrees with app_events (user_days for
# user_day_places, song_days for song_totals), so a fault upstream (in app_events, user_days or
# song_days) does not trip it as well; rows with a NULL key are the null_keys_ checks', a key held
# twice in song_totals is dup_song_totals_song's. Each reads every table it compares once.


def _differ(left: str, right: str) -> str:
    return f"CASE WHEN {left} = {right} OR ({left} IS NULL AND {right} IS NULL) THEN 0 ELSE 1 END = 1"


# user_day_places, summed per user-day -> (that sum, the same from app_events' events)
PLACE_DAY_SUMS = {
    "events": ("SUM(events)", "COUNT(*)"),
    "plays": ("SUM(plays)", "SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END)"),
    "paid_events": ("SUM(paid_events)", "SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END)"),
    "first_free_play": ("MIN(first_free_play)",
                        "MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END)"),
    "step_events": ("SUM(CASE WHEN step_page IS NOT NULL THEN events ELSE 0 END)",
                    f"SUM(CASE WHEN page IN {FUNNEL_PAGES} THEN 1 ELSE 0 END)"),
    "last_step_at": ("MAX(step_time)", f"MAX(CASE WHEN page IN {FUNNEL_PAGES} THEN start_time END)"),
}
PLACE_DAYS_DIFFERING = {column: _differ(f"p.{column}", f"a.{column}") for column in PLACE_DAY_SUMS}
_PLACE_DAY_SHOWN = ",\n       ".join(f"p.{column} AS place_{column}, a.{column}" for column in PLACE_DAY_SUMS)
_PLACE_DAY_KEPT = ",\n             ".join(f"{kept} AS {column}" for column, (kept, _) in PLACE_DAY_SUMS.items())
_PLACE_DAY_DERIVED = ",\n                  ".join(f"{derived} AS {column}"
                                              for column, (_, derived) in PLACE_DAY_SUMS.items())

RECONCILE_USER_DAY_PLACES = f"""
SELECT COALESCE(p.user_id, a.user_id) AS user_id, COALESCE(p.activity_date, a.activity_date) AS activity_date,
       {_PLACE_DAY_SHOWN},
       {_which(PLACE_DAYS_DIFFERING)} AS differing
FROM (SELECT user_id, activity_date,
             {_PLACE_DAY_KEPT}
      FROM user_day_places
      WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
      GROUP BY user_id, activity_date) p
FULL JOIN (SELECT user_id, event_date AS activity_date,
                  {_PLACE_DAY_DERIVED}
           FROM app_events
           WHERE user_id IS NOT NULL AND event_date IS NOT NULL
           GROUP BY user_id, event_date) a
       ON a.user_id = p.user_id AND a.activity_date = p.activity_date
LEFT JOIN user_days d
       ON d.user_id = COALESCE(p.user_id, a.user_id) AND d.activity_date = COALESCE(p.activity_date, a.activity_date)
WHERE ({_any_of(list(PLACE_DAYS_DIFFERING.values()))})
  AND CASE WHEN (a.user_id IS NULL AND d.user_id IS NULL) OR (d.events = a.events AND d.plays = a.plays)
           THEN 1 ELSE 0 END = 1
"""

SONG_TOTALS_DIFFERING = {
    "not_in_song_totals": "t.song IS NULL",
    "not_in_song_days": "d.song IS NULL",
    "plays": f"t.song IS NOT NULL AND d.song IS NOT NULL AND {_differ('t.plays', 'd.plays')}",
    "song_id": f"t.song IS NOT NULL AND d.song IS NOT NULL AND {_differ('t.song_id', 'd.song_id')}",
}

RECONCILE_SONG_TOTALS = f"""
SELECT COALESCE(t.song, d.song) AS song, COALESCE(t.artist, d.artist) AS artist,
       t.plays, d.plays AS day_plays, t.song_id, d.song_id AS day_song_id,
       {_which(SONG_TOTALS_DIFFERING)} AS differing
FROM (SELECT song, artist, MAX(song_id) AS song_id, MAX(plays) AS plays, COUNT(*) AS copies
      FROM song_totals
      WHERE song IS NOT NULL AND artist IS NOT NULL
      GROUP BY song, artist) t
FULL JOIN (SELECT song, artist, MAX(song_id) AS song_id, SUM(plays) AS plays
           FROM song_days
           WHERE activity_date IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
           GROUP BY song, artist) d
       ON d.song = t.song AND d.artist = t.artist
LEFT JOIN (SELECT song, artist, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND song IS NOT NULL AND artist IS NOT NULL
           GROUP BY song, artist) e
       ON e.song = COALESCE(t.song, d.song) AND e.artist = COALESCE(t.artist, d.artist)
WHERE COALESCE(t.copies, 1) = 1
  AND ({_any_of(list(SONG_TOTALS_DIFFERING.values()))})
  AND CASE WHEN (d.song IS NULL AND e.song IS NULL) OR d.plays = e.plays THEN 1 ELSE 0 END = 1
"""

# hour_plays against app_events' NextSong events per day and hour, reported only where songplays
# agrees with app_events there (where they disagree, the reconcile_ checks of songplays report it).
EVENT_HOUR = "CAST(EXTRACT(hour FROM start_time) AS SMALLINT)"
RECONCILE_HOUR_PLAYS = f"""
SELECT COALESCE(h.activity_date, a.activity_date) AS activity_date, COALESCE(h.hour, a.hour) AS hour,
       h.plays, a.plays AS event_plays
FROM (SELECT activity_date, hour, MAX(plays) AS plays, COUNT(*) AS copies
      FROM hour_plays
      WHERE activity_date IS NOT NULL AND hour IS NOT NULL
      GROUP BY activity_date, hour) h
FULL JOIN (SELECT event_date AS activity_date, {EVENT_HOUR} AS hour, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND event_date IS NOT NULL AND start_time IS NOT NULL
           GROUP BY event_date, {EVENT_HOUR}) a
       ON a.activity_date = h.activity_date AND a.hour = h.hour
LEFT JOIN (SELECT CAST(start_time AS DATE) AS activity_date, {EVENT_HOUR} AS hour, COUNT(*) AS plays
           FROM songplays
           WHERE start_time IS NOT NULL
           GROUP BY CAST(start_time AS DATE), {EVENT_HOUR}) p
       ON p.activity_date = COALESCE(h.activity_date, a.activity_date) AND p.hour = COALESCE(h.hour, a.hour)
WHERE COALESCE(h.copies, 1) = 1
  AND {_differ("h.plays", "a.plays")}
  AND CASE WHEN (a.plays IS NULL AND p.plays IS NULL) OR a.plays = p.plays THEN 1 ELSE 0 END = 1
"""

# The reconciliations compare by event identity through [NOT] EXISTS on these, not by joining the
# distinct staged events, which at 10M events costs a sort or hash of every staged event before
# anything is compared. The staged NextSong event of the row aliased {row} (a songplay or an app event):
STAGED_SONGPLAY_EVENT = f"""(SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = {{row}}.session_id
       AND e.item_in_session = {{row}}.item_in_session AND {START_TIME.format(ts="e.ts")} = {{row}}.start_time)"""
# The songplay with the identity of the row aliased {row} (a staged event or an app event).
SONGPLAY_OF_EVENT = """(SELECT 1 FROM songplays p
     WHERE p.session_id = {row}.session_id AND p.item_in_session = {row}.item_in_session
       AND p.start_time = {row}.start_time)"""

CHECKS: dict[str, tuple[str, str]] = {  # name -> (what it checks, the query for the offending rows)
    **{
        f"null_keys_{table}": (f"no NULL in {table}: {', '.join(columns)}", _null_keys_check(table, columns))
        for table, columns in CHECK_NULL_KEYS.items()
    },
    **{
        name: (f"one {table} row per ({', '.join(columns)})", _duplicate_keys_check(table, columns))
        for name, (table, columns) in CHECK_UNIQUE_KEYS.items()
    },
    "orphan_songplays_user_id": ("every songplay's user is in users", """
SELECT p.songplay_id, p.user_id
FROM songplays p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.user_id IS NOT NULL AND u.user_id IS NULL
"""),
    "orphan_songplays_start_time": ("every songplay's start_time is in time", """
SELECT p.songplay_id, p.start_time
FROM songplays p
LEFT JOIN time t ON t.start_time = p.start_time
WHERE p.start_time IS NOT NULL AND t.start_time IS NULL
"""),
    "orphan_songplays_song_id": ("every songplay's song, where set, is in songs", """
SELECT p.songplay_id, p.song_id
FROM songplays p
LEFT JOIN songs s ON s.song_id = p.song_id
WHERE p.song_id IS NOT NULL AND s.song_id IS NULL
"""),
    "orphan_songplays_artist_id": ("every songplay's artist, where set, is in artists", """
SELECT p.songplay_id, p.artist_id
FROM songplays p
LEFT JOIN artists a ON a.artist_id = p.artist_id
WHERE p.artist_id IS NOT NULL AND a.artist_id IS NULL
"""),
    "orphan_songs_artist_id": ("every song's artist is in artists", """
SELECT s.song_id, s.title, s.artist_id
FROM songs s
LEFT JOIN artists a ON a.artist_id = s.artist_id
WHERE s.artist_id IS NOT NULL AND a.artist_id IS NULL
"""),
    "accepted_users_level": ("users.level is 'free' or 'paid'", """
SELECT user_id, level
FROM users
WHERE level NOT IN ('free', 'paid')
"""),
    # songplays.level is no key column, so no null_keys_ check covers its NULLs: this one does.
    "accepted_songplays_level": ("songplays.level is 'free' or 'paid'", """
SELECT songplay_id, user_id, level
FROM songplays
WHERE level IS NULL OR level NOT IN ('free', 'paid')
"""),
    # A NextSong event with no user id (a logged-out visitor, who is no user) is a songplay all the
    # same, with a NULL user_id; any other songplay has its event's user.
    "accepted_songplays_user_id": ("songplays.user_id is NULL only for a logged-out visitor's play", """
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time, a.user_id AS event_user_id
FROM songplays p
JOIN app_events a
  ON a.session_id = p.session_id AND a.item_in_session = p.item_in_session AND a.start_time = p.start_time
WHERE p.user_id IS NULL AND a.user_id IS NOT NULL
"""),
    "accepted_users_gender": ("users.gender is 'M', 'F' or NULL", """
SELECT user_id, gender
FROM users
WHERE gender NOT IN ('M', 'F')
"""),
    "accepted_time_parts": ("time: hour 0-23, day 1-31, week 1-53, month 1-12, weekday 1-7", f"""
SELECT start_time, hour, day, week, month, weekday,
       {_which(TIME_PARTS_OUT_OF_RANGE)} AS out_of_range
FROM time
WHERE {_any_of(list(TIME_PARTS_OUT_OF_RANGE.values()))}
"""),
    "consistent_time_parts": ("time's parts are those of its start_time", f"""
SELECT start_time, hour, day, week, month, year, weekday,
       {_which(TIME_PARTS_DISAGREEING)} AS disagreeing
FROM time
WHERE {_any_of([f"({condition})" for condition in TIME_PARTS_DISAGREEING.values()])}
"""),
    "reconcile_staged_not_in_songplays": ("every staged NextSong event has its songplay", f"""
SELECT DISTINCT e.session_id, e.item_in_session, e.start_time
FROM (SELECT session_id, item_in_session, {START_TIME.format(ts="ts")} AS start_time
      FROM staging_events
      WHERE page = 'NextSong') e
WHERE NOT EXISTS {SONGPLAY_OF_EVENT.format(row="e")}
"""),
    "reconcile_songplays_not_staged": ("every songplay has its staged NextSong event", f"""
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS {STAGED_SONGPLAY_EVENT.format(row="p")}
  AND p.session_id IS NOT NULL AND p.item_in_session IS NOT NULL AND p.start_time IS NOT NULL
"""),
    # The analytics layer (section 4). Its NextSong events and songplays are one set of events.
    # Where songplays disagrees with staging, the two checks above report it; these report where
    # app_events disagrees with songplays although songplays agrees with staging.
    "reconcile_app_events_not_in_songplays": ("every NextSong app event has its songplay", f"""
SELECT a.session_id, a.item_in_session, a.start_time, a.run_id
FROM app_events a
WHERE a.page = 'NextSong'
  AND NOT EXISTS {SONGPLAY_OF_EVENT.format(row="a")}
  AND NOT EXISTS {STAGED_SONGPLAY_EVENT.format(row="a")}
  AND a.session_id IS NOT NULL AND a.item_in_session IS NOT NULL AND a.start_time IS NOT NULL
"""),
    "reconcile_songplays_not_in_app_events": ("every songplay has its NextSong app event", f"""
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.session_id = p.session_id AND a.item_in_session = p.item_in_session
                    AND a.start_time = p.start_time AND a.page = 'NextSong')
  AND EXISTS {STAGED_SONGPLAY_EVENT.format(row="p")}
"""),
    **{
        f"orphan_{table}_user_id": (f"every {table} row's user is in users", f"""
SELECT t.user_id, COUNT(*) AS row_count
FROM {table} t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
""")
        for table in ("app_events", "user_levels", "user_days", "user_sessions")
    },
    # Tied timestamps must not leave paid -> paid: adjacent periods of one level are one period,
    # unless a Cancellation Confirmation closed the first (its end is that event).
    "adjacent_user_levels_same_level": ("no user's level period is followed at once by another at its level", """
SELECT l.user_id, l.level, l.valid_from, l.valid_to, n.valid_from AS next_from
FROM user_levels l
JOIN user_levels n ON n.user_id = l.user_id AND n.valid_from = l.valid_to AND n.level = l.level
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.user_id = l.user_id AND a.start_time = l.valid_to
                    AND a.page = 'Cancellation Confirmation')
"""),
    "orphan_app_events_user_agent": ("every app event's user agent is in devices", """
SELECT a.user_agent, COUNT(*) AS events
FROM app_events a
LEFT JOIN devices d ON d.user_agent = a.user_agent
WHERE a.user_agent IS NOT NULL AND d.user_agent IS NULL
GROUP BY a.user_agent
"""),
    # The row counts etl.py keeps (table_rows) against the tables' own.
    "reconcile_table_rows": ("table_rows holds each star table's row count", "\nUNION ALL\n".join(
        f"SELECT '{table}' AS table_name, k.row_count AS kept, c.row_count AS counted\n"
        f"FROM (SELECT COUNT(*) AS row_count FROM {table}) c\n"
        f"LEFT JOIN table_rows k ON k.table_name = '{table}'\n"
        f"WHERE k.row_count <> c.row_count"
        for table in STAR_TABLES) + "\n"),
    "reconcile_user_day_places_app_events": (
        "user_day_places sums to its user-days' app events (where user_days agrees with them)",
        RECONCILE_USER_DAY_PLACES),
    "reconcile_song_totals_song_days": (
        "song_totals holds each song text's song_days plays and song_id (where song_days agrees with app_events)",
        RECONCILE_SONG_TOTALS),
    "reconcile_hour_plays_app_events": (
        "hour_plays holds each hour's NextSong app events (where songplays agrees with them)", RECONCILE_HOUR_PLAYS),
}

CHECK_COUNT = "SELECT COUNT(*) FROM ({check}) offending"
CHECK_EXAMPLES = "SELECT * FROM ({check}) offending LIMIT %(limit)s"

# Informational, not pass/fail: how many plays were matched to a known song.
SONG_MATCH_RATE = "SELECT COUNT(song_id) AS matched, COUNT(*) AS songplays FROM songplays"

# Warnings, informational like the match rate: counted and shown, never a failure.
# Staged events later than the start of the run that loaded them. Loading accepts them (its range
# for ts is fixed, never the clock, so a load is the same on any day), but upstream clock or unit
# errors show here. Examples ordered so the first ones are the same every time.
WARNINGS: dict[str, tuple[str, str]] = {  # name -> (what it warns about, the query for the rows)
    "events_after_load": ("staged events later than the start of the run that loaded them", f"""
SELECT e.run_id, e.object_id, e.source_line, {START_TIME.format(ts="e.ts")} AS start_time,
       r.started_at AS run_started_at
FROM staging_events e
JOIN etl_runs r ON r.run_id = e.run_id
WHERE {START_TIME.format(ts="e.ts")} > r.started_at
"""),
}
WARNING_EXAMPLES = "SELECT * FROM ({check}) offending ORDER BY 1, 2, 3 LIMIT %(limit)s"

# ---------------------------------------------------------------- typical analytics queries
# What analysts ask of the star schema; check_data.py reports how fast the warehouse answers.

ANALYTICS_QUERIES: dict[str, tuple[str, str]] = {  # name -> (what it answers, SQL)
    "top_songs": ("the 10 most played songs, with their artists", """
SELECT s.title, a.name AS artist, COUNT(*) AS plays
FROM songplays p
JOIN songs s ON s.song_id = p.song_id
LEFT JOIN artists a ON a.artist_id = s.artist_id
GROUP BY s.song_id, s.title, a.name
ORDER BY plays DESC, s.title
LIMIT 10
"""),
    "plays_by_hour": ("plays per hour of the day", """
SELECT t.hour, COUNT(*) AS plays
FROM songplays p
JOIN time t ON t.start_time = p.start_time
GROUP BY t.hour
ORDER BY t.hour
"""),
    "plays_by_level": ("paid versus free plays", """
SELECT level, COUNT(*) AS plays
FROM songplays
GROUP BY level
ORDER BY level
"""),
    "most_active_users": ("the 10 users who play the most", """
SELECT u.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays
FROM songplays p
JOIN users u ON u.user_id = p.user_id
GROUP BY u.user_id, u.first_name, u.last_name, u.level
ORDER BY plays DESC, u.user_id
LIMIT 10
"""),
    "plays_per_day": ("plays per day", """
SELECT t.year, t.month, t.day, COUNT(*) AS plays
FROM songplays p
JOIN time t ON t.start_time = p.start_time
GROUP BY t.year, t.month, t.day
ORDER BY t.year, t.month, t.day
"""),
}

SAMPLE_ROWS = "SELECT * FROM {table} LIMIT %(limit)s"


# ============================================================================ 7. trends
# trends.py reads small daily aggregates of the analytics layer (section 4), forecasts them in
# Python, ranks the trending songs and artists here in SQL, and stores one trend run (tables in
# section 1). Days are DATEs computed by trends.py, so no date arithmetic differs between engines.

# Trend runs take turns for their id, like loads.
TREND_RUN_LOCK = "LOCK TABLE trend_runs IN SHARE ROW EXCLUSIVE MODE"
REDSHIFT_TREND_RUN_LOCK = "LOCK trend_runs"
TREND_RUN_NEXT_ID = "SELECT COALESCE(MAX(trend_run_id), 0) + 1 FROM trend_runs"
TREND_LOAD_RUN = "SELECT MAX(run_id) FROM etl_runs WHERE outcome = 'succeeded'"
# PostgreSQL: the trending windows of a big warehouse aggregate in memory (this transaction only).
TREND_POSTGRES_SETTINGS = ["SET LOCAL work_mem = '256MB'"]

# ---------------------------------------------------------------- the series (one row per day with data)

TREND_DAILY_PLAYS = """
SELECT activity_date, SUM(plays) AS plays
FROM hour_plays
GROUP BY activity_date
ORDER BY activity_date
"""

TREND_DAILY_ACTIVE_USERS = """
SELECT activity_date, COUNT(*) AS active_users
FROM user_days
GROUP BY activity_date
ORDER BY activity_date
"""

# Paid subscribers on day D: users whose level in force at the end of D is paid, from their
# registration until their Cancellation Confirmation. The log is complete, so a user's level
# before their first event is that event's level: a user's first period counts from their
# registration (user_days.registered_at, the earliest; none: the first event) where that is
# earlier. A period counts from the day of its start, or the day before when it starts exactly at
# midnight, to the same day of valid_to, exclusive (in force at the end of D: start <= D + 1 day
# < valid_to). These are the changes per such day (at_midnight says which), in one pass over the
# paid periods (each gives +1 at its start and -1 at its end); trends.py and report.py shift and
# sum them over the calendar, a change before the first day counting from it.
TREND_PAID_CHANGES = """
SELECT CAST(changes_at AS DATE) AS change_date,
       CASE WHEN changes_at = DATE_TRUNC('day', changes_at) THEN 1 ELSE 0 END AS at_midnight,
       SUM(step) AS change
FROM (SELECT CASE WHEN e.step = 1 THEN p.counts_from ELSE p.valid_to END AS changes_at, e.step
      FROM (SELECT l.valid_to,
                   CASE WHEN l.valid_from = l.first_from AND r.registered_at < l.valid_from THEN r.registered_at
                        ELSE l.valid_from END AS counts_from
            FROM (SELECT user_id, level, valid_from, valid_to,
                         MIN(valid_from) OVER (PARTITION BY user_id) AS first_from
                  FROM user_levels) l
            LEFT JOIN (SELECT user_id, MIN(registered_at) AS registered_at
                       FROM user_days
                       GROUP BY user_id) r ON r.user_id = l.user_id
            WHERE l.level = 'paid') p
      CROSS JOIN (SELECT 1 AS step UNION ALL SELECT -1 AS step) e
      WHERE e.step = 1 OR p.valid_to IS NOT NULL) changes
GROUP BY CAST(changes_at AS DATE), CASE WHEN changes_at = DATE_TRUNC('day', changes_at) THEN 1 ELSE 0 END
"""

# ---------------------------------------------------------------- trending
# The last 7 days (recent_from .. last_day) against the 21 before (before_from ..). Overall
# traffic is every play in each window; a song's expected recent plays are its plays before
# times recent/before traffic (%(traffic)s). Significance: given a song's plays in both windows
# (n = plays + plays_before), are its recent plays more than the recent traffic's share
# predicts? An exact one-sided binomial test, P(X >= plays) for X ~ Binomial(n, recent traffic /
# all traffic), depends only on (plays, plays_before): TRENDING_*_COUNTS count the songs (or
# artists) of each pair, a small aggregate, and trends.py computes the p-values and the
# Benjamini-Hochberg q-values over every one tested (m = every song, or artist, with a play in
# either window). The pairs with q <= the FDR go back into trending_significant, and only songs
# with those pairs are ranked, by score (plays + a) / (expected + a): the posterior mean of the
# song's rate ratio under a Gamma(a, a) prior of "no change", so a few plays move it little.
# The best-scoring candidates are then counted for distinct listeners over the recent days,
# from app_events by start_time (its sort key on Redshift) and by event_date, the same days,
# which PostgreSQL's BRIN index app_events_day turns into a read of those days' pages.

TRENDING_TOTALS = """
SELECT COALESCE(SUM(CASE WHEN activity_date >= %(recent_from)s THEN plays ELSE 0 END), 0) AS plays_recent,
       COALESCE(SUM(CASE WHEN activity_date < %(recent_from)s THEN plays ELSE 0 END), 0) AS plays_before
FROM hour_plays
WHERE activity_date BETWEEN %(before_from)s AND %(last_day)s
"""

# Each song's plays in both windows, once, for the songs and the artists.
TRENDING_WINDOWS_DROP = "DROP TABLE IF EXISTS trending_windows"
TRENDING_WINDOWS = """
CREATE TEMPORARY TABLE trending_windows AS
SELECT song, artist,
       SUM(CASE WHEN activity_date >= %(recent_from)s THEN plays ELSE 0 END) AS plays,
       SUM(CASE WHEN activity_date < %(recent_from)s THEN plays ELSE 0 END) AS plays_before
FROM song_days
WHERE activity_date BETWEEN %(before_from)s AND %(last_day)s
GROUP BY song, artist
"""

# How many songs (or artists) have each pair of counts: one row per distinct pair.
TRENDING_COUNTED = """
SELECT plays, plays_before, COUNT(*) AS tested
FROM (
    SELECT {keys}, SUM(plays) AS plays, SUM(plays_before) AS plays_before
    FROM trending_windows
    GROUP BY {keys}
) windows
GROUP BY plays, plays_before
"""

TRENDING_SONG_COUNTS = TRENDING_COUNTED.format(keys="song, artist")
TRENDING_ARTIST_COUNTS = TRENDING_COUNTED.format(keys="artist")

# The significant pairs of counts, with their p- and q-values, from trends.py.
TRENDING_SIGNIFICANT_DROP = "DROP TABLE IF EXISTS trending_significant"
TRENDING_SIGNIFICANT_CREATE = """
CREATE TEMPORARY TABLE trending_significant (
    kind          VARCHAR(8)        NOT NULL,  -- song | artist
    plays         BIGINT            NOT NULL,
    plays_before  BIGINT            NOT NULL,
    p_value       DOUBLE PRECISION  NOT NULL,
    q_value       DOUBLE PRECISION  NOT NULL
)
"""
TRENDING_SIGNIFICANT_INSERT = """
INSERT INTO trending_significant (kind, plays, plays_before, p_value, q_value)
VALUES %s
"""

TRENDING_RANKED = """
SELECT {c_keys}, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value,
       COUNT(DISTINCT e.user_id) AS listeners
FROM (
    SELECT {w_keys}, w.plays, w.plays_before, w.expected, s.p_value, s.q_value,
           (w.plays + CAST(%(prior)s AS DOUBLE PRECISION)) / (w.expected + CAST(%(prior)s AS DOUBLE PRECISION))
               AS score
    FROM (
        SELECT {keys}, SUM(plays) AS plays, SUM(plays_before) AS plays_before,
               SUM(plays_before) * CAST(%(traffic)s AS DOUBLE PRECISION) AS expected
        FROM trending_windows
        GROUP BY {keys}
    ) w
    JOIN trending_significant s
      ON s.kind = %(kind)s AND s.plays = w.plays AND s.plays_before = w.plays_before
    WHERE w.plays >= %(min_listeners)s   -- plays enough for the listeners
    ORDER BY score DESC, w.plays DESC, {w_keys}
    LIMIT %(candidates)s
) c
JOIN app_events e ON {join}
WHERE e.page = 'NextSong' AND e.start_time >= %(recent_start)s AND e.start_time < %(recent_end)s
  AND e.event_date BETWEEN %(recent_from)s AND %(last_day)s
  AND e.user_id IS NOT NULL
GROUP BY {c_keys}, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value
HAVING COUNT(DISTINCT e.user_id) >= %(min_listeners)s
ORDER BY c.score DESC, c.plays DESC, {c_keys}
LIMIT %(top)s
"""

TRENDING_SONGS = TRENDING_RANKED.format(keys="song, artist", w_keys="w.song, w.artist", c_keys="c.song, c.artist",
                                        join="e.song = c.song AND e.artist = c.artist")
TRENDING_ARTISTS = TRENDING_RANKED.format(keys="artist", w_keys="w.artist", c_keys="c.artist",
                                          join="e.artist = c.artist")

# ---------------------------------------------------------------- storing and reading a trend run
# One multi-row INSERT per table (psycopg2.extras.execute_values fills VALUES %s).

TREND_RUNS_INSERT = """
INSERT INTO trend_runs (trend_run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from,
                        before_from, plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested,
                        artists_tested, message, trending_note)
VALUES %s
"""

TREND_BACKTESTS_INSERT = """
INSERT INTO trend_backtests (trend_run_id, series, model, candidate, mase, mase_baseline, smape, smape_baseline,
                             coverage80, coverage95, origins, note)
VALUES %s
"""

TREND_FORECASTS_INSERT = """
INSERT INTO trend_forecasts (trend_run_id, series, forecast_date, model, value, lo80, hi80, lo95, hi95)
VALUES %s
"""

TRENDING_INSERT = """
INSERT INTO trending (trend_run_id, kind, rank, song, artist, score, plays, plays_before, expected, listeners,
                      p_value, q_value)
VALUES %s
"""

TREND_LATEST_RUN = """
SELECT trend_run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from, before_from,
       plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested, artists_tested, message,
       trending_note
FROM trend_runs
ORDER BY trend_run_id DESC
LIMIT 1
"""

TREND_RUN_BACKTESTS = """
SELECT series, model, candidate, mase, mase_baseline, smape, smape_baseline, coverage80, coverage95, origins,
       note
FROM trend_backtests
WHERE trend_run_id = %(trend_run_id)s
ORDER BY series
"""

TREND_RUN_FORECASTS = """
SELECT series, forecast_date, model, value, lo80, hi80, lo95, hi95
FROM trend_forecasts
WHERE trend_run_id = %(trend_run_id)s
ORDER BY series, forecast_date
"""

TREND_RUN_TRENDING = """
SELECT kind, rank, song, artist, score, plays, plays_before, expected, listeners, p_value, q_value
FROM trending
WHERE trend_run_id = %(trend_run_id)s
ORDER BY kind, rank
"""

# Stale: a succeeded load that brought objects came after the one the latest trends are from.
TRENDS_NEWER_LOADS = """
SELECT COUNT(*)
FROM etl_runs
WHERE outcome = 'succeeded' AND objects_loaded > 0 AND run_id > %(load_run_id)s
"""


# ============================================================================ 8. report
# report.py's panels, one query each, over the analytics layer (section 4) and the trend tables
# (section 7). Every query returns a small aggregate (a few thousand rows at most); the period is
# %(date_from)s .. %(date_to)s, both DATEs and inclusive. Week starts (%(week_from)s, Mondays)
# and window starts (%(wau_from)s, %(mau_from)s, %(spans_from)s) are computed by report.py, so
# the SQL needs no date arithmetic that differs between PostgreSQL and Redshift. app_events is
# read once (REPORT_TOP_LISTENERS), for what no aggregate keeps (the distinct listeners of the
# top songs and artists over the period), only the plays of the top artists, by a range of
# start_time (its sort key on Redshift) and of event_date (a BRIN index on PostgreSQL).

REPORT_DATA_RANGE = """
SELECT MIN(activity_date), MAX(activity_date), COUNT(*)
-- hashed: a few hundred days
FROM (SELECT activity_date FROM user_days GROUP BY activity_date) days
"""

# Each user of the period in one pass over user_days up to its last day (a temporary table,
# made again for each period the KPIs compare): the first active day ever, when they became a
# user (registration; the first event where it is missing), whether active on the DAU card's day
# (%(dau_day)s: the last complete day), in the last 7 and 28 days, and the period's behaviour;
# then the level of the user's last active day in the period (its user_days row, by key). The
# KPIs, the churned-vs-retained behaviour and the demographics read it.
REPORT_PERIOD_USERS_DROP = "DROP TABLE IF EXISTS report_period_users"

REPORT_PERIOD_USERS = """
CREATE TEMPORARY TABLE report_period_users AS
SELECT u.user_id, u.first_day, u.new_at, u.dau, u.wau, u.mau, u.active_days, u.churned, u.plays, u.sessions,
       u.thumbs_up, u.thumbs_down, u.adverts, u.errors, d.level AS last_level
FROM (SELECT user_id, MIN(activity_date) AS first_day,
             COALESCE(MIN(registered_at), MIN(first_event_at)) AS new_at,
             MAX(CASE WHEN activity_date = %(dau_day)s THEN 1 ELSE 0 END) AS dau,
             MAX(CASE WHEN activity_date >= %(wau_from)s THEN 1 ELSE 0 END) AS wau,
             MAX(CASE WHEN activity_date >= %(mau_from)s THEN 1 ELSE 0 END) AS mau,
             MAX(CASE WHEN activity_date >= %(date_from)s THEN activity_date END) AS last_day,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN 1 ELSE 0 END) AS active_days,
             MAX(CASE WHEN activity_date >= %(date_from)s AND cancellations > 0 THEN 1 ELSE 0 END) AS churned,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN plays ELSE 0 END) AS plays,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN sessions ELSE 0 END) AS sessions,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN thumbs_up ELSE 0 END) AS thumbs_up,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN thumbs_down ELSE 0 END) AS thumbs_down,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN adverts ELSE 0 END) AS adverts,
             SUM(CASE WHEN activity_date >= %(date_from)s THEN errors ELSE 0 END) AS errors
      FROM user_days
      WHERE activity_date <= %(date_to)s
      GROUP BY user_id) u
LEFT JOIN user_days d ON d.user_id = u.user_id AND d.activity_date = u.last_day
"""

# plays, DAU of the last complete day, WAU and 28-day MAU ending on the period's last day, active
# users, paid users (by their level on their last active day in the period), new users (their
# registration in the period; the first event where it is missing) and churned users (a
# Cancellation Confirmation in the period). Run once per period, after REPORT_PERIOD_USERS for it.
REPORT_KPIS = """
SELECT p.plays, u.dau, u.wau, u.mau, u.active_users, u.paid_users, u.new_users, u.churned_users
FROM (SELECT COALESCE(SUM(plays), 0) AS plays
      FROM hour_plays
      WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s) p
CROSS JOIN (SELECT COALESCE(SUM(dau), 0) AS dau, COALESCE(SUM(wau), 0) AS wau, COALESCE(SUM(mau), 0) AS mau,
                   COALESCE(SUM(CASE WHEN active_days > 0 THEN 1 ELSE 0 END), 0) AS active_users,
                   COALESCE(SUM(CASE WHEN active_days > 0 AND last_level = 'paid' THEN 1 ELSE 0 END), 0)
                       AS paid_users,
                   COALESCE(SUM(CASE WHEN new_at >= %(date_from)s AND new_at < %(day_after_to)s THEN 1 ELSE 0 END),
                            0) AS new_users,
                   COALESCE(SUM(churned), 0) AS churned_users
            FROM report_period_users) u
"""

# Per day: active users and plays, by the level of each user's last event that day.
REPORT_DAILY = """
SELECT u.activity_date, COALESCE(h.plays, 0) AS plays, u.active_users,
       u.paid_users, u.free_users, u.paid_plays, u.free_plays
FROM (SELECT activity_date,
             COUNT(*) AS active_users,
             SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_users,
             SUM(CASE WHEN level = 'paid' THEN 0 ELSE 1 END) AS free_users,
             SUM(CASE WHEN level = 'paid' THEN plays ELSE 0 END) AS paid_plays,
             SUM(CASE WHEN level = 'paid' THEN 0 ELSE plays END) AS free_plays
      FROM user_days
      WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
      GROUP BY activity_date) u
LEFT JOIN (SELECT activity_date, SUM(plays) AS plays
           FROM hour_plays
           WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
           GROUP BY activity_date) h ON h.activity_date = u.activity_date
ORDER BY u.activity_date
"""

# DAU and 28-day MAU per day. Each user-day "covers" the 28 days from it, up to the user's next
# active day (so a user covers each day at most once); MAU on D is the number of spans covering
# D: +1 where a span starts, -1 where it ends, summed in date order. Linear in user_days, where
# a self-join on the window would count each user up to 28 times per day. %(spans_from)s is 27
# days before the period, so its first day's window is whole.
REPORT_STICKINESS = """
WITH spans AS (
    SELECT activity_date AS covers_from,
           LEAST(LEAD(activity_date) OVER (PARTITION BY user_id ORDER BY activity_date),
                 CAST(activity_date + INTERVAL '28 days' AS DATE)) AS covers_to
    FROM user_days
    WHERE activity_date BETWEEN %(spans_from)s AND %(date_to)s
),
per_day AS (  -- each span's +1 and -1, in one pass over spans (read twice, it would be materialized)
    SELECT CASE WHEN e.step = 1 THEN s.covers_from ELSE s.covers_to END AS day, SUM(e.step) AS step
    FROM spans s
    CROSS JOIN (SELECT 1 AS step UNION ALL SELECT -1 AS step) e
    GROUP BY CASE WHEN e.step = 1 THEN s.covers_from ELSE s.covers_to END
),
mau AS (
    SELECT day, SUM(step) OVER (ORDER BY day ROWS UNBOUNDED PRECEDING) AS mau FROM per_day
)
SELECT d.activity_date, d.dau, m.mau
FROM (SELECT activity_date, COUNT(*) AS dau
      FROM user_days
      WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
      GROUP BY activity_date) d
JOIN mau m ON m.day = d.activity_date
ORDER BY d.activity_date
"""

# Paid subscribers at the end of each day, from the level history (the shared definition: a
# paid period that began by the end of D and had not ended by then): the changes per day of
# TREND_PAID_CHANGES, which report.py sums up to each day (one pass over user_levels, where a
# join of every day to every period grows with days x periods).
REPORT_PAID_CHANGES = TREND_PAID_CHANGES

# Each user's active ISO weeks, with the weeks before and after, the first week ever, and when
# they became a user (new_at: their registration, the first event where it is missing) and its
# ISO week (new_week): what lifecycle and retention classify. History before the period counts
# (a user active long ago is resurrected, not new); nothing after the period is read.
USER_WEEK_HISTORY = """
WITH weeks AS (
    SELECT user_id, DATE_TRUNC('week', activity_date) AS week,
           MAX(CASE WHEN activity_date >= %(date_from)s THEN 1 ELSE 0 END) AS in_period,
           MAX(CASE WHEN activity_date >= %(date_from)s AND cancellations > 0 THEN 1 ELSE 0 END) AS churned,
           MIN(registered_at) AS registered_at, MIN(first_event_at) AS first_event_at
    FROM user_days
    WHERE activity_date <= %(date_to)s
    GROUP BY user_id, DATE_TRUNC('week', activity_date)
)
SELECT user_id, week, in_period, churned, previous_week, next_week, first_week, new_at,
       DATE_TRUNC('week', new_at) AS new_week
FROM (SELECT user_id, week, in_period, churned,
             LAG(week) OVER (PARTITION BY user_id ORDER BY week) AS previous_week,
             LEAD(week) OVER (PARTITION BY user_id ORDER BY week) AS next_week,
             MIN(week) OVER (PARTITION BY user_id) AS first_week,
             COALESCE(MIN(registered_at) OVER (PARTITION BY user_id),
                      MIN(first_event_at) OVER (PARTITION BY user_id)) AS new_at
      FROM weeks) user_weeks
"""

# Made once (a temporary table, gone with the session) for the lifecycle, the retention and the
# weekly churn (in_period, churned: active, and cancelled, on a day of the week in the period).
REPORT_USER_WEEKS = f"CREATE TEMPORARY TABLE report_user_weeks AS {USER_WEEK_HISTORY}"
REPORT_USER_WEEKS_ANALYZE = "ANALYZE report_user_weeks"  # PostgreSQL: its size, for the plans that read it
USER_WEEKS = "SELECT user_id, week, previous_week, next_week, first_week, new_at, new_week FROM report_user_weeks"

# Per week, the active users: new (registered that week), returning (active or registered the
# week before; in the data's first week, %(data_week)s, whose week before is not in the data, every
# user registered earlier), resurrected (otherwise: back after a gap), and dormant (active the
# week before, not this week).
REPORT_LIFECYCLE = """
WITH statuses AS (  -- the temporary table itself, twice (a CTE read twice would be materialized)
    SELECT week,
           CASE WHEN new_week = week THEN 'new'
                WHEN previous_week = week - INTERVAL '7 days' OR new_week = week - INTERVAL '7 days'
                     OR week = %(data_week)s THEN 'returning'
                ELSE 'resurrected' END AS status
    FROM report_user_weeks
    UNION ALL
    SELECT week + INTERVAL '7 days' AS week, 'dormant' AS status
    FROM report_user_weeks
    WHERE next_week IS NULL OR next_week > week + INTERVAL '7 days'
)
SELECT week, status, COUNT(*) AS users
FROM statuses
WHERE week BETWEEN %(week_from)s AND %(week_to)s
GROUP BY week, status
ORDER BY week, status
"""

# Weekly cohorts (the ISO week of registration; users registered before the data's first day,
# %(data_from)s, are in none) and how many of each were active in each week; joined counts each
# user once (on their first active week), so a cohort's size is the sum of its joined. report.py
# turns weeks into "weeks since", fills the weeks nobody was active (0%), and counts into shares.
REPORT_RETENTION = f"""
WITH history AS ({USER_WEEKS})
SELECT new_week AS cohort, week, COUNT(*) AS users, SUM(CASE WHEN week = first_week THEN 1 ELSE 0 END) AS joined
FROM history
WHERE new_at >= %(data_from)s AND new_week >= %(week_from)s
GROUP BY new_week, week
ORDER BY new_week, week
"""

# The most played songs (by the events' own song and artist text) and artists: the period's
# plays per song from song_days (one pass), ranked (temporary tables, gone with the session).
# A period that spans every day with plays ranks them from song_totals instead (the same sums,
# kept by each load), so the whole history costs no more than a month.
REPORT_TEMPORARY_DROP = [f"DROP TABLE IF EXISTS {name}" for name in (
    "report_song_totals", "report_top_songs", "report_top_artists", "report_user_weeks")]

REPORT_PLAY_DAYS = "SELECT MIN(activity_date), MAX(activity_date) FROM hour_plays"


REPORT_SONG_TOTALS = """
CREATE TEMPORARY TABLE report_song_totals AS
SELECT song, artist, MAX(song_id) AS song_id, SUM(plays) AS plays
FROM song_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY song, artist
"""

REPORT_TOP_SONG_LIST = """
CREATE TEMPORARY TABLE report_top_songs AS
SELECT song, artist, song_id, plays
FROM report_song_totals
ORDER BY plays DESC, song, artist
LIMIT %(limit)s
"""

REPORT_TOP_ARTIST_LIST = """
CREATE TEMPORARY TABLE report_top_artists AS
SELECT artist, SUM(plays) AS plays, COUNT(*) AS songs
FROM report_song_totals
GROUP BY artist
ORDER BY plays DESC, artist
LIMIT %(limit)s
"""

# A period that spans every day with plays: the same lists straight from song_totals.
REPORT_TOP_SONG_LIST_ALL = REPORT_TOP_SONG_LIST.replace("FROM report_song_totals", "FROM song_totals")
REPORT_TOP_ARTIST_LIST_ALL = REPORT_TOP_ARTIST_LIST.replace("FROM report_song_totals", "FROM song_totals")

# Who played the top songs and artists in the period (distinct listeners over the period: daily
# listeners do not add up): the plays of the top artists and of the top songs' artists, each
# (artist, user) once, and once more with the song where its title is a top song's (report.py
# keeps the (song, artist) pairs of the list). %(top_artists)s and %(top_titles)s are lists.
REPORT_TOP_LISTENERS = """
WITH pairs AS (
    SELECT e.artist, CASE WHEN e.song IN %(top_titles)s THEN e.song END AS song, e.user_id
    FROM app_events e
    WHERE e.page = 'NextSong' AND e.user_id IS NOT NULL AND e.artist IN %(top_artists)s
      AND e.start_time >= %(date_from)s AND e.start_time < %(day_after_to)s
      AND e.event_date BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY e.artist, CASE WHEN e.song IN %(top_titles)s THEN e.song END, e.user_id
)
SELECT artist, song, COUNT(*) AS listeners
FROM pairs
WHERE song IS NOT NULL
GROUP BY artist, song
UNION ALL  -- each artist's (artist, user) pairs, hashed: COUNT(DISTINCT) would sort them by text
SELECT artist, NULL AS song, COUNT(*) AS listeners
FROM (SELECT artist, user_id FROM pairs GROUP BY artist, user_id) artist_users
GROUP BY artist
"""

# The shared funnel definitions, within the period: each step counts the users of the step
# before who reached it in order. Per user: the first Upgrade at or after the first free play,
# the first Downgrade, then whether a Submit followed each (user_day_places: the users' first
# free plays and paid events per day, and each step event).
REPORT_FUNNEL = """
WITH users_in_period AS (
    SELECT user_id, MIN(first_free_play) AS first_free_play,
           MAX(CASE WHEN paid_events > 0 THEN 1 ELSE 0 END) AS was_paid
    FROM user_day_places
    WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY user_id
),
steps AS (
    SELECT DISTINCT user_id, step_page AS page, step_time AS start_time
    FROM user_day_places
    WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s AND step_page IS NOT NULL
),
firsts AS (
    SELECT u.user_id, u.first_free_play, u.was_paid,
           MIN(CASE WHEN s.page = 'Upgrade' AND s.start_time >= u.first_free_play THEN s.start_time END)
               AS first_upgrade,
           MIN(CASE WHEN s.page = 'Downgrade' THEN s.start_time END) AS first_downgrade
    FROM users_in_period u
    LEFT JOIN steps s ON s.user_id = u.user_id
    GROUP BY u.user_id, u.first_free_play, u.was_paid
),
reached AS (
    SELECT f.user_id, f.first_free_play, f.was_paid, f.first_upgrade, f.first_downgrade,
           MAX(CASE WHEN s.page = 'Submit Upgrade' AND s.start_time >= f.first_upgrade THEN 1 ELSE 0 END)
               AS submitted_upgrade,
           MAX(CASE WHEN s.page = 'Submit Downgrade' AND s.start_time >= f.first_downgrade THEN 1 ELSE 0 END)
               AS submitted_downgrade
    FROM firsts f
    LEFT JOIN steps s ON s.user_id = f.user_id
    GROUP BY f.user_id, f.first_free_play, f.was_paid, f.first_upgrade, f.first_downgrade
)
SELECT COALESCE(SUM(CASE WHEN first_free_play IS NOT NULL THEN 1 ELSE 0 END), 0) AS free_listeners,
       COALESCE(SUM(CASE WHEN first_upgrade IS NOT NULL THEN 1 ELSE 0 END), 0) AS upgrade_page,
       COALESCE(SUM(submitted_upgrade), 0) AS submit_upgrade,
       COALESCE(SUM(was_paid), 0) AS paid_users,
       COALESCE(SUM(CASE WHEN was_paid = 1 AND first_downgrade IS NOT NULL THEN 1 ELSE 0 END), 0) AS downgrade_page,
       COALESCE(SUM(CASE WHEN was_paid = 1 THEN submitted_downgrade ELSE 0 END), 0) AS submit_downgrade
FROM reached
"""

# Users reaching Cancellation Confirmation per ISO week, against the week's active users.
REPORT_CHURN_WEEKLY = """
SELECT week, COUNT(*) AS active_users, SUM(churned) AS churned_users
FROM report_user_weeks
WHERE in_period = 1
GROUP BY week
ORDER BY week
"""

# Churned (a cancellation in the period) against retained users: their days' behaviour. The
# cancellation pages are counted by none of these columns.
REPORT_CHURN_BEHAVIOUR = """
SELECT CASE WHEN churned = 1 THEN 'churned' ELSE 'retained' END AS cohort,
       COUNT(*) AS users, SUM(active_days) AS active_days, SUM(plays) AS plays, SUM(sessions) AS sessions,
       SUM(thumbs_up) AS thumbs_up, SUM(thumbs_down) AS thumbs_down, SUM(adverts) AS adverts,
       SUM(errors) AS errors
FROM report_period_users
WHERE active_days > 0
GROUP BY CASE WHEN churned = 1 THEN 'churned' ELSE 'retained' END
ORDER BY cohort
"""

# A session's length in seconds, milliseconds kept on both engines: on Redshift, EXTRACT(EPOCH
# FROM a TIMESTAMP) is an INTEGER (whole seconds) and EXTRACT(ms) is the milliseconds within the
# second, where PostgreSQL's EXTRACT(EPOCH) keeps the fraction and its EXTRACT(ms) counts the
# seconds too. So: the whole seconds of the timestamps truncated to the second, plus the
# difference of their milliseconds within the second (MOD 1000: the same on both).
SESSION_SECONDS = ("(EXTRACT(EPOCH FROM DATE_TRUNC('second', ended_at))"
                   " - EXTRACT(EPOCH FROM DATE_TRUNC('second', started_at))"
                   " + (MOD(CAST(EXTRACT(ms FROM ended_at) AS INTEGER), 1000)"
                   " - MOD(CAST(EXTRACT(ms FROM started_at) AS INTEGER), 1000)) / 1000.0)")

# Sessions that started in the period: how many, the median length and the mean songs. Redshift
# wants every sort-based aggregate of a statement (PERCENTILE_CONT, MEDIAN, LISTAGG) to order
# by the same expression: the median songs per session is another statement, REPORT_SESSION_PLAYS.
REPORT_SESSIONS = f"""
SELECT COUNT(*) AS sessions,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY {SESSION_SECONDS}) AS median_seconds,
       AVG(CAST(plays AS DOUBLE PRECISION)) AS mean_plays
FROM user_sessions
WHERE started_at >= %(date_from)s AND started_at < %(day_after_to)s
"""

# The sessions of the period by songs played (a few hundred values): report.py takes the exact
# median (PERCENTILE_CONT's) from them.
REPORT_SESSION_PLAYS = """
SELECT plays, COUNT(*) AS sessions
FROM user_sessions
WHERE started_at >= %(date_from)s AND started_at < %(day_after_to)s
GROUP BY plays
"""

# Distributions: session length (lower bound in minutes) by songs per session (lower bound),
# in one pass; report.py adds up each. Lengths compare timestamps (the same as comparing
# SESSION_SECONDS, without its NUMERIC arithmetic on every row).
REPORT_SESSION_BUCKETS = """
SELECT length_bucket, songs_bucket, COUNT(*) AS sessions
FROM (SELECT CASE WHEN ended_at < started_at + INTERVAL '300 seconds' THEN 0   -- SESSION_SECONDS < 300 ...
                  WHEN ended_at < started_at + INTERVAL '900 seconds' THEN 5
                  WHEN ended_at < started_at + INTERVAL '1800 seconds' THEN 15
                  WHEN ended_at < started_at + INTERVAL '3600 seconds' THEN 30
                  WHEN ended_at < started_at + INTERVAL '7200 seconds' THEN 60
                  WHEN ended_at < started_at + INTERVAL '14400 seconds' THEN 120
                  ELSE 240 END AS length_bucket,
             CASE WHEN plays = 0 THEN 0 WHEN plays = 1 THEN 1 WHEN plays < 5 THEN 2
                  WHEN plays < 10 THEN 5 WHEN plays < 20 THEN 10 WHEN plays < 50 THEN 20
                  WHEN plays < 100 THEN 50 ELSE 100 END AS songs_bucket
      FROM user_sessions
      WHERE started_at >= %(date_from)s AND started_at < %(day_after_to)s) buckets
GROUP BY length_bucket, songs_bucket
"""

# Per user-day: how many sessions and plays, as counts of each (sessions, plays) pair (a few
# thousand): report.py takes the buckets of sessions (4 = four or more) and the exact medians
# (PERCENTILE_CONT's) of sessions and plays from them.
REPORT_USER_DAY_SHAPES = """
SELECT sessions, plays, COUNT(*) AS user_days
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY sessions, plays
"""

# Plays by ISO weekday (1 = Monday) and hour of the day (UTC); report.py divides each by the
# number of that weekday in the period (plays_per_day).
REPORT_HEATMAP = """
SELECT weekday, hour, SUM(plays) AS plays
FROM hour_plays
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY weekday, hour
ORDER BY weekday, hour
"""

# The ranked lists; report.py adds their listeners (REPORT_TOP_LISTENERS).
REPORT_TOP_SONGS = """
SELECT song, artist, song_id, plays
FROM report_top_songs
ORDER BY plays DESC, song, artist
"""

REPORT_TOP_ARTISTS = """
SELECT artist, plays, songs
FROM report_top_artists
ORDER BY plays DESC, artist
"""

# Users and plays by US state, from location "City, ST" or "Metro, NY-NJ-PA": a multi-state
# metro counts for its first (principal) state, so each place counts once and states add up.
# (user_day_places has each event's state: PLACE_STATE.)
REPORT_GEOGRAPHY = """
SELECT state, COUNT(*) AS users, SUM(plays) AS plays
FROM (SELECT state, user_id, SUM(plays) AS plays
      FROM user_day_places
      WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s AND state IS NOT NULL
      GROUP BY state, user_id) user_states
GROUP BY state
ORDER BY users DESC, plays DESC, state
"""

# Users and plays by operating system and by browser (the devices dimension, by user agent):
# each user's plays per device in the period first (a few rows per user), then the three views.
REPORT_DEVICES = """
WITH agents AS (
    SELECT user_id, os_family, browser_family, device_type, SUM(plays) AS plays
    FROM user_day_places
    WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY user_id, os_family, browser_family, device_type
)
SELECT 'os' AS dimension, name, COUNT(*) AS users, SUM(plays) AS plays  -- (name, user) pairs hashed first:
FROM (SELECT COALESCE(os_family, 'Unknown') AS name, user_id, SUM(plays) AS plays  -- COUNT(DISTINCT) would
      FROM agents                                                                  -- sort them by text
      GROUP BY COALESCE(os_family, 'Unknown'), user_id) os_users
GROUP BY name
UNION ALL
SELECT 'browser' AS dimension, name, COUNT(*) AS users, SUM(plays) AS plays
FROM (SELECT COALESCE(browser_family, 'Unknown') AS name, user_id, SUM(plays) AS plays
      FROM agents
      GROUP BY COALESCE(browser_family, 'Unknown'), user_id) browser_users
GROUP BY name
UNION ALL
SELECT 'device_type' AS dimension, name, COUNT(*) AS users, SUM(plays) AS plays
FROM (SELECT COALESCE(device_type, 'other') AS name, user_id, SUM(plays) AS plays
      FROM agents
      GROUP BY COALESCE(device_type, 'other'), user_id) type_users
GROUP BY name
ORDER BY dimension, users DESC, plays DESC, name
"""

# Engagement actions, by the level of the user's day.
REPORT_ENGAGEMENT = """
SELECT COALESCE(level, 'unknown') AS level, SUM(plays) AS plays, SUM(thumbs_up) AS thumbs_up,
       SUM(thumbs_down) AS thumbs_down, SUM(add_to_playlist) AS add_to_playlist,
       SUM(add_friend) AS add_friend, SUM(adverts) AS adverts
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY COALESCE(level, 'unknown')
ORDER BY level
"""

# Active users of the period by gender (the users dimension) and level (on their last active day).
REPORT_DEMOGRAPHICS = """
SELECT COALESCE(u.gender, '?') AS gender, p.last_level AS level, COUNT(*) AS users, SUM(p.plays) AS plays
FROM report_period_users p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.active_days > 0
GROUP BY COALESCE(u.gender, '?'), p.last_level
ORDER BY gender, level
"""

# Error and Help pages per day, with the day's events (logged-in users).
REPORT_ERRORS = """
SELECT activity_date, SUM(events) AS events, SUM(errors) AS errors, SUM(help) AS help
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY activity_date
ORDER BY activity_date
"""

# Freshness: the last event loaded, and the last runs with their outcome and checks.
REPORT_LAST_EVENT = "SELECT MAX(last_event_at) FROM user_days"

REPORT_RECENT_RUNS = """
SELECT run_id, started_at, finished_at, outcome, checks, objects_loaded, events_staged, rows_rejected
FROM etl_runs
ORDER BY run_id DESC
LIMIT %(limit)s
"""


if __name__ == "__main__":  # python sql_queries.py postgres|redshift: every statement as sent, as SQL
    import sys

    from sparkify_dwh import statements

    statements.print_script(sys.argv[1:])
