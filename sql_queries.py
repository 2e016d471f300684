"""Every statement the Sparkify warehouse runs, stage by stage, as SQL.

One dialect serves every target: PostgreSQL (the embedded server and a real one) and Amazon
Redshift share the transforms. What Redshift does differently stands right beside the shared
statement as a REDSHIFT_ constant or a {placeholder} filled from a per-target dict: its
physical design (DISTSTYLE, DISTKEY, SORTKEY, IDENTITY) and how staging is fed.

Parameters use psycopg2's %(name)s style; `since_run` means "the records staged by this run"
(the run's own id) or, for a rebuild, 0: every record ever staged.
"""

from __future__ import annotations

POSTGRES, REDSHIFT = "postgres", "redshift"  # SQL dialects; the embedded target speaks POSTGRES

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
    songplays_added  BIGINT         NOT NULL DEFAULT 0,
    checks           VARCHAR(16),               -- passed | failed | NULL when not run
    message          VARCHAR(2048)
) {layout}
"""

LOADED_OBJECTS_CREATE = """
CREATE TABLE IF NOT EXISTS loaded_objects (
    object_id    BIGINT          NOT NULL PRIMARY KEY,
    run_id       INTEGER         NOT NULL,
    source       VARCHAR(8)      NOT NULL,      -- events | songs
    object_key   VARCHAR(1024)   NOT NULL,      -- s3://bucket/key or an absolute file path
    etag         VARCHAR(128),                  -- S3 ETag; NULL for files, identified by size
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
    source_line      INTEGER
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
    source_line       INTEGER
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

# ---------------------------------------------------------------- star schema

SONGPLAYS_CREATE = """
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id      BIGINT           {identity} PRIMARY KEY,
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

# ---------------------------------------------------------------- physical design
# PostgreSQL keeps plain heaps (plus the indexes below); Redshift distributes and sorts.
# songplays and time are the big tables and are joined on start_time, so they share it as
# distribution and sort key; the dimensions are small enough to copy to every node (ALL).

IDENTITY = {POSTGRES: "GENERATED BY DEFAULT AS IDENTITY", REDSHIFT: "IDENTITY(1, 1)"}

REDSHIFT_LAYOUT = {
    "etl_runs": "DISTSTYLE ALL",
    "loaded_objects": "DISTSTYLE ALL SORTKEY (object_key)",
    "rejects": "DISTSTYLE EVEN SORTKEY (run_id)",
    "staging_events": "DISTSTYLE EVEN SORTKEY (run_id)",
    "staging_songs": "DISTSTYLE EVEN SORTKEY (run_id)",
    "songplays": "DISTKEY (start_time) SORTKEY (start_time)",
    "users": "DISTSTYLE ALL SORTKEY (user_id)",
    "songs": "DISTSTYLE ALL SORTKEY (song_id)",
    "artists": "DISTSTYLE ALL SORTKEY (artist_id)",
    "time": "DISTKEY (start_time) SORTKEY (start_time)",
}

# Indexes on PostgreSQL only (Redshift has none): planning looks objects up by key, and each
# run reads only its own staging rows (BRIN: tiny, and staging is appended in run order).
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS loaded_objects_key ON loaded_objects (object_key)",
    "CREATE INDEX IF NOT EXISTS staging_events_run ON staging_events USING brin (run_id)",
    "CREATE INDEX IF NOT EXISTS staging_songs_run ON staging_songs USING brin (run_id)",
    "CREATE INDEX IF NOT EXISTS rejects_run ON rejects (run_id)",
]

TABLES = {  # name -> CREATE statement, in creation order
    "etl_runs": ETL_RUNS_CREATE,
    "loaded_objects": LOADED_OBJECTS_CREATE,
    "rejects": REJECTS_CREATE,
    "staging_events": STAGING_EVENTS_CREATE,
    "staging_songs": STAGING_SONGS_CREATE,
    "songplays": SONGPLAYS_CREATE,
    "users": USERS_CREATE,
    "songs": SONGS_CREATE,
    "artists": ARTISTS_CREATE,
    "time": TIME_CREATE,
}
STAR_TABLES = ["songplays", "users", "songs", "artists", "time"]


def create_table_queries(dialect: str) -> list[str]:
    """CREATE TABLE (and, on PostgreSQL, CREATE INDEX) statements for one dialect."""
    statements = [
        sql.format(
            identity=IDENTITY[dialect],
            layout=REDSHIFT_LAYOUT[name] if dialect == REDSHIFT else "",
        ).strip()
        for name, sql in TABLES.items()
    ]
    return statements + (POSTGRES_INDEXES if dialect == POSTGRES else [])


drop_table_queries = [f"DROP TABLE IF EXISTS {name}" for name in reversed(TABLES)]

# ============================================================================ 2. a run

# Runs take turns: the second waits for the first, then plans against what it loaded.
RUN_LOCK = "LOCK TABLE etl_runs IN SHARE ROW EXCLUSIVE MODE"
REDSHIFT_RUN_LOCK = "LOCK etl_runs"

RUN_NEXT_ID = "SELECT COALESCE(MAX(run_id), 0) + 1 FROM etl_runs"

RUN_START = """
INSERT INTO etl_runs (run_id, started_at, outcome, target)
VALUES (%(run_id)s, %(started_at)s, 'running', %(target)s)
"""

RUN_FINISH = """
UPDATE etl_runs
SET finished_at = %(finished_at)s, outcome = %(outcome)s, objects_loaded = %(objects_loaded)s,
    events_staged = %(events_staged)s, songs_staged = %(songs_staged)s,
    rows_rejected = %(rows_rejected)s, songplays_added = %(songplays_added)s, message = %(message)s
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

LISTED_OBJECTS_COPY = (
    "COPY listed_objects (source, object_key, etag, size) FROM STDIN "
    "WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', ENCODING 'UTF8')"
)

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
      AND (o.etag = l.etag OR (o.etag IS NULL AND l.etag IS NULL))
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
"""

# ---------------------------------------------------------------- staging
# PostgreSQL targets: the toolkit streams typed rows. The delimiter and quote are control
# characters that cannot occur unescaped in JSON text, so almost nothing needs quoting.

STAGING_COPY = (
    "COPY {table} ({columns}) FROM STDIN "
    "WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', ENCODING 'UTF8')"
)

REJECTS_COPY = (
    "COPY rejects (run_id, source, object_key, line, record_no, reason, record) FROM STDIN "
    "WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', ENCODING 'UTF8')"
)

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

# Rejects found while compacting, written as the spool's delimited lines (control characters
# already escaped, so no quoting is needed).
REDSHIFT_REJECTS_COPY = """
COPY rejects (run_id, source, object_key, line, record_no, reason, record)
FROM %(rejects)s
IAM_ROLE %(iam_role)s
DELIMITER '\\002'
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
POSTGRES_AFTER_STAGING = ["ANALYZE staging_events", "ANALYZE staging_songs"]


# ============================================================================ 3. transforms
# Each run transforms only the records it staged (run_id >= since_run); a rebuild empties the
# star schema and runs the same statements with since_run = 0.

START_TIME = "TIMESTAMP 'epoch' + {ts} / 1000.0 * INTERVAL '1 second'"  # milliseconds kept

# ---------------------------------------------------------------- songs
# One row per song_id; the latest loaded record wins, so this run's rows replace older ones.

SONGS_DELETE_RELOADED = """
DELETE FROM songs
WHERE song_id IN (SELECT song_id FROM staging_songs WHERE run_id >= %(since_run)s)
"""

SONGS_INSERT = """
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, NULLIF(year, 0), duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY object_id DESC, source_line DESC) AS pick
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
                              ORDER BY completeness DESC, object_id DESC, source_line DESC) AS pick
    FROM (
        SELECT artist_id, NULLIF(artist_name, '') AS name, NULLIF(artist_location, '') AS location,
               artist_latitude AS latitude, artist_longitude AS longitude, object_id, source_line,
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

SONG_MATCHES = """
SELECT title, artist_name, duration, MIN(song_id) AS song_id
FROM staging_songs
GROUP BY title, artist_name, duration
"""

SONGPLAYS_MATCH_LATE_SONGS = f"""
UPDATE songplays
SET song_id = m.song_id, artist_id = s.artist_id
FROM staging_events e,
     ({SONG_MATCHES.strip()} HAVING MAX(run_id) >= %(since_run)s) m,
     songs s
WHERE songplays.song_id IS NULL
  AND e.page = 'NextSong'
  AND e.session_id = songplays.session_id
  AND e.item_in_session = songplays.item_in_session
  AND {START_TIME.format(ts="e.ts")} = songplays.start_time
  AND m.title = e.song AND m.artist_name = e.artist AND m.duration = e.length
  AND s.song_id = m.song_id
"""

SONGPLAYS_INSERT = f"""
INSERT INTO songplays (start_time, user_id, level, song_id, artist_id, session_id, item_in_session,
                       location, user_agent)
SELECT e.start_time, e.user_id, e.level, m.song_id, s.artist_id, e.session_id, e.item_in_session,
       e.location, e.user_agent
FROM (
    SELECT {START_TIME.format(ts="ts")} AS start_time, user_id, level, session_id, item_in_session,
           location, user_agent, song, artist, length,
           ROW_NUMBER() OVER (PARTITION BY session_id, item_in_session, ts
                              ORDER BY object_id, source_line) AS copy_no
    FROM staging_events
    WHERE run_id >= %(since_run)s AND page = 'NextSong'
) e
LEFT JOIN ({SONG_MATCHES.strip()}) m
       ON m.title = e.song AND m.artist_name = e.artist AND m.duration = e.length
LEFT JOIN songs s ON s.song_id = m.song_id
WHERE e.copy_no = 1
  AND NOT EXISTS (
      SELECT 1 FROM songplays p
      WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
        AND p.start_time = e.start_time
  )
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
                              ORDER BY ts DESC, object_id DESC, source_line DESC) AS pick
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

TIME_INSERT = f"""
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT start_time,
       EXTRACT(hour FROM start_time), EXTRACT(day FROM start_time), EXTRACT(week FROM start_time),
       EXTRACT(month FROM start_time), EXTRACT(year FROM start_time),
       MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1
FROM (
    SELECT DISTINCT {START_TIME.format(ts="ts")} AS start_time
    FROM staging_events
    WHERE run_id >= %(since_run)s AND page = 'NextSong'
) new_times
WHERE NOT EXISTS (SELECT 1 FROM time t WHERE t.start_time = new_times.start_time)
ORDER BY start_time  -- in key order: the index grows at its end
"""

transform_queries = [
    SONGS_DELETE_RELOADED,
    SONGS_INSERT,
    ARTIST_CANDIDATES_DROP,
    ARTIST_CANDIDATES,
    ARTISTS_DELETE_REPLACED,
    ARTISTS_INSERT,
    ARTIST_CANDIDATES_DROP,
    SONGPLAYS_MATCH_LATE_SONGS,
    SONGPLAYS_INSERT,
    USER_CANDIDATES_DROP,
    USER_CANDIDATES,
    USERS_DELETE_SUPERSEDED,
    USERS_INSERT,
    USER_CANDIDATES_DROP,
    TIME_INSERT,
]

# A rebuild empties the star schema (DELETE, not TRUNCATE: Redshift's TRUNCATE commits).
rebuild_queries = [f"DELETE FROM {name}" for name in STAR_TABLES]

TABLE_ROWS = "SELECT COUNT(*) FROM {table}"
STAGED_ROWS = "SELECT COUNT(*) FROM {table} WHERE run_id = %(run_id)s"

# ============================================================================ 4. reports

RECENT_RUNS = """
SELECT run_id, started_at, finished_at, outcome, objects_loaded, events_staged, songs_staged,
       rows_rejected, songplays_added, checks, message
FROM etl_runs
ORDER BY run_id DESC
LIMIT %(limit)s
"""

LOADED_BY_SOURCE = """
SELECT source, COUNT(*) AS objects, CAST(SUM(size) AS BIGINT) AS bytes, CAST(SUM(records) AS BIGINT) AS records,
       CAST(SUM(rejected) AS BIGINT) AS rejected
FROM loaded_objects
GROUP BY source
ORDER BY source
"""

FIRST_REJECTS = """
SELECT object_key, line, record_no, reason
FROM rejects
WHERE run_id = %(run_id)s
ORDER BY object_key, record_no
LIMIT %(limit)s
"""

# ============================================================================ 5. checks
# check_data.py (and etl.py, when [ETL] RUN_CHECKS = true) runs these after loads. Each check
# is a query for the OFFENDING rows: it passes when it returns none, and a failure can be
# counted and shown. PostgreSQL enforces the keys the tables declare; Redshift only declares
# them, so these verify them on every target, in SQL both engines run.
# Each fault is reported by exactly one check: NULL keys only by the null_keys_ checks (the
# others skip NULLs), a time part out of range only by accepted_time_parts.

CHECK_NULL_KEYS: dict[str, list[str]] = {  # table -> the columns none of its rows may leave NULL
    "songplays": ["songplay_id", "start_time", "user_id", "session_id", "item_in_session"],
    "users": ["user_id", "level"],
    "songs": ["song_id", "title", "artist_id"],
    "artists": ["artist_id", "name"],
    "time": ["start_time", "hour", "day", "week", "month", "year", "weekday"],
    "staging_events": ["ts", "session_id", "item_in_session", "page"],
    "staging_songs": ["song_id", "title", "artist_id"],
}
CHECK_ROW_SOURCE = ["run_id", "object_id", "source_line"]  # shown with a staged row: where it came from

CHECK_UNIQUE_KEYS: dict[str, tuple[str, list[str]]] = {  # check name -> (table, key columns)
    "dup_songplays_event": ("songplays", ["session_id", "item_in_session", "start_time"]),
    "dup_songplays_songplay_id": ("songplays", ["songplay_id"]),
    "dup_users_user_id": ("users", ["user_id"]),
    "dup_songs_song_id": ("songs", ["song_id"]),
    "dup_artists_artist_id": ("artists", ["artist_id"]),
    "dup_time_start_time": ("time", ["start_time"]),
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

# The songplays the staged events call for, over all runs: one per distinct NextSong event.
STAGED_SONGPLAY_EVENTS = f"""(
    SELECT DISTINCT session_id, item_in_session, {START_TIME.format(ts="ts")} AS start_time
    FROM staging_events
    WHERE page = 'NextSong'
)"""

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
SELECT e.session_id, e.item_in_session, e.start_time
FROM {STAGED_SONGPLAY_EVENTS} e
LEFT JOIN songplays p
       ON p.session_id = e.session_id AND p.item_in_session = e.item_in_session
      AND p.start_time = e.start_time
WHERE p.session_id IS NULL
"""),
    "reconcile_songplays_not_staged": ("every songplay has its staged NextSong event", f"""
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
LEFT JOIN {STAGED_SONGPLAY_EVENTS} e
       ON e.session_id = p.session_id AND e.item_in_session = p.item_in_session
      AND e.start_time = p.start_time
WHERE e.session_id IS NULL
"""),
}

CHECK_COUNT = "SELECT COUNT(*) FROM ({check}) offending"
CHECK_EXAMPLES = "SELECT * FROM ({check}) offending LIMIT %(limit)s"

# Informational, not pass/fail: how many plays were matched to a known song.
SONG_MATCH_RATE = "SELECT COUNT(song_id) AS matched, COUNT(*) AS songplays FROM songplays"

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
