-- ETL_RUNS_CREATE
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
) DISTSTYLE ALL;

-- LOADED_OBJECTS_CREATE
CREATE TABLE IF NOT EXISTS loaded_objects (
    object_id    BIGINT          NOT NULL PRIMARY KEY,
    run_id       INTEGER         NOT NULL,
    source       VARCHAR(8)      NOT NULL,      -- events | songs
    object_key   VARCHAR(1024)   NOT NULL,      -- s3://bucket/key or an absolute file path
    etag         VARCHAR(128),                  -- S3 ETag; for a file its modification time (mtime_ns:…)
    size         BIGINT          NOT NULL,
    records      BIGINT          NOT NULL,      -- rows staged from it
    rejected     BIGINT          NOT NULL       -- records sent to rejects
) DISTSTYLE ALL SORTKEY (object_key);

-- REJECTS_CREATE
CREATE TABLE IF NOT EXISTS rejects (
    run_id       INTEGER         NOT NULL,
    source       VARCHAR(8)      NOT NULL,
    object_key   VARCHAR(1024)   NOT NULL,
    line         INTEGER,                       -- where the record starts; NULL when unknown
    record_no    INTEGER         NOT NULL,      -- its ordinal in the object, from 1
    reason       VARCHAR(512)    NOT NULL,
    record       VARCHAR(4096)                  -- the raw text, cut at 1,000 characters
) DISTSTYLE EVEN SORTKEY (run_id);

-- TABLE_ROWS_CREATE
CREATE TABLE IF NOT EXISTS table_rows (
    table_name  VARCHAR(64)  NOT NULL PRIMARY KEY,
    row_count   BIGINT       NOT NULL,
    run_id      INTEGER      NOT NULL            -- the run that last set it
) DISTSTYLE ALL;

-- LISTED_FOLDERS_CREATE
CREATE TABLE IF NOT EXISTS listed_folders (
    source      VARCHAR(8)      NOT NULL,
    folder      VARCHAR(1024)   NOT NULL,      -- an absolute folder path
    mtime_ns    BIGINT          NOT NULL,      -- its modification time when its files were loaded
    subfolders  INTEGER         NOT NULL,
    run_id      INTEGER         NOT NULL,
    PRIMARY KEY (source, folder)
) DISTSTYLE ALL SORTKEY (source, folder);

-- STAGING_EVENTS_CREATE
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
) DISTSTYLE EVEN SORTKEY (run_id);

-- STAGING_SONGS_CREATE
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
) DISTSTYLE EVEN SORTKEY (run_id);

-- SONGPLAYS_CREATE
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
) DISTKEY (start_time) SORTKEY (start_time);

-- USERS_CREATE
CREATE TABLE IF NOT EXISTS users (
    user_id       INTEGER        NOT NULL PRIMARY KEY,
    first_name    VARCHAR(256),
    last_name     VARCHAR(256),
    gender        VARCHAR(16),
    level         VARCHAR(16),                  -- as of the user's latest event
    last_seen_at  TIMESTAMP      NOT NULL       -- that event's time
) DISTSTYLE ALL SORTKEY (user_id);

-- SONGS_CREATE
CREATE TABLE IF NOT EXISTS songs (
    song_id    VARCHAR(64)       NOT NULL PRIMARY KEY,
    title      VARCHAR(512)      NOT NULL,
    artist_id  VARCHAR(64)       NOT NULL,
    year       SMALLINT,                        -- NULL: unknown (0 in the source)
    duration   DOUBLE PRECISION
) DISTSTYLE ALL SORTKEY (song_id);

-- ARTISTS_CREATE
CREATE TABLE IF NOT EXISTS artists (
    artist_id  VARCHAR(64)       NOT NULL PRIMARY KEY,
    name       VARCHAR(512),
    location   VARCHAR(512),
    latitude   DOUBLE PRECISION,
    longitude  DOUBLE PRECISION
) DISTSTYLE ALL SORTKEY (artist_id);

-- TIME_CREATE
CREATE TABLE IF NOT EXISTS time (
    start_time  TIMESTAMP  NOT NULL PRIMARY KEY,
    hour        SMALLINT   NOT NULL,
    day         SMALLINT   NOT NULL,
    week        SMALLINT   NOT NULL,            -- ISO 8601 week
    month       SMALLINT   NOT NULL,
    year        SMALLINT   NOT NULL,
    weekday     SMALLINT   NOT NULL             -- ISO: 1 = Monday ... 7 = Sunday
) DISTKEY (start_time) SORTKEY (start_time);

-- SONG_LOOKUP_CREATE
CREATE TABLE IF NOT EXISTS song_lookup (
    title        VARCHAR(512)      NOT NULL,
    artist_name  VARCHAR(512)      NOT NULL,
    duration     DOUBLE PRECISION  NOT NULL,
    song_id      VARCHAR(64)       NOT NULL,    -- the smallest song_id staged with this text
    PRIMARY KEY (title, artist_name, duration)
) DISTSTYLE ALL SORTKEY (title, artist_name);

-- UNMATCHED_PLAYS_CREATE
CREATE TABLE IF NOT EXISTS unmatched_plays (
    song             VARCHAR(512)      NOT NULL,
    artist           VARCHAR(512)      NOT NULL,
    length           DOUBLE PRECISION  NOT NULL,
    start_time       TIMESTAMP         NOT NULL,   -- with session_id, item_in_session: the songplay
    session_id       BIGINT            NOT NULL,
    item_in_session  INTEGER           NOT NULL,
    PRIMARY KEY (song, artist, length, session_id, item_in_session, start_time)
) DISTSTYLE EVEN SORTKEY (song, artist);

-- APP_EVENTS_CREATE
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
) DISTKEY (user_id) SORTKEY (start_time);

-- USER_LEVELS_CREATE
CREATE TABLE IF NOT EXISTS user_levels (
    user_id     INTEGER      NOT NULL,
    level       VARCHAR(16)  NOT NULL,
    valid_from  TIMESTAMP    NOT NULL,            -- the first event at that level
    valid_to    TIMESTAMP,                        -- the first event at the next level, or the
                                                  -- cancellation; NULL: current
    PRIMARY KEY (user_id, valid_from)
) DISTKEY (user_id) SORTKEY (user_id, valid_from);

-- DEVICES_CREATE
CREATE TABLE IF NOT EXISTS devices (
    user_agent       VARCHAR(1024)  NOT NULL PRIMARY KEY,   -- as in the events, quotes and all
    os_family        VARCHAR(64),
    os_version       VARCHAR(32),
    browser_family   VARCHAR(64),
    browser_version  VARCHAR(32),
    device_family    VARCHAR(64),
    device_type      VARCHAR(16)                -- desktop | mobile | tablet | other
) DISTSTYLE ALL SORTKEY (user_agent);

-- USER_DAYS_CREATE
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
) DISTKEY (user_id) SORTKEY (activity_date);

-- USER_SESSIONS_CREATE
CREATE TABLE IF NOT EXISTS user_sessions (
    user_id     INTEGER      NOT NULL,
    session_id  BIGINT       NOT NULL,
    started_at  TIMESTAMP    NOT NULL,
    ended_at    TIMESTAMP    NOT NULL,            -- when its last event ended (a NextSong: ts + length)
    events      INTEGER      NOT NULL,
    plays       INTEGER      NOT NULL,
    level       VARCHAR(16),                      -- as of the session's last event
    PRIMARY KEY (user_id, session_id)
) DISTKEY (user_id) SORTKEY (started_at);

-- SONG_DAYS_CREATE
CREATE TABLE IF NOT EXISTS song_days (
    activity_date  DATE          NOT NULL,
    song           VARCHAR(512)  NOT NULL,        -- the event's own song and artist text
    artist         VARCHAR(512)  NOT NULL,
    song_id        VARCHAR(64),                   -- the songplays' match, where they have one
    plays          INTEGER       NOT NULL,
    listeners      INTEGER       NOT NULL,        -- distinct user ids that day
    PRIMARY KEY (activity_date, song, artist)
) DISTKEY (song) SORTKEY (activity_date);

-- HOUR_PLAYS_CREATE
CREATE TABLE IF NOT EXISTS hour_plays (
    activity_date  DATE      NOT NULL,
    hour           SMALLINT  NOT NULL,
    weekday        SMALLINT  NOT NULL,            -- ISO: 1 = Monday ... 7 = Sunday
    plays          INTEGER   NOT NULL,
    PRIMARY KEY (activity_date, hour)
) DISTSTYLE ALL SORTKEY (activity_date, hour);

-- USER_DAY_PLACES_CREATE
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
) DISTKEY (user_id) SORTKEY (activity_date);

-- SONG_TOTALS_CREATE
CREATE TABLE IF NOT EXISTS song_totals (
    song     VARCHAR(512)  NOT NULL,               -- the events' own song and artist text
    artist   VARCHAR(512)  NOT NULL,
    song_id  VARCHAR(64),                          -- the largest of its song-days' song_id
    plays    BIGINT        NOT NULL,
    PRIMARY KEY (song, artist)
) DISTKEY (song) SORTKEY (song, artist);

-- TREND_RUNS_CREATE
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
) DISTSTYLE ALL SORTKEY (trend_run_id);

-- TREND_BACKTESTS_CREATE
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
) DISTSTYLE ALL SORTKEY (trend_run_id);

-- TREND_FORECASTS_CREATE
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
) DISTSTYLE ALL SORTKEY (trend_run_id, series, forecast_date);

-- TRENDING_CREATE
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
) DISTSTYLE ALL SORTKEY (trend_run_id, kind, rank);

-- ANALYST_SCHEMA_CREATE
CREATE SCHEMA IF NOT EXISTS sparkify;

-- ANALYST_SCHEMA_COMMENT
COMMENT ON SCHEMA sparkify IS 'Sparkify for analysts: the star schema, the analytics layer and the trend tables, as views';

-- ANALYST_SCHEMA_DROP
DROP SCHEMA IF EXISTS sparkify CASCADE;

-- ANALYST_VIEWS['songplays'] (public)
CREATE OR REPLACE VIEW sparkify.songplays AS SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, item_in_session, location, user_agent FROM public.songplays;

-- ANALYST_VIEWS['users'] (public)
CREATE OR REPLACE VIEW sparkify.users AS SELECT user_id, first_name, last_name, gender, level, last_seen_at FROM public.users;

-- ANALYST_VIEWS['songs'] (public)
CREATE OR REPLACE VIEW sparkify.songs AS SELECT song_id, title, artist_id, year, duration FROM public.songs;

-- ANALYST_VIEWS['artists'] (public)
CREATE OR REPLACE VIEW sparkify.artists AS SELECT artist_id, name, location, latitude, longitude FROM public.artists;

-- ANALYST_VIEWS['time'] (public)
CREATE OR REPLACE VIEW sparkify.time AS SELECT start_time, hour, day, week, month, year, weekday FROM public.time;

-- ANALYST_VIEWS['app_events'] (public)
CREATE OR REPLACE VIEW sparkify.app_events AS SELECT start_time, event_date, user_id, session_id, item_in_session, page, auth, level, method, status, location, user_agent, song, artist, length, registration, run_id FROM public.app_events;

-- ANALYST_VIEWS['user_levels'] (public)
CREATE OR REPLACE VIEW sparkify.user_levels AS SELECT user_id, level, valid_from, valid_to FROM public.user_levels;

-- ANALYST_VIEWS['devices'] (public)
CREATE OR REPLACE VIEW sparkify.devices AS SELECT user_agent, os_family, os_version, browser_family, browser_version, device_family, device_type FROM public.devices;

-- ANALYST_VIEWS['user_days'] (public)
CREATE OR REPLACE VIEW sparkify.user_days AS SELECT user_id, activity_date, level, events, plays, sessions, listening_seconds, thumbs_up, thumbs_down, add_to_playlist, add_friend, adverts, errors, help, upgrades, downgrades, cancellations, first_event_at, last_event_at, registered_at FROM public.user_days;

-- ANALYST_VIEWS['user_sessions'] (public)
CREATE OR REPLACE VIEW sparkify.user_sessions AS SELECT user_id, session_id, started_at, ended_at, events, plays, level FROM public.user_sessions;

-- ANALYST_VIEWS['song_days'] (public)
CREATE OR REPLACE VIEW sparkify.song_days AS SELECT activity_date, song, artist, song_id, plays, listeners FROM public.song_days;

-- ANALYST_VIEWS['hour_plays'] (public)
CREATE OR REPLACE VIEW sparkify.hour_plays AS SELECT activity_date, hour, weekday, plays FROM public.hour_plays;

-- ANALYST_VIEWS['user_day_places'] (public)
CREATE OR REPLACE VIEW sparkify.user_day_places AS SELECT user_id, activity_date, state, os_family, browser_family, device_type, step_page, step_time, events, plays, first_free_play, paid_events FROM public.user_day_places;

-- ANALYST_VIEWS['song_totals'] (public)
CREATE OR REPLACE VIEW sparkify.song_totals AS SELECT song, artist, song_id, plays FROM public.song_totals;

-- ANALYST_VIEWS['trend_runs'] (public)
CREATE OR REPLACE VIEW sparkify.trend_runs AS SELECT trend_run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from, before_from, plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested, artists_tested, message, trending_note FROM public.trend_runs;

-- ANALYST_VIEWS['trend_backtests'] (public)
CREATE OR REPLACE VIEW sparkify.trend_backtests AS SELECT trend_run_id, series, model, candidate, mase, mase_baseline, smape, smape_baseline, origins, coverage80, coverage95, note FROM public.trend_backtests;

-- ANALYST_VIEWS['trend_forecasts'] (public)
CREATE OR REPLACE VIEW sparkify.trend_forecasts AS SELECT trend_run_id, series, forecast_date, model, value, lo80, hi80, lo95, hi95 FROM public.trend_forecasts;

-- ANALYST_VIEWS['trending'] (public)
CREATE OR REPLACE VIEW sparkify.trending AS SELECT trend_run_id, kind, rank, song, artist, score, plays, plays_before, expected, listeners, p_value, q_value FROM public.trending;

-- TABLE_COMMENTS['songplays'][0]
COMMENT ON TABLE songplays IS 'Star schema fact: one row per song play (an event with page NextSong), deduplicated by the event''s identity (session_id, item_in_session, start_time).';

-- TABLE_COMMENTS['songplays'][1]
COMMENT ON COLUMN songplays.songplay_id IS 'The play''s number in load order: the run that first loaded the event, then its time.';

-- TABLE_COMMENTS['songplays'][2]
COMMENT ON COLUMN songplays.start_time IS 'When the play started (UTC; the event''s ts, milliseconds kept).';

-- TABLE_COMMENTS['songplays'][3]
COMMENT ON COLUMN songplays.user_id IS 'The listener (users.user_id); NULL for a logged-out visitor.';

-- TABLE_COMMENTS['songplays'][4]
COMMENT ON COLUMN songplays.level IS 'The listener''s subscription level at the play: free or paid.';

-- TABLE_COMMENTS['songplays'][5]
COMMENT ON COLUMN songplays.song_id IS 'The song (songs.song_id) whose title, artist name and duration equal the play''s; NULL when none does.';

-- TABLE_COMMENTS['songplays'][6]
COMMENT ON COLUMN songplays.artist_id IS 'That song''s artist (artists.artist_id); NULL when no song matches.';

-- TABLE_COMMENTS['songplays'][7]
COMMENT ON COLUMN songplays.session_id IS 'The app session the play belongs to.';

-- TABLE_COMMENTS['songplays'][8]
COMMENT ON COLUMN songplays.item_in_session IS 'The event''s position in its session, from 0.';

-- TABLE_COMMENTS['songplays'][9]
COMMENT ON COLUMN songplays.location IS 'Where the listener was, as the app reports it (City, ST).';

-- TABLE_COMMENTS['songplays'][10]
COMMENT ON COLUMN songplays.user_agent IS 'The listener''s browser user agent (see the devices table).';

-- TABLE_COMMENTS['songplays'][11]
COMMENT ON VIEW sparkify.songplays IS 'Star schema fact: one row per song play (an event with page NextSong), deduplicated by the event''s identity (session_id, item_in_session, start_time).';

-- TABLE_COMMENTS['songplays'][12]
COMMENT ON COLUMN sparkify.songplays.songplay_id IS 'The play''s number in load order: the run that first loaded the event, then its time.';

-- TABLE_COMMENTS['songplays'][13]
COMMENT ON COLUMN sparkify.songplays.start_time IS 'When the play started (UTC; the event''s ts, milliseconds kept).';

-- TABLE_COMMENTS['songplays'][14]
COMMENT ON COLUMN sparkify.songplays.user_id IS 'The listener (users.user_id); NULL for a logged-out visitor.';

-- TABLE_COMMENTS['songplays'][15]
COMMENT ON COLUMN sparkify.songplays.level IS 'The listener''s subscription level at the play: free or paid.';

-- TABLE_COMMENTS['songplays'][16]
COMMENT ON COLUMN sparkify.songplays.song_id IS 'The song (songs.song_id) whose title, artist name and duration equal the play''s; NULL when none does.';

-- TABLE_COMMENTS['songplays'][17]
COMMENT ON COLUMN sparkify.songplays.artist_id IS 'That song''s artist (artists.artist_id); NULL when no song matches.';

-- TABLE_COMMENTS['songplays'][18]
COMMENT ON COLUMN sparkify.songplays.session_id IS 'The app session the play belongs to.';

-- TABLE_COMMENTS['songplays'][19]
COMMENT ON COLUMN sparkify.songplays.item_in_session IS 'The event''s position in its session, from 0.';

-- TABLE_COMMENTS['songplays'][20]
COMMENT ON COLUMN sparkify.songplays.location IS 'Where the listener was, as the app reports it (City, ST).';

-- TABLE_COMMENTS['songplays'][21]
COMMENT ON COLUMN sparkify.songplays.user_agent IS 'The listener''s browser user agent (see the devices table).';

-- TABLE_COMMENTS['users'][0]
COMMENT ON TABLE users IS 'Star schema dimension: one row per user id seen in any event.';

-- TABLE_COMMENTS['users'][1]
COMMENT ON COLUMN users.user_id IS 'The user''s id.';

-- TABLE_COMMENTS['users'][2]
COMMENT ON COLUMN users.first_name IS 'First name, as of the user''s latest event.';

-- TABLE_COMMENTS['users'][3]
COMMENT ON COLUMN users.last_name IS 'Last name, as of the user''s latest event.';

-- TABLE_COMMENTS['users'][4]
COMMENT ON COLUMN users.gender IS 'Gender (F or M) as the app reports it.';

-- TABLE_COMMENTS['users'][5]
COMMENT ON COLUMN users.level IS 'Subscription level (free or paid) as of the user''s latest event by time.';

-- TABLE_COMMENTS['users'][6]
COMMENT ON COLUMN users.last_seen_at IS 'The time of the user''s latest event (UTC).';

-- TABLE_COMMENTS['users'][7]
COMMENT ON VIEW sparkify.users IS 'Star schema dimension: one row per user id seen in any event.';

-- TABLE_COMMENTS['users'][8]
COMMENT ON COLUMN sparkify.users.user_id IS 'The user''s id.';

-- TABLE_COMMENTS['users'][9]
COMMENT ON COLUMN sparkify.users.first_name IS 'First name, as of the user''s latest event.';

-- TABLE_COMMENTS['users'][10]
COMMENT ON COLUMN sparkify.users.last_name IS 'Last name, as of the user''s latest event.';

-- TABLE_COMMENTS['users'][11]
COMMENT ON COLUMN sparkify.users.gender IS 'Gender (F or M) as the app reports it.';

-- TABLE_COMMENTS['users'][12]
COMMENT ON COLUMN sparkify.users.level IS 'Subscription level (free or paid) as of the user''s latest event by time.';

-- TABLE_COMMENTS['users'][13]
COMMENT ON COLUMN sparkify.users.last_seen_at IS 'The time of the user''s latest event (UTC).';

-- TABLE_COMMENTS['songs'][0]
COMMENT ON TABLE songs IS 'Star schema dimension: one row per song of the song catalogue.';

-- TABLE_COMMENTS['songs'][1]
COMMENT ON COLUMN songs.song_id IS 'The song''s id (Million Song Dataset).';

-- TABLE_COMMENTS['songs'][2]
COMMENT ON COLUMN songs.title IS 'The song''s title.';

-- TABLE_COMMENTS['songs'][3]
COMMENT ON COLUMN songs.artist_id IS 'The song''s artist (artists.artist_id).';

-- TABLE_COMMENTS['songs'][4]
COMMENT ON COLUMN songs.year IS 'Year of release; NULL when unknown.';

-- TABLE_COMMENTS['songs'][5]
COMMENT ON COLUMN songs.duration IS 'Length in seconds.';

-- TABLE_COMMENTS['songs'][6]
COMMENT ON VIEW sparkify.songs IS 'Star schema dimension: one row per song of the song catalogue.';

-- TABLE_COMMENTS['songs'][7]
COMMENT ON COLUMN sparkify.songs.song_id IS 'The song''s id (Million Song Dataset).';

-- TABLE_COMMENTS['songs'][8]
COMMENT ON COLUMN sparkify.songs.title IS 'The song''s title.';

-- TABLE_COMMENTS['songs'][9]
COMMENT ON COLUMN sparkify.songs.artist_id IS 'The song''s artist (artists.artist_id).';

-- TABLE_COMMENTS['songs'][10]
COMMENT ON COLUMN sparkify.songs.year IS 'Year of release; NULL when unknown.';

-- TABLE_COMMENTS['songs'][11]
COMMENT ON COLUMN sparkify.songs.duration IS 'Length in seconds.';

-- TABLE_COMMENTS['artists'][0]
COMMENT ON TABLE artists IS 'Star schema dimension: one row per artist of the song catalogue.';

-- TABLE_COMMENTS['artists'][1]
COMMENT ON COLUMN artists.artist_id IS 'The artist''s id (Million Song Dataset).';

-- TABLE_COMMENTS['artists'][2]
COMMENT ON COLUMN artists.name IS 'The artist''s name.';

-- TABLE_COMMENTS['artists'][3]
COMMENT ON COLUMN artists.location IS 'Where the artist is from, as the catalogue says; NULL when unknown.';

-- TABLE_COMMENTS['artists'][4]
COMMENT ON COLUMN artists.latitude IS 'Latitude of that location in degrees; NULL when unknown.';

-- TABLE_COMMENTS['artists'][5]
COMMENT ON COLUMN artists.longitude IS 'Longitude of that location in degrees; NULL when unknown.';

-- TABLE_COMMENTS['artists'][6]
COMMENT ON VIEW sparkify.artists IS 'Star schema dimension: one row per artist of the song catalogue.';

-- TABLE_COMMENTS['artists'][7]
COMMENT ON COLUMN sparkify.artists.artist_id IS 'The artist''s id (Million Song Dataset).';

-- TABLE_COMMENTS['artists'][8]
COMMENT ON COLUMN sparkify.artists.name IS 'The artist''s name.';

-- TABLE_COMMENTS['artists'][9]
COMMENT ON COLUMN sparkify.artists.location IS 'Where the artist is from, as the catalogue says; NULL when unknown.';

-- TABLE_COMMENTS['artists'][10]
COMMENT ON COLUMN sparkify.artists.latitude IS 'Latitude of that location in degrees; NULL when unknown.';

-- TABLE_COMMENTS['artists'][11]
COMMENT ON COLUMN sparkify.artists.longitude IS 'Longitude of that location in degrees; NULL when unknown.';

-- TABLE_COMMENTS['time'][0]
COMMENT ON TABLE time IS 'Star schema dimension: one row per distinct songplay start_time, broken into calendar units.';

-- TABLE_COMMENTS['time'][1]
COMMENT ON COLUMN time.start_time IS 'The songplay time (UTC) these units describe.';

-- TABLE_COMMENTS['time'][2]
COMMENT ON COLUMN time.hour IS 'Hour of the day, 0 to 23.';

-- TABLE_COMMENTS['time'][3]
COMMENT ON COLUMN time.day IS 'Day of the month, 1 to 31.';

-- TABLE_COMMENTS['time'][4]
COMMENT ON COLUMN time.week IS 'ISO 8601 week of the year.';

-- TABLE_COMMENTS['time'][5]
COMMENT ON COLUMN time.month IS 'Month, 1 to 12.';

-- TABLE_COMMENTS['time'][6]
COMMENT ON COLUMN time.year IS 'Year.';

-- TABLE_COMMENTS['time'][7]
COMMENT ON COLUMN time.weekday IS 'ISO day of the week: 1 = Monday to 7 = Sunday.';

-- TABLE_COMMENTS['time'][8]
COMMENT ON VIEW sparkify.time IS 'Star schema dimension: one row per distinct songplay start_time, broken into calendar units.';

-- TABLE_COMMENTS['time'][9]
COMMENT ON COLUMN sparkify.time.start_time IS 'The songplay time (UTC) these units describe.';

-- TABLE_COMMENTS['time'][10]
COMMENT ON COLUMN sparkify.time.hour IS 'Hour of the day, 0 to 23.';

-- TABLE_COMMENTS['time'][11]
COMMENT ON COLUMN sparkify.time.day IS 'Day of the month, 1 to 31.';

-- TABLE_COMMENTS['time'][12]
COMMENT ON COLUMN sparkify.time.week IS 'ISO 8601 week of the year.';

-- TABLE_COMMENTS['time'][13]
COMMENT ON COLUMN sparkify.time.month IS 'Month, 1 to 12.';

-- TABLE_COMMENTS['time'][14]
COMMENT ON COLUMN sparkify.time.year IS 'Year.';

-- TABLE_COMMENTS['time'][15]
COMMENT ON COLUMN sparkify.time.weekday IS 'ISO day of the week: 1 = Monday to 7 = Sunday.';

-- TABLE_COMMENTS['app_events'][0]
COMMENT ON TABLE app_events IS 'Analytics layer: every app event of every page, one row per event identity (session_id, item_in_session, start_time).';

-- TABLE_COMMENTS['app_events'][1]
COMMENT ON COLUMN app_events.start_time IS 'When the event happened (UTC).';

-- TABLE_COMMENTS['app_events'][2]
COMMENT ON COLUMN app_events.event_date IS 'The UTC day of start_time.';

-- TABLE_COMMENTS['app_events'][3]
COMMENT ON COLUMN app_events.user_id IS 'The user; NULL for a logged-out visitor.';

-- TABLE_COMMENTS['app_events'][4]
COMMENT ON COLUMN app_events.session_id IS 'The app session.';

-- TABLE_COMMENTS['app_events'][5]
COMMENT ON COLUMN app_events.item_in_session IS 'The event''s position in its session, from 0.';

-- TABLE_COMMENTS['app_events'][6]
COMMENT ON COLUMN app_events.page IS 'The page or action: NextSong, Home, Thumbs Up, Submit Upgrade and so on.';

-- TABLE_COMMENTS['app_events'][7]
COMMENT ON COLUMN app_events.auth IS 'Logged In, Logged Out, Guest or Cancelled.';

-- TABLE_COMMENTS['app_events'][8]
COMMENT ON COLUMN app_events.level IS 'The user''s subscription level at the event: free or paid.';

-- TABLE_COMMENTS['app_events'][9]
COMMENT ON COLUMN app_events.method IS 'HTTP method of the request (GET or PUT).';

-- TABLE_COMMENTS['app_events'][10]
COMMENT ON COLUMN app_events.status IS 'HTTP status of the response (200, 307, 404 ...).';

-- TABLE_COMMENTS['app_events'][11]
COMMENT ON COLUMN app_events.location IS 'Where the user was, as the app reports it (City, ST).';

-- TABLE_COMMENTS['app_events'][12]
COMMENT ON COLUMN app_events.user_agent IS 'The user''s browser user agent (see the devices table).';

-- TABLE_COMMENTS['app_events'][13]
COMMENT ON COLUMN app_events.song IS 'The song''s title, as the event names it (NextSong only).';

-- TABLE_COMMENTS['app_events'][14]
COMMENT ON COLUMN app_events.artist IS 'The song''s artist, as the event names it (NextSong only).';

-- TABLE_COMMENTS['app_events'][15]
COMMENT ON COLUMN app_events.length IS 'The song''s length in seconds (NextSong only).';

-- TABLE_COMMENTS['app_events'][16]
COMMENT ON COLUMN app_events.registration IS 'When the user registered, epoch milliseconds.';

-- TABLE_COMMENTS['app_events'][17]
COMMENT ON COLUMN app_events.run_id IS 'The load run that staged this event (toolkit bookkeeping).';

-- TABLE_COMMENTS['app_events'][18]
COMMENT ON VIEW sparkify.app_events IS 'Analytics layer: every app event of every page, one row per event identity (session_id, item_in_session, start_time).';

-- TABLE_COMMENTS['app_events'][19]
COMMENT ON COLUMN sparkify.app_events.start_time IS 'When the event happened (UTC).';

-- TABLE_COMMENTS['app_events'][20]
COMMENT ON COLUMN sparkify.app_events.event_date IS 'The UTC day of start_time.';

-- TABLE_COMMENTS['app_events'][21]
COMMENT ON COLUMN sparkify.app_events.user_id IS 'The user; NULL for a logged-out visitor.';

-- TABLE_COMMENTS['app_events'][22]
COMMENT ON COLUMN sparkify.app_events.session_id IS 'The app session.';

-- TABLE_COMMENTS['app_events'][23]
COMMENT ON COLUMN sparkify.app_events.item_in_session IS 'The event''s position in its session, from 0.';

-- TABLE_COMMENTS['app_events'][24]
COMMENT ON COLUMN sparkify.app_events.page IS 'The page or action: NextSong, Home, Thumbs Up, Submit Upgrade and so on.';

-- TABLE_COMMENTS['app_events'][25]
COMMENT ON COLUMN sparkify.app_events.auth IS 'Logged In, Logged Out, Guest or Cancelled.';

-- TABLE_COMMENTS['app_events'][26]
COMMENT ON COLUMN sparkify.app_events.level IS 'The user''s subscription level at the event: free or paid.';

-- TABLE_COMMENTS['app_events'][27]
COMMENT ON COLUMN sparkify.app_events.method IS 'HTTP method of the request (GET or PUT).';

-- TABLE_COMMENTS['app_events'][28]
COMMENT ON COLUMN sparkify.app_events.status IS 'HTTP status of the response (200, 307, 404 ...).';

-- TABLE_COMMENTS['app_events'][29]
COMMENT ON COLUMN sparkify.app_events.location IS 'Where the user was, as the app reports it (City, ST).';

-- TABLE_COMMENTS['app_events'][30]
COMMENT ON COLUMN sparkify.app_events.user_agent IS 'The user''s browser user agent (see the devices table).';

-- TABLE_COMMENTS['app_events'][31]
COMMENT ON COLUMN sparkify.app_events.song IS 'The song''s title, as the event names it (NextSong only).';

-- TABLE_COMMENTS['app_events'][32]
COMMENT ON COLUMN sparkify.app_events.artist IS 'The song''s artist, as the event names it (NextSong only).';

-- TABLE_COMMENTS['app_events'][33]
COMMENT ON COLUMN sparkify.app_events.length IS 'The song''s length in seconds (NextSong only).';

-- TABLE_COMMENTS['app_events'][34]
COMMENT ON COLUMN sparkify.app_events.registration IS 'When the user registered, epoch milliseconds.';

-- TABLE_COMMENTS['app_events'][35]
COMMENT ON COLUMN sparkify.app_events.run_id IS 'The load run that staged this event (toolkit bookkeeping).';

-- TABLE_COMMENTS['user_levels'][0]
COMMENT ON TABLE user_levels IS 'Analytics layer: each user''s subscription level history (type 2): one row per period at one level.';

-- TABLE_COMMENTS['user_levels'][1]
COMMENT ON COLUMN user_levels.user_id IS 'The user.';

-- TABLE_COMMENTS['user_levels'][2]
COMMENT ON COLUMN user_levels.level IS 'The level of the period: free or paid.';

-- TABLE_COMMENTS['user_levels'][3]
COMMENT ON COLUMN user_levels.valid_from IS 'The first event at that level (UTC).';

-- TABLE_COMMENTS['user_levels'][4]
COMMENT ON COLUMN user_levels.valid_to IS 'The first event at the next level, or the cancellation; NULL while current.';

-- TABLE_COMMENTS['user_levels'][5]
COMMENT ON VIEW sparkify.user_levels IS 'Analytics layer: each user''s subscription level history (type 2): one row per period at one level.';

-- TABLE_COMMENTS['user_levels'][6]
COMMENT ON COLUMN sparkify.user_levels.user_id IS 'The user.';

-- TABLE_COMMENTS['user_levels'][7]
COMMENT ON COLUMN sparkify.user_levels.level IS 'The level of the period: free or paid.';

-- TABLE_COMMENTS['user_levels'][8]
COMMENT ON COLUMN sparkify.user_levels.valid_from IS 'The first event at that level (UTC).';

-- TABLE_COMMENTS['user_levels'][9]
COMMENT ON COLUMN sparkify.user_levels.valid_to IS 'The first event at the next level, or the cancellation; NULL while current.';

-- TABLE_COMMENTS['devices'][0]
COMMENT ON TABLE devices IS 'Analytics layer: one row per distinct user agent, parsed into operating system, browser and device.';

-- TABLE_COMMENTS['devices'][1]
COMMENT ON COLUMN devices.user_agent IS 'The user agent string, as in the events.';

-- TABLE_COMMENTS['devices'][2]
COMMENT ON COLUMN devices.os_family IS 'Operating system (Windows, Mac OS X, iOS ...).';

-- TABLE_COMMENTS['devices'][3]
COMMENT ON COLUMN devices.os_version IS 'Operating system version.';

-- TABLE_COMMENTS['devices'][4]
COMMENT ON COLUMN devices.browser_family IS 'Browser (Chrome, Firefox, Safari ...).';

-- TABLE_COMMENTS['devices'][5]
COMMENT ON COLUMN devices.browser_version IS 'Browser version.';

-- TABLE_COMMENTS['devices'][6]
COMMENT ON COLUMN devices.device_family IS 'Device (Mac, iPhone, Other ...).';

-- TABLE_COMMENTS['devices'][7]
COMMENT ON COLUMN devices.device_type IS 'desktop, mobile, tablet or other.';

-- TABLE_COMMENTS['devices'][8]
COMMENT ON VIEW sparkify.devices IS 'Analytics layer: one row per distinct user agent, parsed into operating system, browser and device.';

-- TABLE_COMMENTS['devices'][9]
COMMENT ON COLUMN sparkify.devices.user_agent IS 'The user agent string, as in the events.';

-- TABLE_COMMENTS['devices'][10]
COMMENT ON COLUMN sparkify.devices.os_family IS 'Operating system (Windows, Mac OS X, iOS ...).';

-- TABLE_COMMENTS['devices'][11]
COMMENT ON COLUMN sparkify.devices.os_version IS 'Operating system version.';

-- TABLE_COMMENTS['devices'][12]
COMMENT ON COLUMN sparkify.devices.browser_family IS 'Browser (Chrome, Firefox, Safari ...).';

-- TABLE_COMMENTS['devices'][13]
COMMENT ON COLUMN sparkify.devices.browser_version IS 'Browser version.';

-- TABLE_COMMENTS['devices'][14]
COMMENT ON COLUMN sparkify.devices.device_family IS 'Device (Mac, iPhone, Other ...).';

-- TABLE_COMMENTS['devices'][15]
COMMENT ON COLUMN sparkify.devices.device_type IS 'desktop, mobile, tablet or other.';

-- TABLE_COMMENTS['user_days'][0]
COMMENT ON TABLE user_days IS 'Analytics layer: one row per user and day with any event by that (logged-in) user.';

-- TABLE_COMMENTS['user_days'][1]
COMMENT ON COLUMN user_days.user_id IS 'The user.';

-- TABLE_COMMENTS['user_days'][2]
COMMENT ON COLUMN user_days.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['user_days'][3]
COMMENT ON COLUMN user_days.level IS 'The user''s level as of the day''s last event.';

-- TABLE_COMMENTS['user_days'][4]
COMMENT ON COLUMN user_days.events IS 'Events that day.';

-- TABLE_COMMENTS['user_days'][5]
COMMENT ON COLUMN user_days.plays IS 'Song plays (NextSong) that day.';

-- TABLE_COMMENTS['user_days'][6]
COMMENT ON COLUMN user_days.sessions IS 'Distinct sessions that day.';

-- TABLE_COMMENTS['user_days'][7]
COMMENT ON COLUMN user_days.listening_seconds IS 'Seconds of music played that day (the plays'' song lengths).';

-- TABLE_COMMENTS['user_days'][8]
COMMENT ON COLUMN user_days.thumbs_up IS 'Thumbs Up events.';

-- TABLE_COMMENTS['user_days'][9]
COMMENT ON COLUMN user_days.thumbs_down IS 'Thumbs Down events.';

-- TABLE_COMMENTS['user_days'][10]
COMMENT ON COLUMN user_days.add_to_playlist IS 'Add to Playlist events.';

-- TABLE_COMMENTS['user_days'][11]
COMMENT ON COLUMN user_days.add_friend IS 'Add Friend events.';

-- TABLE_COMMENTS['user_days'][12]
COMMENT ON COLUMN user_days.adverts IS 'Adverts played (Roll Advert).';

-- TABLE_COMMENTS['user_days'][13]
COMMENT ON COLUMN user_days.errors IS 'Error pages seen.';

-- TABLE_COMMENTS['user_days'][14]
COMMENT ON COLUMN user_days.help IS 'Help pages seen.';

-- TABLE_COMMENTS['user_days'][15]
COMMENT ON COLUMN user_days.upgrades IS 'Upgrades to paid (Submit Upgrade).';

-- TABLE_COMMENTS['user_days'][16]
COMMENT ON COLUMN user_days.downgrades IS 'Downgrades to free (Submit Downgrade).';

-- TABLE_COMMENTS['user_days'][17]
COMMENT ON COLUMN user_days.cancellations IS 'Cancellations (Cancellation Confirmation).';

-- TABLE_COMMENTS['user_days'][18]
COMMENT ON COLUMN user_days.first_event_at IS 'The day''s first event (UTC).';

-- TABLE_COMMENTS['user_days'][19]
COMMENT ON COLUMN user_days.last_event_at IS 'The day''s last event (UTC).';

-- TABLE_COMMENTS['user_days'][20]
COMMENT ON COLUMN user_days.registered_at IS 'The user''s registration (sign-up) time, the earliest the day''s events carry; NULL when they carry none. A user is new in the period their registration falls in.';

-- TABLE_COMMENTS['user_days'][21]
COMMENT ON VIEW sparkify.user_days IS 'Analytics layer: one row per user and day with any event by that (logged-in) user.';

-- TABLE_COMMENTS['user_days'][22]
COMMENT ON COLUMN sparkify.user_days.user_id IS 'The user.';

-- TABLE_COMMENTS['user_days'][23]
COMMENT ON COLUMN sparkify.user_days.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['user_days'][24]
COMMENT ON COLUMN sparkify.user_days.level IS 'The user''s level as of the day''s last event.';

-- TABLE_COMMENTS['user_days'][25]
COMMENT ON COLUMN sparkify.user_days.events IS 'Events that day.';

-- TABLE_COMMENTS['user_days'][26]
COMMENT ON COLUMN sparkify.user_days.plays IS 'Song plays (NextSong) that day.';

-- TABLE_COMMENTS['user_days'][27]
COMMENT ON COLUMN sparkify.user_days.sessions IS 'Distinct sessions that day.';

-- TABLE_COMMENTS['user_days'][28]
COMMENT ON COLUMN sparkify.user_days.listening_seconds IS 'Seconds of music played that day (the plays'' song lengths).';

-- TABLE_COMMENTS['user_days'][29]
COMMENT ON COLUMN sparkify.user_days.thumbs_up IS 'Thumbs Up events.';

-- TABLE_COMMENTS['user_days'][30]
COMMENT ON COLUMN sparkify.user_days.thumbs_down IS 'Thumbs Down events.';

-- TABLE_COMMENTS['user_days'][31]
COMMENT ON COLUMN sparkify.user_days.add_to_playlist IS 'Add to Playlist events.';

-- TABLE_COMMENTS['user_days'][32]
COMMENT ON COLUMN sparkify.user_days.add_friend IS 'Add Friend events.';

-- TABLE_COMMENTS['user_days'][33]
COMMENT ON COLUMN sparkify.user_days.adverts IS 'Adverts played (Roll Advert).';

-- TABLE_COMMENTS['user_days'][34]
COMMENT ON COLUMN sparkify.user_days.errors IS 'Error pages seen.';

-- TABLE_COMMENTS['user_days'][35]
COMMENT ON COLUMN sparkify.user_days.help IS 'Help pages seen.';

-- TABLE_COMMENTS['user_days'][36]
COMMENT ON COLUMN sparkify.user_days.upgrades IS 'Upgrades to paid (Submit Upgrade).';

-- TABLE_COMMENTS['user_days'][37]
COMMENT ON COLUMN sparkify.user_days.downgrades IS 'Downgrades to free (Submit Downgrade).';

-- TABLE_COMMENTS['user_days'][38]
COMMENT ON COLUMN sparkify.user_days.cancellations IS 'Cancellations (Cancellation Confirmation).';

-- TABLE_COMMENTS['user_days'][39]
COMMENT ON COLUMN sparkify.user_days.first_event_at IS 'The day''s first event (UTC).';

-- TABLE_COMMENTS['user_days'][40]
COMMENT ON COLUMN sparkify.user_days.last_event_at IS 'The day''s last event (UTC).';

-- TABLE_COMMENTS['user_days'][41]
COMMENT ON COLUMN sparkify.user_days.registered_at IS 'The user''s registration (sign-up) time, the earliest the day''s events carry; NULL when they carry none. A user is new in the period their registration falls in.';

-- TABLE_COMMENTS['user_sessions'][0]
COMMENT ON TABLE user_sessions IS 'Analytics layer: one row per session of a logged-in user.';

-- TABLE_COMMENTS['user_sessions'][1]
COMMENT ON COLUMN user_sessions.user_id IS 'The user.';

-- TABLE_COMMENTS['user_sessions'][2]
COMMENT ON COLUMN user_sessions.session_id IS 'The app session.';

-- TABLE_COMMENTS['user_sessions'][3]
COMMENT ON COLUMN user_sessions.started_at IS 'The session''s first event (UTC).';

-- TABLE_COMMENTS['user_sessions'][4]
COMMENT ON COLUMN user_sessions.ended_at IS 'When the session''s last event ended: a song play ends at its time plus the song''s length.';

-- TABLE_COMMENTS['user_sessions'][5]
COMMENT ON COLUMN user_sessions.events IS 'Events in the session.';

-- TABLE_COMMENTS['user_sessions'][6]
COMMENT ON COLUMN user_sessions.plays IS 'Song plays in the session.';

-- TABLE_COMMENTS['user_sessions'][7]
COMMENT ON COLUMN user_sessions.level IS 'The user''s level as of the session''s last event.';

-- TABLE_COMMENTS['user_sessions'][8]
COMMENT ON VIEW sparkify.user_sessions IS 'Analytics layer: one row per session of a logged-in user.';

-- TABLE_COMMENTS['user_sessions'][9]
COMMENT ON COLUMN sparkify.user_sessions.user_id IS 'The user.';

-- TABLE_COMMENTS['user_sessions'][10]
COMMENT ON COLUMN sparkify.user_sessions.session_id IS 'The app session.';

-- TABLE_COMMENTS['user_sessions'][11]
COMMENT ON COLUMN sparkify.user_sessions.started_at IS 'The session''s first event (UTC).';

-- TABLE_COMMENTS['user_sessions'][12]
COMMENT ON COLUMN sparkify.user_sessions.ended_at IS 'When the session''s last event ended: a song play ends at its time plus the song''s length.';

-- TABLE_COMMENTS['user_sessions'][13]
COMMENT ON COLUMN sparkify.user_sessions.events IS 'Events in the session.';

-- TABLE_COMMENTS['user_sessions'][14]
COMMENT ON COLUMN sparkify.user_sessions.plays IS 'Song plays in the session.';

-- TABLE_COMMENTS['user_sessions'][15]
COMMENT ON COLUMN sparkify.user_sessions.level IS 'The user''s level as of the session''s last event.';

-- TABLE_COMMENTS['song_days'][0]
COMMENT ON TABLE song_days IS 'Analytics layer: one row per day and song (as the events name it) with its plays.';

-- TABLE_COMMENTS['song_days'][1]
COMMENT ON COLUMN song_days.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['song_days'][2]
COMMENT ON COLUMN song_days.song IS 'The song''s title, as the events name it.';

-- TABLE_COMMENTS['song_days'][3]
COMMENT ON COLUMN song_days.artist IS 'The song''s artist, as the events name it.';

-- TABLE_COMMENTS['song_days'][4]
COMMENT ON COLUMN song_days.song_id IS 'The matching song of the catalogue, where the plays have one; else NULL.';

-- TABLE_COMMENTS['song_days'][5]
COMMENT ON COLUMN song_days.plays IS 'Plays that day.';

-- TABLE_COMMENTS['song_days'][6]
COMMENT ON COLUMN song_days.listeners IS 'Distinct users who played it that day.';

-- TABLE_COMMENTS['song_days'][7]
COMMENT ON VIEW sparkify.song_days IS 'Analytics layer: one row per day and song (as the events name it) with its plays.';

-- TABLE_COMMENTS['song_days'][8]
COMMENT ON COLUMN sparkify.song_days.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['song_days'][9]
COMMENT ON COLUMN sparkify.song_days.song IS 'The song''s title, as the events name it.';

-- TABLE_COMMENTS['song_days'][10]
COMMENT ON COLUMN sparkify.song_days.artist IS 'The song''s artist, as the events name it.';

-- TABLE_COMMENTS['song_days'][11]
COMMENT ON COLUMN sparkify.song_days.song_id IS 'The matching song of the catalogue, where the plays have one; else NULL.';

-- TABLE_COMMENTS['song_days'][12]
COMMENT ON COLUMN sparkify.song_days.plays IS 'Plays that day.';

-- TABLE_COMMENTS['song_days'][13]
COMMENT ON COLUMN sparkify.song_days.listeners IS 'Distinct users who played it that day.';

-- TABLE_COMMENTS['hour_plays'][0]
COMMENT ON TABLE hour_plays IS 'Analytics layer: one row per day and hour with song plays.';

-- TABLE_COMMENTS['hour_plays'][1]
COMMENT ON COLUMN hour_plays.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['hour_plays'][2]
COMMENT ON COLUMN hour_plays.hour IS 'Hour of the day, 0 to 23.';

-- TABLE_COMMENTS['hour_plays'][3]
COMMENT ON COLUMN hour_plays.weekday IS 'ISO day of the week: 1 = Monday to 7 = Sunday.';

-- TABLE_COMMENTS['hour_plays'][4]
COMMENT ON COLUMN hour_plays.plays IS 'Song plays in that hour.';

-- TABLE_COMMENTS['hour_plays'][5]
COMMENT ON VIEW sparkify.hour_plays IS 'Analytics layer: one row per day and hour with song plays.';

-- TABLE_COMMENTS['hour_plays'][6]
COMMENT ON COLUMN sparkify.hour_plays.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['hour_plays'][7]
COMMENT ON COLUMN sparkify.hour_plays.hour IS 'Hour of the day, 0 to 23.';

-- TABLE_COMMENTS['hour_plays'][8]
COMMENT ON COLUMN sparkify.hour_plays.weekday IS 'ISO day of the week: 1 = Monday to 7 = Sunday.';

-- TABLE_COMMENTS['hour_plays'][9]
COMMENT ON COLUMN sparkify.hour_plays.plays IS 'Song plays in that hour.';

-- TABLE_COMMENTS['user_day_places'][0]
COMMENT ON TABLE user_day_places IS 'Analytics layer (the dashboard''s geography, devices and funnel): each user-day''s events by US state and device, and each funnel step with its time.';

-- TABLE_COMMENTS['user_day_places'][1]
COMMENT ON COLUMN user_day_places.user_id IS 'The user.';

-- TABLE_COMMENTS['user_day_places'][2]
COMMENT ON COLUMN user_day_places.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['user_day_places'][3]
COMMENT ON COLUMN user_day_places.state IS 'US state of the location (two letters); NULL when none.';

-- TABLE_COMMENTS['user_day_places'][4]
COMMENT ON COLUMN user_day_places.os_family IS 'Operating system of the user agent (devices.os_family); NULL without an agent.';

-- TABLE_COMMENTS['user_day_places'][5]
COMMENT ON COLUMN user_day_places.browser_family IS 'Browser of the user agent (devices.browser_family).';

-- TABLE_COMMENTS['user_day_places'][6]
COMMENT ON COLUMN user_day_places.device_type IS 'desktop, mobile, tablet or other (devices.device_type).';

-- TABLE_COMMENTS['user_day_places'][7]
COMMENT ON COLUMN user_day_places.step_page IS 'A funnel page (the step); NULL for the other events.';

-- TABLE_COMMENTS['user_day_places'][8]
COMMENT ON COLUMN user_day_places.step_time IS 'That step''s time (UTC).';

-- TABLE_COMMENTS['user_day_places'][9]
COMMENT ON COLUMN user_day_places.events IS 'Events.';

-- TABLE_COMMENTS['user_day_places'][10]
COMMENT ON COLUMN user_day_places.plays IS 'Song plays.';

-- TABLE_COMMENTS['user_day_places'][11]
COMMENT ON COLUMN user_day_places.first_free_play IS 'The first song play at level free (UTC).';

-- TABLE_COMMENTS['user_day_places'][12]
COMMENT ON COLUMN user_day_places.paid_events IS 'Events at level paid.';

-- TABLE_COMMENTS['user_day_places'][13]
COMMENT ON VIEW sparkify.user_day_places IS 'Analytics layer (the dashboard''s geography, devices and funnel): each user-day''s events by US state and device, and each funnel step with its time.';

-- TABLE_COMMENTS['user_day_places'][14]
COMMENT ON COLUMN sparkify.user_day_places.user_id IS 'The user.';

-- TABLE_COMMENTS['user_day_places'][15]
COMMENT ON COLUMN sparkify.user_day_places.activity_date IS 'The UTC day.';

-- TABLE_COMMENTS['user_day_places'][16]
COMMENT ON COLUMN sparkify.user_day_places.state IS 'US state of the location (two letters); NULL when none.';

-- TABLE_COMMENTS['user_day_places'][17]
COMMENT ON COLUMN sparkify.user_day_places.os_family IS 'Operating system of the user agent (devices.os_family); NULL without an agent.';

-- TABLE_COMMENTS['user_day_places'][18]
COMMENT ON COLUMN sparkify.user_day_places.browser_family IS 'Browser of the user agent (devices.browser_family).';

-- TABLE_COMMENTS['user_day_places'][19]
COMMENT ON COLUMN sparkify.user_day_places.device_type IS 'desktop, mobile, tablet or other (devices.device_type).';

-- TABLE_COMMENTS['user_day_places'][20]
COMMENT ON COLUMN sparkify.user_day_places.step_page IS 'A funnel page (the step); NULL for the other events.';

-- TABLE_COMMENTS['user_day_places'][21]
COMMENT ON COLUMN sparkify.user_day_places.step_time IS 'That step''s time (UTC).';

-- TABLE_COMMENTS['user_day_places'][22]
COMMENT ON COLUMN sparkify.user_day_places.events IS 'Events.';

-- TABLE_COMMENTS['user_day_places'][23]
COMMENT ON COLUMN sparkify.user_day_places.plays IS 'Song plays.';

-- TABLE_COMMENTS['user_day_places'][24]
COMMENT ON COLUMN sparkify.user_day_places.first_free_play IS 'The first song play at level free (UTC).';

-- TABLE_COMMENTS['user_day_places'][25]
COMMENT ON COLUMN sparkify.user_day_places.paid_events IS 'Events at level paid.';

-- TABLE_COMMENTS['song_totals'][0]
COMMENT ON TABLE song_totals IS 'Analytics layer: one row per song (as the events name it) with its plays over all loaded days.';

-- TABLE_COMMENTS['song_totals'][1]
COMMENT ON COLUMN song_totals.song IS 'The song''s title, as the events name it.';

-- TABLE_COMMENTS['song_totals'][2]
COMMENT ON COLUMN song_totals.artist IS 'The song''s artist, as the events name it.';

-- TABLE_COMMENTS['song_totals'][3]
COMMENT ON COLUMN song_totals.song_id IS 'The matching song of the catalogue, where there is one; else NULL.';

-- TABLE_COMMENTS['song_totals'][4]
COMMENT ON COLUMN song_totals.plays IS 'Plays over all loaded days.';

-- TABLE_COMMENTS['song_totals'][5]
COMMENT ON VIEW sparkify.song_totals IS 'Analytics layer: one row per song (as the events name it) with its plays over all loaded days.';

-- TABLE_COMMENTS['song_totals'][6]
COMMENT ON COLUMN sparkify.song_totals.song IS 'The song''s title, as the events name it.';

-- TABLE_COMMENTS['song_totals'][7]
COMMENT ON COLUMN sparkify.song_totals.artist IS 'The song''s artist, as the events name it.';

-- TABLE_COMMENTS['song_totals'][8]
COMMENT ON COLUMN sparkify.song_totals.song_id IS 'The matching song of the catalogue, where there is one; else NULL.';

-- TABLE_COMMENTS['song_totals'][9]
COMMENT ON COLUMN sparkify.song_totals.plays IS 'Plays over all loaded days.';

-- TABLE_COMMENTS['trend_runs'][0]
COMMENT ON TABLE trend_runs IS 'Trends: one row per trends.py computation: when, from which load, over which days.';

-- TABLE_COMMENTS['trend_runs'][1]
COMMENT ON COLUMN trend_runs.trend_run_id IS 'The computation''s id (the forecasts, backtests and trending rows name it).';

-- TABLE_COMMENTS['trend_runs'][2]
COMMENT ON COLUMN trend_runs.computed_at IS 'When it was computed (UTC).';

-- TABLE_COMMENTS['trend_runs'][3]
COMMENT ON COLUMN trend_runs.load_run_id IS 'The latest succeeded load run it read; NULL when there was none.';

-- TABLE_COMMENTS['trend_runs'][4]
COMMENT ON COLUMN trend_runs.horizon IS 'Days forecast.';

-- TABLE_COMMENTS['trend_runs'][5]
COMMENT ON COLUMN trend_runs.first_day IS 'First day of the series; NULL without data.';

-- TABLE_COMMENTS['trend_runs'][6]
COMMENT ON COLUMN trend_runs.last_day IS 'Last day of the series; NULL without data.';

-- TABLE_COMMENTS['trend_runs'][7]
COMMENT ON COLUMN trend_runs.days IS 'Days in the series.';

-- TABLE_COMMENTS['trend_runs'][8]
COMMENT ON COLUMN trend_runs.recent_from IS 'Trending: the recent window runs from this day to last_day.';

-- TABLE_COMMENTS['trend_runs'][9]
COMMENT ON COLUMN trend_runs.before_from IS 'Trending: the window compared against runs from this day to the day before recent_from.';

-- TABLE_COMMENTS['trend_runs'][10]
COMMENT ON COLUMN trend_runs.plays_recent IS 'All plays in the recent window (the traffic).';

-- TABLE_COMMENTS['trend_runs'][11]
COMMENT ON COLUMN trend_runs.plays_before IS 'All plays in the window before.';

-- TABLE_COMMENTS['trend_runs'][12]
COMMENT ON COLUMN trend_runs.prior_plays IS 'The shrinkage prior of the trending score.';

-- TABLE_COMMENTS['trend_runs'][13]
COMMENT ON COLUMN trend_runs.min_listeners IS 'Fewest distinct listeners a song or artist needs to be ranked.';

-- TABLE_COMMENTS['trend_runs'][14]
COMMENT ON COLUMN trend_runs.fdr IS 'The false-discovery rate the trending lists are held at (Benjamini-Hochberg q).';

-- TABLE_COMMENTS['trend_runs'][15]
COMMENT ON COLUMN trend_runs.songs_tested IS 'Songs tested for trending (every one played in the 28 days): the m of Benjamini-Hochberg.';

-- TABLE_COMMENTS['trend_runs'][16]
COMMENT ON COLUMN trend_runs.artists_tested IS 'Artists tested for trending, likewise.';

-- TABLE_COMMENTS['trend_runs'][17]
COMMENT ON COLUMN trend_runs.message IS 'What could not be computed, and why.';

-- TABLE_COMMENTS['trend_runs'][18]
COMMENT ON COLUMN trend_runs.trending_note IS 'Why nothing trends, when nothing can.';

-- TABLE_COMMENTS['trend_runs'][19]
COMMENT ON VIEW sparkify.trend_runs IS 'Trends: one row per trends.py computation: when, from which load, over which days.';

-- TABLE_COMMENTS['trend_runs'][20]
COMMENT ON COLUMN sparkify.trend_runs.trend_run_id IS 'The computation''s id (the forecasts, backtests and trending rows name it).';

-- TABLE_COMMENTS['trend_runs'][21]
COMMENT ON COLUMN sparkify.trend_runs.computed_at IS 'When it was computed (UTC).';

-- TABLE_COMMENTS['trend_runs'][22]
COMMENT ON COLUMN sparkify.trend_runs.load_run_id IS 'The latest succeeded load run it read; NULL when there was none.';

-- TABLE_COMMENTS['trend_runs'][23]
COMMENT ON COLUMN sparkify.trend_runs.horizon IS 'Days forecast.';

-- TABLE_COMMENTS['trend_runs'][24]
COMMENT ON COLUMN sparkify.trend_runs.first_day IS 'First day of the series; NULL without data.';

-- TABLE_COMMENTS['trend_runs'][25]
COMMENT ON COLUMN sparkify.trend_runs.last_day IS 'Last day of the series; NULL without data.';

-- TABLE_COMMENTS['trend_runs'][26]
COMMENT ON COLUMN sparkify.trend_runs.days IS 'Days in the series.';

-- TABLE_COMMENTS['trend_runs'][27]
COMMENT ON COLUMN sparkify.trend_runs.recent_from IS 'Trending: the recent window runs from this day to last_day.';

-- TABLE_COMMENTS['trend_runs'][28]
COMMENT ON COLUMN sparkify.trend_runs.before_from IS 'Trending: the window compared against runs from this day to the day before recent_from.';

-- TABLE_COMMENTS['trend_runs'][29]
COMMENT ON COLUMN sparkify.trend_runs.plays_recent IS 'All plays in the recent window (the traffic).';

-- TABLE_COMMENTS['trend_runs'][30]
COMMENT ON COLUMN sparkify.trend_runs.plays_before IS 'All plays in the window before.';

-- TABLE_COMMENTS['trend_runs'][31]
COMMENT ON COLUMN sparkify.trend_runs.prior_plays IS 'The shrinkage prior of the trending score.';

-- TABLE_COMMENTS['trend_runs'][32]
COMMENT ON COLUMN sparkify.trend_runs.min_listeners IS 'Fewest distinct listeners a song or artist needs to be ranked.';

-- TABLE_COMMENTS['trend_runs'][33]
COMMENT ON COLUMN sparkify.trend_runs.fdr IS 'The false-discovery rate the trending lists are held at (Benjamini-Hochberg q).';

-- TABLE_COMMENTS['trend_runs'][34]
COMMENT ON COLUMN sparkify.trend_runs.songs_tested IS 'Songs tested for trending (every one played in the 28 days): the m of Benjamini-Hochberg.';

-- TABLE_COMMENTS['trend_runs'][35]
COMMENT ON COLUMN sparkify.trend_runs.artists_tested IS 'Artists tested for trending, likewise.';

-- TABLE_COMMENTS['trend_runs'][36]
COMMENT ON COLUMN sparkify.trend_runs.message IS 'What could not be computed, and why.';

-- TABLE_COMMENTS['trend_runs'][37]
COMMENT ON COLUMN sparkify.trend_runs.trending_note IS 'Why nothing trends, when nothing can.';

-- TABLE_COMMENTS['trend_backtests'][0]
COMMENT ON TABLE trend_backtests IS 'Trends: one row per computation and series: the rolling-origin backtest that chose its model.';

-- TABLE_COMMENTS['trend_backtests'][1]
COMMENT ON COLUMN trend_backtests.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trend_backtests'][2]
COMMENT ON COLUMN trend_backtests.series IS 'plays, active_users or paid_users.';

-- TABLE_COMMENTS['trend_backtests'][3]
COMMENT ON COLUMN trend_backtests.model IS 'The published model; NULL when no forecast was published.';

-- TABLE_COMMENTS['trend_backtests'][4]
COMMENT ON COLUMN trend_backtests.candidate IS 'The smoothing model tried against the seasonal-naive baseline.';

-- TABLE_COMMENTS['trend_backtests'][5]
COMMENT ON COLUMN trend_backtests.mase IS 'The candidate''s mean absolute scaled error over the origins.';

-- TABLE_COMMENTS['trend_backtests'][6]
COMMENT ON COLUMN trend_backtests.mase_baseline IS 'The baseline''s mean absolute scaled error.';

-- TABLE_COMMENTS['trend_backtests'][7]
COMMENT ON COLUMN trend_backtests.smape IS 'The candidate''s symmetric mean absolute percentage error, 0 to 200.';

-- TABLE_COMMENTS['trend_backtests'][8]
COMMENT ON COLUMN trend_backtests.smape_baseline IS 'The baseline''s symmetric mean absolute percentage error.';

-- TABLE_COMMENTS['trend_backtests'][9]
COMMENT ON COLUMN trend_backtests.origins IS 'Backtest origins.';

-- TABLE_COMMENTS['trend_backtests'][10]
COMMENT ON COLUMN trend_backtests.coverage80 IS 'Share of backtest days inside the published method''s 80% interval.';

-- TABLE_COMMENTS['trend_backtests'][11]
COMMENT ON COLUMN trend_backtests.coverage95 IS 'Share of backtest days inside the published method''s 95% interval.';

-- TABLE_COMMENTS['trend_backtests'][12]
COMMENT ON COLUMN trend_backtests.note IS 'Why a model was or was not published.';

-- TABLE_COMMENTS['trend_backtests'][13]
COMMENT ON VIEW sparkify.trend_backtests IS 'Trends: one row per computation and series: the rolling-origin backtest that chose its model.';

-- TABLE_COMMENTS['trend_backtests'][14]
COMMENT ON COLUMN sparkify.trend_backtests.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trend_backtests'][15]
COMMENT ON COLUMN sparkify.trend_backtests.series IS 'plays, active_users or paid_users.';

-- TABLE_COMMENTS['trend_backtests'][16]
COMMENT ON COLUMN sparkify.trend_backtests.model IS 'The published model; NULL when no forecast was published.';

-- TABLE_COMMENTS['trend_backtests'][17]
COMMENT ON COLUMN sparkify.trend_backtests.candidate IS 'The smoothing model tried against the seasonal-naive baseline.';

-- TABLE_COMMENTS['trend_backtests'][18]
COMMENT ON COLUMN sparkify.trend_backtests.mase IS 'The candidate''s mean absolute scaled error over the origins.';

-- TABLE_COMMENTS['trend_backtests'][19]
COMMENT ON COLUMN sparkify.trend_backtests.mase_baseline IS 'The baseline''s mean absolute scaled error.';

-- TABLE_COMMENTS['trend_backtests'][20]
COMMENT ON COLUMN sparkify.trend_backtests.smape IS 'The candidate''s symmetric mean absolute percentage error, 0 to 200.';

-- TABLE_COMMENTS['trend_backtests'][21]
COMMENT ON COLUMN sparkify.trend_backtests.smape_baseline IS 'The baseline''s symmetric mean absolute percentage error.';

-- TABLE_COMMENTS['trend_backtests'][22]
COMMENT ON COLUMN sparkify.trend_backtests.origins IS 'Backtest origins.';

-- TABLE_COMMENTS['trend_backtests'][23]
COMMENT ON COLUMN sparkify.trend_backtests.coverage80 IS 'Share of backtest days inside the published method''s 80% interval.';

-- TABLE_COMMENTS['trend_backtests'][24]
COMMENT ON COLUMN sparkify.trend_backtests.coverage95 IS 'Share of backtest days inside the published method''s 95% interval.';

-- TABLE_COMMENTS['trend_backtests'][25]
COMMENT ON COLUMN sparkify.trend_backtests.note IS 'Why a model was or was not published.';

-- TABLE_COMMENTS['trend_forecasts'][0]
COMMENT ON TABLE trend_forecasts IS 'Trends: one row per computation, series and forecast day, with calibrated intervals.';

-- TABLE_COMMENTS['trend_forecasts'][1]
COMMENT ON COLUMN trend_forecasts.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trend_forecasts'][2]
COMMENT ON COLUMN trend_forecasts.series IS 'plays, active_users or paid_users.';

-- TABLE_COMMENTS['trend_forecasts'][3]
COMMENT ON COLUMN trend_forecasts.forecast_date IS 'The day forecast.';

-- TABLE_COMMENTS['trend_forecasts'][4]
COMMENT ON COLUMN trend_forecasts.model IS 'The model that made the forecast.';

-- TABLE_COMMENTS['trend_forecasts'][5]
COMMENT ON COLUMN trend_forecasts.value IS 'The forecast.';

-- TABLE_COMMENTS['trend_forecasts'][6]
COMMENT ON COLUMN trend_forecasts.lo80 IS 'Lower end of the 80 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][7]
COMMENT ON COLUMN trend_forecasts.hi80 IS 'Upper end of the 80 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][8]
COMMENT ON COLUMN trend_forecasts.lo95 IS 'Lower end of the 95 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][9]
COMMENT ON COLUMN trend_forecasts.hi95 IS 'Upper end of the 95 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][10]
COMMENT ON VIEW sparkify.trend_forecasts IS 'Trends: one row per computation, series and forecast day, with calibrated intervals.';

-- TABLE_COMMENTS['trend_forecasts'][11]
COMMENT ON COLUMN sparkify.trend_forecasts.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trend_forecasts'][12]
COMMENT ON COLUMN sparkify.trend_forecasts.series IS 'plays, active_users or paid_users.';

-- TABLE_COMMENTS['trend_forecasts'][13]
COMMENT ON COLUMN sparkify.trend_forecasts.forecast_date IS 'The day forecast.';

-- TABLE_COMMENTS['trend_forecasts'][14]
COMMENT ON COLUMN sparkify.trend_forecasts.model IS 'The model that made the forecast.';

-- TABLE_COMMENTS['trend_forecasts'][15]
COMMENT ON COLUMN sparkify.trend_forecasts.value IS 'The forecast.';

-- TABLE_COMMENTS['trend_forecasts'][16]
COMMENT ON COLUMN sparkify.trend_forecasts.lo80 IS 'Lower end of the 80 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][17]
COMMENT ON COLUMN sparkify.trend_forecasts.hi80 IS 'Upper end of the 80 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][18]
COMMENT ON COLUMN sparkify.trend_forecasts.lo95 IS 'Lower end of the 95 percent interval.';

-- TABLE_COMMENTS['trend_forecasts'][19]
COMMENT ON COLUMN sparkify.trend_forecasts.hi95 IS 'Upper end of the 95 percent interval.';

-- TABLE_COMMENTS['trending'][0]
COMMENT ON TABLE trending IS 'Trends: the songs and artists trending in the last 7 days against the 21 days before, adjusted for traffic, significant after false-discovery control; ranked by a shrunk score.';

-- TABLE_COMMENTS['trending'][1]
COMMENT ON COLUMN trending.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trending'][2]
COMMENT ON COLUMN trending.kind IS 'song or artist.';

-- TABLE_COMMENTS['trending'][3]
COMMENT ON COLUMN trending.rank IS 'Rank from 1.';

-- TABLE_COMMENTS['trending'][4]
COMMENT ON COLUMN trending.song IS 'The song''s title; NULL for an artist.';

-- TABLE_COMMENTS['trending'][5]
COMMENT ON COLUMN trending.artist IS 'The artist.';

-- TABLE_COMMENTS['trending'][6]
COMMENT ON COLUMN trending.score IS 'The shrunk trending score (ranks the list).';

-- TABLE_COMMENTS['trending'][7]
COMMENT ON COLUMN trending.plays IS 'Plays in the last 7 days.';

-- TABLE_COMMENTS['trending'][8]
COMMENT ON COLUMN trending.plays_before IS 'Plays in the 21 days before.';

-- TABLE_COMMENTS['trending'][9]
COMMENT ON COLUMN trending.expected IS 'plays_before scaled by the change in overall traffic.';

-- TABLE_COMMENTS['trending'][10]
COMMENT ON COLUMN trending.listeners IS 'Distinct users in the last 7 days.';

-- TABLE_COMMENTS['trending'][11]
COMMENT ON COLUMN trending.p_value IS 'The exact test''s p-value.';

-- TABLE_COMMENTS['trending'][12]
COMMENT ON COLUMN trending.q_value IS 'Its Benjamini-Hochberg q-value over every song (or artist) tested; listed only when <= the run''s fdr.';

-- TABLE_COMMENTS['trending'][13]
COMMENT ON VIEW sparkify.trending IS 'Trends: the songs and artists trending in the last 7 days against the 21 days before, adjusted for traffic, significant after false-discovery control; ranked by a shrunk score.';

-- TABLE_COMMENTS['trending'][14]
COMMENT ON COLUMN sparkify.trending.trend_run_id IS 'The computation (trend_runs).';

-- TABLE_COMMENTS['trending'][15]
COMMENT ON COLUMN sparkify.trending.kind IS 'song or artist.';

-- TABLE_COMMENTS['trending'][16]
COMMENT ON COLUMN sparkify.trending.rank IS 'Rank from 1.';

-- TABLE_COMMENTS['trending'][17]
COMMENT ON COLUMN sparkify.trending.song IS 'The song''s title; NULL for an artist.';

-- TABLE_COMMENTS['trending'][18]
COMMENT ON COLUMN sparkify.trending.artist IS 'The artist.';

-- TABLE_COMMENTS['trending'][19]
COMMENT ON COLUMN sparkify.trending.score IS 'The shrunk trending score (ranks the list).';

-- TABLE_COMMENTS['trending'][20]
COMMENT ON COLUMN sparkify.trending.plays IS 'Plays in the last 7 days.';

-- TABLE_COMMENTS['trending'][21]
COMMENT ON COLUMN sparkify.trending.plays_before IS 'Plays in the 21 days before.';

-- TABLE_COMMENTS['trending'][22]
COMMENT ON COLUMN sparkify.trending.expected IS 'plays_before scaled by the change in overall traffic.';

-- TABLE_COMMENTS['trending'][23]
COMMENT ON COLUMN sparkify.trending.listeners IS 'Distinct users in the last 7 days.';

-- TABLE_COMMENTS['trending'][24]
COMMENT ON COLUMN sparkify.trending.p_value IS 'The exact test''s p-value.';

-- TABLE_COMMENTS['trending'][25]
COMMENT ON COLUMN sparkify.trending.q_value IS 'Its Benjamini-Hochberg q-value over every song (or artist) tested; listed only when <= the run''s fdr.';

-- TOOLKIT_TABLE_COMMENTS['etl_runs']
COMMENT ON TABLE etl_runs IS 'Toolkit internal, not for analysis: one row per load run: when, outcome, counts, the toolkit version';

-- TOOLKIT_TABLE_COMMENTS['table_rows']
COMMENT ON TABLE table_rows IS 'Toolkit internal, not for analysis: the star tables'' row counts as the last run left them';

-- TOOLKIT_TABLE_COMMENTS['loaded_objects']
COMMENT ON TABLE loaded_objects IS 'Toolkit internal, not for analysis: one row per source object loaded';

-- TOOLKIT_TABLE_COMMENTS['rejects']
COMMENT ON TABLE rejects IS 'Toolkit internal, not for analysis: source records that could not be used, with the reason';

-- TOOLKIT_TABLE_COMMENTS['staging_events']
COMMENT ON TABLE staging_events IS 'Toolkit internal, not for analysis: the raw layer: every event record loaded, typed';

-- TOOLKIT_TABLE_COMMENTS['staging_songs']
COMMENT ON TABLE staging_songs IS 'Toolkit internal, not for analysis: the raw layer: every song record loaded, typed';

-- TOOLKIT_TABLE_COMMENTS['song_lookup']
COMMENT ON TABLE song_lookup IS 'Toolkit internal, not for analysis: song matching: the song of each title, artist name and duration';

-- TOOLKIT_TABLE_COMMENTS['unmatched_plays']
COMMENT ON TABLE unmatched_plays IS 'Toolkit internal, not for analysis: song matching: the songplays without a song';

-- TOOLKIT_TABLE_COMMENTS['listed_folders']
COMMENT ON TABLE listed_folders IS 'Toolkit internal, not for analysis: folder sources whose files were all loaded';

-- drop_table_queries[1]
DROP TABLE IF EXISTS trending;

-- drop_table_queries[2]
DROP TABLE IF EXISTS trend_forecasts;

-- drop_table_queries[3]
DROP TABLE IF EXISTS trend_backtests;

-- drop_table_queries[4]
DROP TABLE IF EXISTS trend_runs;

-- drop_table_queries[5]
DROP TABLE IF EXISTS song_totals;

-- drop_table_queries[6]
DROP TABLE IF EXISTS user_day_places;

-- drop_table_queries[7]
DROP TABLE IF EXISTS hour_plays;

-- drop_table_queries[8]
DROP TABLE IF EXISTS song_days;

-- drop_table_queries[9]
DROP TABLE IF EXISTS user_sessions;

-- drop_table_queries[10]
DROP TABLE IF EXISTS user_days;

-- drop_table_queries[11]
DROP TABLE IF EXISTS devices;

-- drop_table_queries[12]
DROP TABLE IF EXISTS user_levels;

-- drop_table_queries[13]
DROP TABLE IF EXISTS app_events;

-- drop_table_queries[14]
DROP TABLE IF EXISTS listed_folders;

-- drop_table_queries[15]
DROP TABLE IF EXISTS unmatched_plays;

-- drop_table_queries[16]
DROP TABLE IF EXISTS song_lookup;

-- drop_table_queries[17]
DROP TABLE IF EXISTS time;

-- drop_table_queries[18]
DROP TABLE IF EXISTS artists;

-- drop_table_queries[19]
DROP TABLE IF EXISTS songs;

-- drop_table_queries[20]
DROP TABLE IF EXISTS users;

-- drop_table_queries[21]
DROP TABLE IF EXISTS songplays;

-- drop_table_queries[22]
DROP TABLE IF EXISTS staging_songs;

-- drop_table_queries[23]
DROP TABLE IF EXISTS staging_events;

-- drop_table_queries[24]
DROP TABLE IF EXISTS rejects;

-- drop_table_queries[25]
DROP TABLE IF EXISTS loaded_objects;

-- drop_table_queries[26]
DROP TABLE IF EXISTS table_rows;

-- drop_table_queries[27]
DROP TABLE IF EXISTS etl_runs;

-- REDSHIFT_DROP_LOCK
LOCK etl_runs;

-- SERVER_VERSION
SELECT version();

-- CURRENT_SCHEMA
SELECT current_schema();

-- TABLE_EXISTS
SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = %(table)s;

-- SCHEMA_COLUMNS
SELECT table_name, column_name, data_type, character_maximum_length, is_nullable
FROM information_schema.columns
WHERE table_schema = %(schema)s;

-- CREATE_RIGHTS_PROBE
CREATE TABLE dwh_doctor_probe (probe INTEGER);

-- RUN_NEXT_ID
SELECT COALESCE(MAX(run_id), 0) + 1 FROM etl_runs;

-- RUN_START
INSERT INTO etl_runs (run_id, started_at, outcome, target, toolkit_version)
VALUES (%(run_id)s, %(started_at)s, 'running', %(target)s, %(version)s);

-- RUN_FINISH
UPDATE etl_runs
SET finished_at = %(finished_at)s, outcome = %(outcome)s, objects_loaded = %(objects_loaded)s,
    events_staged = %(events_staged)s, songs_staged = %(songs_staged)s,
    rows_rejected = %(rows_rejected)s, values_repaired = %(values_repaired)s,
    songplays_added = %(songplays_added)s, message = %(message)s, unknown_fields = %(unknown_fields)s
WHERE run_id = %(run_id)s;

-- RUN_CHECKS
UPDATE etl_runs SET checks = %(checks)s WHERE run_id = %(run_id)s;

-- LISTED_OBJECTS_CREATE
CREATE TEMPORARY TABLE listed_objects (
    source      VARCHAR(8)     NOT NULL,
    object_key  VARCHAR(1024)  NOT NULL,
    etag        VARCHAR(128),
    size        BIGINT         NOT NULL
);

-- PLAN_DROP[0]
DROP TABLE IF EXISTS listed_objects;

-- PLAN_DROP[1]
DROP TABLE IF EXISTS planned_objects;

-- PLAN_NEW_OBJECTS
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
);

-- PLAN_SUMMARY
SELECT source, COUNT(*), COALESCE(SUM(size), 0) FROM planned_objects GROUP BY source;

-- PLANNED_BATCH
SELECT object_id, object_key, etag, size
FROM planned_objects
WHERE source = %(source)s AND object_id > %(after)s
ORDER BY object_id
LIMIT %(limit)s;

-- PLANNED_BY_ID
SELECT object_id, source, object_key, etag, size FROM planned_objects WHERE object_id IN %(ids)s;

-- PLAN_ALREADY_LOADED
SELECT l.source, COUNT(*)
FROM listed_objects l
WHERE EXISTS (SELECT 1 FROM loaded_objects o WHERE o.object_key = l.object_key)
GROUP BY l.source;

-- LOADED_OBJECTS_INSERT
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
);

-- REDSHIFT_STAGING_COPY (staging_events)
COPY staging_events (artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page, registration, session_id, song, status, ts, user_agent, user_id, run_id, object_id, source_line, source_record)
FROM %(manifest)s
IAM_ROLE %(iam_role)s
MANIFEST
FORMAT AS JSON %(jsonpaths)s
GZIP
REGION %(region)s
MAXERROR %(max_errors)s
COMPUPDATE OFF
STATUPDATE OFF;

-- REDSHIFT_STAGING_COPY (staging_songs)
COPY staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name, song_id, title, duration, year, run_id, object_id, source_line, source_record)
FROM %(manifest)s
IAM_ROLE %(iam_role)s
MANIFEST
FORMAT AS JSON %(jsonpaths)s
GZIP
REGION %(region)s
MAXERROR %(max_errors)s
COMPUPDATE OFF
STATUPDATE OFF;

-- REDSHIFT_LISTED_OBJECTS_COPY
COPY listed_objects (source, object_key, etag, size)
FROM %(listing)s
IAM_ROLE %(iam_role)s
CSV
GZIP
EMPTYASNULL
REGION %(region)s;

-- REDSHIFT_REJECTS_COPY
COPY rejects (run_id, source, object_key, line, record_no, reason, record)
FROM %(rejects)s
IAM_ROLE %(iam_role)s
CSV
GZIP
EMPTYASNULL
REGION %(region)s;

-- REDSHIFT_SLICES
SELECT COUNT(*) FROM stv_slices;

-- REDSHIFT_LOAD_ERRORS
SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason), TRIM(raw_line)
FROM stl_load_errors
WHERE session = pg_backend_pid() AND starttime >= %(since)s
ORDER BY starttime, filename, line_number;

-- REDSHIFT_PROBE_TABLE (staging_events)
CREATE TEMPORARY TABLE doctor_staging_events AS
SELECT artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page, registration, session_id, song, status, ts, user_agent, user_id FROM staging_events WHERE 1 = 0;

-- REDSHIFT_PROBE_TABLE (staging_songs)
CREATE TEMPORARY TABLE doctor_staging_songs AS
SELECT num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name, song_id, title, duration, year FROM staging_songs WHERE 1 = 0;

-- REDSHIFT_PROBE_COPY (staging_events)
COPY doctor_staging_events (artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page, registration, session_id, song, status, ts, user_agent, user_id)
FROM %(object)s
IAM_ROLE %(iam_role)s
FORMAT AS JSON %(jsonpaths)s
REGION %(region)s
MAXERROR 100000;

-- REDSHIFT_PROBE_COPY (staging_songs)
COPY doctor_staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name, song_id, title, duration, year)
FROM %(object)s
IAM_ROLE %(iam_role)s
FORMAT AS JSON %(jsonpaths)s
REGION %(region)s
MAXERROR 100000;

-- REDSHIFT_PROBE_ROWS (staging_events)
SELECT COUNT(*) FROM doctor_staging_events;

-- REDSHIFT_PROBE_ROWS (staging_songs)
SELECT COUNT(*) FROM doctor_staging_songs;

-- TABLE_COLUMNS
SELECT column_name, data_type, character_maximum_length, is_nullable
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %(table)s
ORDER BY ordinal_position;

-- REDSHIFT_ANALYZE (staging_events)
ANALYZE staging_events PREDICATE COLUMNS;

-- REDSHIFT_ANALYZE (staging_songs)
ANALYZE staging_songs PREDICATE COLUMNS;

-- REDSHIFT_ANALYZE (songs)
ANALYZE songs PREDICATE COLUMNS;

-- REARTISTED_SONGS_DROP
DROP TABLE IF EXISTS reartisted_songs;

-- REARTISTED_SONGS
CREATE TEMPORARY TABLE reartisted_songs AS
SELECT latest.song_id, latest.artist_id
FROM (
    SELECT song_id, artist_id,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY object_id DESC, source_record DESC) AS pick
    FROM staging_songs
    WHERE run_id >= %(since_run)s
) latest
JOIN songs s ON s.song_id = latest.song_id
WHERE latest.pick = 1 AND s.artist_id <> latest.artist_id;

-- SONGPLAYS_FOLLOW_REARTISTED
UPDATE songplays
SET artist_id = r.artist_id
FROM reartisted_songs r
WHERE songplays.song_id = r.song_id
  AND EXISTS (SELECT 1 FROM reartisted_songs);

-- SONGS_DELETE_RELOADED
DELETE FROM songs
WHERE song_id IN (SELECT song_id FROM staging_songs WHERE run_id >= %(since_run)s);

-- SONGS_INSERT
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, NULLIF(year, 0), duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY object_id DESC, source_record DESC) AS pick
    FROM staging_songs
    WHERE run_id >= %(since_run)s
) latest
WHERE pick = 1;

-- ARTIST_CANDIDATES_DROP
DROP TABLE IF EXISTS artist_candidates;

-- ARTIST_CANDIDATES
CREATE TEMPORARY TABLE artist_candidates AS
SELECT artist_id, name, location, latitude, longitude, completeness
FROM (
    SELECT artist_id, name, location, latitude, longitude, completeness,
           ROW_NUMBER() OVER (PARTITION BY artist_id
                              ORDER BY completeness DESC, object_id DESC, source_record DESC) AS pick
    FROM (
        SELECT artist_id, NULLIF(artist_name, '') AS name, NULLIF(artist_location, '') AS location,
               artist_latitude AS latitude, artist_longitude AS longitude, object_id, source_record,
               (CASE WHEN NULLIF(artist_name, '') IS NULL THEN 0 ELSE 1 END + CASE WHEN NULLIF(artist_location, '') IS NULL THEN 0 ELSE 1 END + CASE WHEN artist_latitude IS NULL THEN 0 ELSE 1 END + CASE WHEN artist_longitude IS NULL THEN 0 ELSE 1 END) AS completeness
        FROM staging_songs
        WHERE run_id >= %(since_run)s
    ) rows_since
) ranked
WHERE pick = 1;

-- ARTISTS_DELETE_REPLACED
DELETE FROM artists
USING artist_candidates c
WHERE artists.artist_id = c.artist_id
  AND c.completeness >= (CASE WHEN artists.name IS NULL THEN 0 ELSE 1 END + CASE WHEN artists.location IS NULL THEN 0 ELSE 1 END + CASE WHEN artists.latitude IS NULL THEN 0 ELSE 1 END + CASE WHEN artists.longitude IS NULL THEN 0 ELSE 1 END);

-- ARTISTS_INSERT
INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT c.artist_id, c.name, c.location, c.latitude, c.longitude
FROM artist_candidates c
WHERE NOT EXISTS (SELECT 1 FROM artists a WHERE a.artist_id = c.artist_id);

-- RUN_SONG_KEYS_DROP
DROP TABLE IF EXISTS run_song_keys;

-- RUN_SONG_KEYS
CREATE TEMPORARY TABLE run_song_keys AS
SELECT title, artist_name, duration, MIN(song_id) AS song_id
FROM staging_songs
WHERE run_id >= %(since_run)s AND artist_name IS NOT NULL AND duration IS NOT NULL
GROUP BY title, artist_name, duration;

-- SONG_KEYS_BETTERED
SELECT k.title, k.artist_name, k.duration, l.song_id AS old_song_id, k.song_id
FROM run_song_keys k
JOIN song_lookup l ON l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
WHERE k.song_id < l.song_id;

-- SONGPLAYS_REMATCH_BETTERED
UPDATE songplays
SET song_id = b.song_id, artist_id = s.artist_id
FROM (SELECT k.title, k.artist_name, k.duration, l.song_id AS old_song_id, k.song_id
FROM run_song_keys k
JOIN song_lookup l ON l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
WHERE k.song_id < l.song_id) b,
     songs s
WHERE songplays.song_id = b.old_song_id
  AND s.song_id = b.song_id
  AND EXISTS (SELECT k.title, k.artist_name, k.duration, l.song_id AS old_song_id, k.song_id
FROM run_song_keys k
JOIN song_lookup l ON l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
WHERE k.song_id < l.song_id);

-- SONG_LOOKUP_DELETE_BETTERED
DELETE FROM song_lookup
USING run_song_keys k
WHERE song_lookup.title = k.title AND song_lookup.artist_name = k.artist_name
  AND song_lookup.duration = k.duration AND k.song_id < song_lookup.song_id;

-- SONG_LOOKUP_INSERT
INSERT INTO song_lookup (title, artist_name, duration, song_id)
SELECT k.title, k.artist_name, k.duration, k.song_id
FROM run_song_keys k
WHERE NOT EXISTS (
    SELECT 1 FROM song_lookup l
    WHERE l.title = k.title AND l.artist_name = k.artist_name AND l.duration = k.duration
);

-- SONGPLAYS_MATCH_LATE_SONGS
UPDATE songplays
SET song_id = k.song_id, artist_id = s.artist_id
FROM run_song_keys k, unmatched_plays u, songs s
WHERE u.song = k.title AND u.artist = k.artist_name AND u.length = k.duration
  AND s.song_id = k.song_id
  AND songplays.session_id = u.session_id AND songplays.item_in_session = u.item_in_session
  AND songplays.start_time = u.start_time;

-- UNMATCHED_PLAYS_DELETE_MATCHED
DELETE FROM unmatched_plays
USING run_song_keys k
WHERE unmatched_plays.song = k.title AND unmatched_plays.artist = k.artist_name
  AND unmatched_plays.length = k.duration;

-- RUN_PLAYS_DROP
DROP TABLE IF EXISTS run_plays;

-- RUN_PLAYS
CREATE TEMPORARY TABLE run_plays AS
SELECT e.run_id, e.start_time, e.user_id, e.level, l.song_id, s.artist_id, e.session_id, e.item_in_session,
       e.location, e.user_agent, e.song, e.artist, e.length
FROM app_events e
LEFT JOIN song_lookup l ON l.title = e.song AND l.artist_name = e.artist AND l.duration = e.length
LEFT JOIN songs s ON s.song_id = l.song_id
WHERE e.run_id >= %(since_run)s AND e.page = 'NextSong';

-- SONGPLAYS_INSERT
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, item_in_session,
                       location, user_agent)
SELECT n.last_id + ROW_NUMBER() OVER (ORDER BY p.run_id, p.start_time, p.session_id, p.item_in_session),
       p.start_time, p.user_id, p.level, p.song_id, p.artist_id, p.session_id, p.item_in_session, p.location,
       p.user_agent
FROM run_plays p
CROSS JOIN (SELECT COALESCE(MAX(songplay_id), 0) AS last_id FROM songplays) n;

-- UNMATCHED_PLAYS_INSERT
INSERT INTO unmatched_plays (song, artist, length, start_time, session_id, item_in_session)
SELECT song, artist, length, start_time, session_id, item_in_session
FROM run_plays
WHERE song_id IS NULL AND song IS NOT NULL AND artist IS NOT NULL AND length IS NOT NULL;

-- USER_CANDIDATES_DROP
DROP TABLE IF EXISTS user_candidates;

-- USER_CANDIDATES
CREATE TEMPORARY TABLE user_candidates AS
SELECT user_id, first_name, last_name, gender, level, TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS seen_at
FROM (
    SELECT user_id, first_name, last_name, gender, level, ts,
           ROW_NUMBER() OVER (PARTITION BY user_id
                              ORDER BY ts DESC, object_id DESC, source_record DESC) AS pick
    FROM staging_events
    WHERE run_id >= %(since_run)s AND user_id IS NOT NULL
) ranked
WHERE pick = 1;

-- USERS_DELETE_SUPERSEDED
DELETE FROM users
USING user_candidates c
WHERE users.user_id = c.user_id AND users.last_seen_at <= c.seen_at;

-- USERS_INSERT
INSERT INTO users (user_id, first_name, last_name, gender, level, last_seen_at)
SELECT c.user_id, c.first_name, c.last_name, c.gender, c.level, c.seen_at
FROM user_candidates c
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = c.user_id);

-- TIME_INSERT
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT start_time,
       EXTRACT(hour FROM start_time), EXTRACT(day FROM start_time), EXTRACT(week FROM start_time),
       EXTRACT(month FROM start_time), EXTRACT(year FROM start_time),
       MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1
FROM (SELECT DISTINCT start_time FROM run_plays) new_times
WHERE NOT EXISTS (SELECT 1 FROM time t WHERE t.start_time = new_times.start_time)
-- in key order: the index grows at its end (no comment on a last line: it would swallow the ';' printed after it)
ORDER BY start_time;

-- TABLE_ROWS (staging_events)
SELECT COUNT(*) FROM staging_events;

-- TABLE_ROWS (staging_songs)
SELECT COUNT(*) FROM staging_songs;

-- TABLE_ROWS (songs)
SELECT COUNT(*) FROM songs;

-- KEPT_TABLE_ROWS
SELECT table_name, row_count FROM table_rows;

-- KEEP_TABLE_ROWS[0]
DELETE FROM table_rows WHERE table_name = %(table)s;

-- KEEP_TABLE_ROWS[1]
INSERT INTO table_rows (table_name, row_count, run_id) VALUES (%(table)s, %(rows)s, %(run_id)s);

-- TABLE_HAS_ROWS (staging_events)
SELECT COUNT(*) FROM (SELECT 1 FROM staging_events LIMIT 1) any_row;

-- TABLE_HAS_ROWS (staging_songs)
SELECT COUNT(*) FROM (SELECT 1 FROM staging_songs LIMIT 1) any_row;

-- TABLE_HAS_ROWS (songs)
SELECT COUNT(*) FROM (SELECT 1 FROM songs LIMIT 1) any_row;

-- STAGED_ROWS (staging_events)
SELECT COUNT(*) FROM staging_events WHERE run_id = %(run_id)s;

-- STAGED_ROWS (staging_songs)
SELECT COUNT(*) FROM staging_songs WHERE run_id = %(run_id)s;

-- STAGED_ROWS (songs)
SELECT COUNT(*) FROM songs WHERE run_id = %(run_id)s;

-- EVENT_COPIES_DROP
DROP TABLE IF EXISTS event_copies;

-- EVENT_COPIES
CREATE TEMPORARY TABLE event_copies AS
SELECT session_id, item_in_session, ts
FROM staging_events
WHERE run_id >= %(since_run)s
GROUP BY session_id, item_in_session, ts
HAVING COUNT(*) > 1;

-- APP_EVENTS_INSERT
INSERT INTO app_events (start_time, event_date, user_id, session_id, item_in_session, page, auth, level,
                        method, status, location, user_agent, song, artist, length, registration, run_id)
SELECT e.start_time, CAST(e.start_time AS DATE), e.user_id, e.session_id, e.item_in_session, e.page, e.auth,
       e.level, e.method, e.status, e.location, e.user_agent, e.song, e.artist, e.length, e.registration,
       e.run_id
FROM (
    SELECT TIMESTAMP 'epoch' + s.ts / 1000.0 * INTERVAL '1 second' AS start_time, s.user_id, s.session_id, s.item_in_session, s.page,
           s.auth, s.level, s.method, s.status, s.location, s.user_agent, s.song, s.artist, s.length,
           s.registration, s.run_id
    FROM staging_events s
    WHERE s.run_id >= %(since_run)s
      AND NOT EXISTS (SELECT 1 FROM event_copies c
                      WHERE c.session_id = s.session_id AND c.item_in_session = s.item_in_session AND c.ts = s.ts)
    UNION ALL
    SELECT TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS start_time, user_id, session_id, item_in_session, page, auth, level,
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
);

-- ANALYTICS_BACKFILL_NEEDED
SELECT COUNT(*)
FROM (SELECT 1 FROM staging_events WHERE run_id < %(since_run)s LIMIT 1) older
WHERE NOT EXISTS (SELECT 1 FROM app_events);

-- DEVICES_NEW_AGENTS
SELECT DISTINCT a.user_agent
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_agent IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_agent = a.user_agent)
ORDER BY a.user_agent;

-- DEVICES_INSERT
INSERT INTO devices (user_agent, os_family, os_version, browser_family, browser_version, device_family,
                     device_type)
VALUES %s;

-- LEVEL_WINDOWS_DROP
DROP TABLE IF EXISTS level_windows;

-- LEVEL_WINDOWS
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
LEFT JOIN user_levels p ON p.user_id = w.user_id AND p.valid_from = w.seed_from;

-- USER_LEVELS_DELETE
DELETE FROM user_levels
USING level_windows w
WHERE user_levels.user_id = w.user_id AND user_levels.valid_from >= COALESCE(w.seed_from, w.first_new);

-- USER_LEVELS_INSERT
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
GROUP BY user_id, merged_no;

-- ANALYTICS_KEYS_DROP[0]
DROP TABLE IF EXISTS user_day_keys;

-- ANALYTICS_KEYS_DROP[1]
DROP TABLE IF EXISTS session_keys;

-- ANALYTICS_KEYS_DROP[2]
DROP TABLE IF EXISTS song_day_keys;

-- ANALYTICS_KEYS_DROP[3]
DROP TABLE IF EXISTS hour_keys;

-- USER_DAY_KEYS
CREATE TEMPORARY TABLE user_day_keys AS
SELECT DISTINCT a.user_id, a.event_date AS activity_date
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_days d WHERE d.user_id = a.user_id AND d.activity_date = a.event_date);

-- USER_DAYS_DELETE
DELETE FROM user_days
USING user_day_keys k
WHERE user_days.user_id = k.user_id AND user_days.activity_date = k.activity_date;

-- USER_DAYS_INSERT
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
       TIMESTAMP 'epoch' + MIN(CASE WHEN registration < 4102444800000 THEN registration END) / 1000.0 * INTERVAL '1 second'
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
GROUP BY user_id, activity_date;

-- SESSION_KEYS
CREATE TEMPORARY TABLE session_keys AS
SELECT DISTINCT a.user_id, a.session_id
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_sessions s WHERE s.user_id = a.user_id AND s.session_id = a.session_id);

-- USER_SESSIONS_DELETE
DELETE FROM user_sessions
USING session_keys k
WHERE user_sessions.user_id = k.user_id AND user_sessions.session_id = k.session_id;

-- USER_SESSIONS_INSERT
INSERT INTO user_sessions (user_id, session_id, started_at, ended_at, events, plays, level)
SELECT user_id, session_id, MIN(start_time), MAX(CASE WHEN page = 'NextSong' AND length IS NOT NULL THEN start_time + CAST(ROUND(length * 1000) AS BIGINT) / 1000.0 * INTERVAL '1 second' ELSE start_time END), COUNT(*),
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
GROUP BY user_id, session_id;

-- SONG_DAY_KEYS
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
  ON s.title = d.song AND s.artist_name = d.artist;

-- SONG_DAYS_DELETE
DELETE FROM song_days
USING song_day_keys k
WHERE song_days.activity_date = k.activity_date AND song_days.song = k.song AND song_days.artist = k.artist;

-- SONG_DAYS_INSERT
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
GROUP BY p.activity_date, p.song, p.artist;

-- HOUR_KEYS
CREATE TEMPORARY TABLE hour_keys AS
SELECT DISTINCT k.activity_date, k.hour
FROM (SELECT a.event_date AS activity_date, CAST(EXTRACT(hour FROM a.start_time) AS SMALLINT) AS hour
      FROM app_events a
      WHERE a.run_id >= %(since_run)s AND a.page = 'NextSong') k
WHERE EXISTS (SELECT 1 FROM hour_plays h WHERE h.activity_date = k.activity_date AND h.hour = k.hour);

-- HOUR_PLAYS_DELETE
DELETE FROM hour_plays
USING hour_keys k
WHERE hour_plays.activity_date = k.activity_date AND hour_plays.hour = k.hour;

-- HOUR_PLAYS_INSERT
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
GROUP BY activity_date, hour;

-- PLACE_KEYS_DROP
DROP TABLE IF EXISTS place_keys;

-- PLACE_KEYS
CREATE TEMPORARY TABLE place_keys AS
SELECT DISTINCT a.user_id, a.event_date AS activity_date
FROM app_events a
WHERE a.run_id >= %(since_run)s AND a.user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM user_day_places p WHERE p.user_id = a.user_id AND p.activity_date = a.event_date);

-- USER_DAY_PLACES_DELETE
DELETE FROM user_day_places
USING place_keys k
WHERE user_day_places.user_id = k.user_id AND user_day_places.activity_date = k.activity_date;

-- USER_DAY_PLACES_INSERT
INSERT INTO user_day_places (user_id, activity_date, state, os_family, browser_family, device_type, step_page,
                             step_time, events, plays, first_free_play, paid_events)
SELECT p.user_id, p.activity_date, CASE WHEN p.location LIKE '%%, %%' AND LENGTH(SPLIT_PART(SPLIT_PART(p.location, ', ', 2), '-', 1)) = 2 THEN SPLIT_PART(SPLIT_PART(p.location, ', ', 2), '-', 1) END, d.os_family, d.browser_family, d.device_type, p.step_page,
       p.step_time, p.events, p.plays, p.first_free_play, p.paid_events
FROM (
    SELECT user_id, activity_date, location, user_agent, step_page, step_time, COUNT(*) AS events,
           SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
           MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
           SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events
    FROM (
        SELECT user_id, activity_date, location, user_agent, page, level, start_time,
               CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN page END AS step_page,
               CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN start_time END AS step_time
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
LEFT JOIN devices d ON d.user_agent = p.user_agent;

-- SONG_TOTAL_KEYS_DROP
DROP TABLE IF EXISTS song_total_keys;

-- SONG_TOTAL_KEYS
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
GROUP BY song, artist;

-- SONG_TOTALS_ADD
UPDATE song_totals
SET plays = song_totals.plays + k.plays,
    song_id = CASE WHEN k.song_id IS NULL THEN song_totals.song_id
                   WHEN song_totals.song_id IS NULL OR k.song_id > song_totals.song_id THEN k.song_id
                   ELSE song_totals.song_id END
FROM song_total_keys k
WHERE song_totals.song = k.song AND song_totals.artist = k.artist;

-- SONG_TOTALS_INSERT_NEW
INSERT INTO song_totals (song, artist, song_id, plays)
SELECT k.song, k.artist, k.song_id, k.plays
FROM song_total_keys k
WHERE k.plays > 0
  AND NOT EXISTS (SELECT 1 FROM song_totals t WHERE t.song = k.song AND t.artist = k.artist);

-- SONG_TOTALS_REDERIVE
UPDATE song_totals
SET song_id = r.song_id
FROM (SELECT d.song, d.artist, MAX(d.song_id) AS song_id
      FROM song_total_keys k
      JOIN song_days d ON d.song = k.song AND d.artist = k.artist
      WHERE k.rederive = 1
      GROUP BY d.song, d.artist) r
WHERE song_totals.song = r.song AND song_totals.artist = r.artist
  AND EXISTS (SELECT 1 FROM song_total_keys WHERE rederive = 1);

-- SONG_TOTALS_INSERT
INSERT INTO song_totals (song, artist, song_id, plays)
SELECT song, artist, MAX(song_id), SUM(plays)
FROM song_days
WHERE NOT EXISTS (SELECT 1 FROM song_totals)
GROUP BY song, artist;

-- rebuild_queries[0]
DELETE FROM songplays;

-- rebuild_queries[1]
DELETE FROM users;

-- rebuild_queries[2]
DELETE FROM songs;

-- rebuild_queries[3]
DELETE FROM artists;

-- rebuild_queries[4]
DELETE FROM time;

-- rebuild_queries[5]
DELETE FROM song_lookup;

-- rebuild_queries[6]
DELETE FROM unmatched_plays;

-- rebuild_queries[7]
DELETE FROM app_events;

-- rebuild_queries[8]
DELETE FROM user_levels;

-- rebuild_queries[9]
DELETE FROM devices;

-- rebuild_queries[10]
DELETE FROM user_days;

-- rebuild_queries[11]
DELETE FROM user_sessions;

-- rebuild_queries[12]
DELETE FROM song_days;

-- rebuild_queries[13]
DELETE FROM hour_plays;

-- rebuild_queries[14]
DELETE FROM user_day_places;

-- rebuild_queries[15]
DELETE FROM song_totals;

-- RECENT_RUNS
SELECT run_id, started_at, finished_at, outcome, objects_loaded, events_staged, songs_staged,
       rows_rejected, values_repaired, songplays_added, checks, message, toolkit_version, unknown_fields
FROM etl_runs
ORDER BY run_id DESC
LIMIT %(limit)s;

-- RUN_EXISTS
SELECT outcome FROM etl_runs WHERE run_id = %(run_id)s;

-- LATEST_RUN
SELECT MAX(run_id) FROM etl_runs;

-- LOADED_BY_SOURCE
SELECT source, COUNT(*) AS objects, CAST(SUM(size) AS BIGINT) AS bytes, CAST(SUM(records) AS BIGINT) AS records,
       CAST(SUM(rejected) AS BIGINT) AS rejected
FROM loaded_objects
GROUP BY source
ORDER BY source;

-- LATEST_REJECTS_RUN
SELECT MAX(run_id) FROM rejects;

-- FIRST_REJECTS
SELECT object_key, line, record_no, reason
FROM rejects
WHERE run_id = %(run_id)s
ORDER BY object_key, record_no
LIMIT %(limit)s;

-- RECONCILE_USER_DAY_PLACES
SELECT COALESCE(p.user_id, a.user_id) AS user_id, COALESCE(p.activity_date, a.activity_date) AS activity_date,
       p.events AS place_events, a.events,
       p.plays AS place_plays, a.plays,
       p.paid_events AS place_paid_events, a.paid_events,
       p.first_free_play AS place_first_free_play, a.first_free_play,
       p.step_events AS place_step_events, a.step_events,
       p.last_step_at AS place_last_step_at, a.last_step_at,
       SUBSTRING(CASE WHEN CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', events' ELSE '' END
           || CASE WHEN CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', paid_events' ELSE '' END
           || CASE WHEN CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1 THEN ', first_free_play' ELSE '' END
           || CASE WHEN CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', step_events' ELSE '' END
           || CASE WHEN CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1 THEN ', last_step_at' ELSE '' END FROM 3) AS differing
FROM (SELECT user_id, activity_date,
             SUM(events) AS events,
             SUM(plays) AS plays,
             SUM(paid_events) AS paid_events,
             MIN(first_free_play) AS first_free_play,
             SUM(CASE WHEN step_page IS NOT NULL THEN events ELSE 0 END) AS step_events,
             MAX(step_time) AS last_step_at
      FROM user_day_places
      WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
      GROUP BY user_id, activity_date) p
FULL JOIN (SELECT user_id, event_date AS activity_date,
                  COUNT(*) AS events,
                  SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
                  SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events,
                  MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
                  SUM(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN 1 ELSE 0 END) AS step_events,
                  MAX(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN start_time END) AS last_step_at
           FROM app_events
           WHERE user_id IS NOT NULL AND event_date IS NOT NULL
           GROUP BY user_id, event_date) a
       ON a.user_id = p.user_id AND a.activity_date = p.activity_date
LEFT JOIN user_days d
       ON d.user_id = COALESCE(p.user_id, a.user_id) AND d.activity_date = COALESCE(p.activity_date, a.activity_date)
WHERE (CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (a.user_id IS NULL AND d.user_id IS NULL) OR (d.events = a.events AND d.plays = a.plays)
           THEN 1 ELSE 0 END = 1;

-- RECONCILE_SONG_TOTALS
SELECT COALESCE(t.song, d.song) AS song, COALESCE(t.artist, d.artist) AS artist,
       t.plays, d.plays AS day_plays, t.song_id, d.song_id AS day_song_id,
       SUBSTRING(CASE WHEN t.song IS NULL THEN ', not_in_song_totals' ELSE '' END
           || CASE WHEN d.song IS NULL THEN ', not_in_song_days' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1 THEN ', song_id' ELSE '' END FROM 3) AS differing
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
  AND (t.song IS NULL
   OR d.song IS NULL
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (d.song IS NULL AND e.song IS NULL) OR d.plays = e.plays THEN 1 ELSE 0 END = 1;

-- RECONCILE_HOUR_PLAYS
SELECT COALESCE(h.activity_date, a.activity_date) AS activity_date, COALESCE(h.hour, a.hour) AS hour,
       h.plays, a.plays AS event_plays
FROM (SELECT activity_date, hour, MAX(plays) AS plays, COUNT(*) AS copies
      FROM hour_plays
      WHERE activity_date IS NOT NULL AND hour IS NOT NULL
      GROUP BY activity_date, hour) h
FULL JOIN (SELECT event_date AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND event_date IS NOT NULL AND start_time IS NOT NULL
           GROUP BY event_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) a
       ON a.activity_date = h.activity_date AND a.hour = h.hour
LEFT JOIN (SELECT CAST(start_time AS DATE) AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM songplays
           WHERE start_time IS NOT NULL
           GROUP BY CAST(start_time AS DATE), CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) p
       ON p.activity_date = COALESCE(h.activity_date, a.activity_date) AND p.hour = COALESCE(h.hour, a.hour)
WHERE COALESCE(h.copies, 1) = 1
  AND CASE WHEN h.plays = a.plays OR (h.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
  AND CASE WHEN (a.plays IS NULL AND p.plays IS NULL) OR a.plays = p.plays THEN 1 ELSE 0 END = 1;

-- CHECKS['null_keys_songplays'][1]
SELECT songplay_id, start_time, session_id, item_in_session,
       SUBSTRING(CASE WHEN songplay_id IS NULL THEN ', songplay_id' ELSE '' END
           || CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END FROM 3) AS null_columns
FROM songplays
WHERE songplay_id IS NULL
   OR start_time IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL;

-- CHECKS['null_keys_users'][1]
SELECT user_id, level,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END FROM 3) AS null_columns
FROM users
WHERE user_id IS NULL
   OR level IS NULL;

-- CHECKS['null_keys_songs'][1]
SELECT song_id, title, artist_id,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL;

-- CHECKS['null_keys_artists'][1]
SELECT artist_id, name,
       SUBSTRING(CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END
           || CASE WHEN name IS NULL THEN ', name' ELSE '' END FROM 3) AS null_columns
FROM artists
WHERE artist_id IS NULL
   OR name IS NULL;

-- CHECKS['null_keys_time'][1]
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN day IS NULL THEN ', day' ELSE '' END
           || CASE WHEN week IS NULL THEN ', week' ELSE '' END
           || CASE WHEN month IS NULL THEN ', month' ELSE '' END
           || CASE WHEN year IS NULL THEN ', year' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM time
WHERE start_time IS NULL
   OR hour IS NULL
   OR day IS NULL
   OR week IS NULL
   OR month IS NULL
   OR year IS NULL
   OR weekday IS NULL;

-- CHECKS['null_keys_staging_events'][1]
SELECT ts, session_id, item_in_session, page, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN ts IS NULL THEN ', ts' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END FROM 3) AS null_columns
FROM staging_events
WHERE ts IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL;

-- CHECKS['null_keys_staging_songs'][1]
SELECT song_id, title, artist_id, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM staging_songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL;

-- CHECKS['null_keys_app_events'][1]
SELECT start_time, event_date, session_id, item_in_session, page, run_id,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN event_date IS NULL THEN ', event_date' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END
           || CASE WHEN run_id IS NULL THEN ', run_id' ELSE '' END FROM 3) AS null_columns
FROM app_events
WHERE start_time IS NULL
   OR event_date IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
   OR run_id IS NULL;

-- CHECKS['null_keys_user_levels'][1]
SELECT user_id, level, valid_from,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END
           || CASE WHEN valid_from IS NULL THEN ', valid_from' ELSE '' END FROM 3) AS null_columns
FROM user_levels
WHERE user_id IS NULL
   OR level IS NULL
   OR valid_from IS NULL;

-- CHECKS['null_keys_devices'][1]
SELECT user_agent,
       SUBSTRING(CASE WHEN user_agent IS NULL THEN ', user_agent' ELSE '' END FROM 3) AS null_columns
FROM devices
WHERE user_agent IS NULL;

-- CHECKS['null_keys_user_days'][1]
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_days
WHERE user_id IS NULL
   OR activity_date IS NULL;

-- CHECKS['null_keys_user_sessions'][1]
SELECT user_id, session_id, started_at, ended_at,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN started_at IS NULL THEN ', started_at' ELSE '' END
           || CASE WHEN ended_at IS NULL THEN ', ended_at' ELSE '' END FROM 3) AS null_columns
FROM user_sessions
WHERE user_id IS NULL
   OR session_id IS NULL
   OR started_at IS NULL
   OR ended_at IS NULL;

-- CHECKS['null_keys_song_days'][1]
SELECT activity_date, song, artist,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_days
WHERE activity_date IS NULL
   OR song IS NULL
   OR artist IS NULL;

-- CHECKS['null_keys_hour_plays'][1]
SELECT activity_date, hour, weekday,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM hour_plays
WHERE activity_date IS NULL
   OR hour IS NULL
   OR weekday IS NULL;

-- CHECKS['null_keys_user_day_places'][1]
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_day_places
WHERE user_id IS NULL
   OR activity_date IS NULL;

-- CHECKS['null_keys_song_totals'][1]
SELECT song, artist,
       SUBSTRING(CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_totals
WHERE song IS NULL
   OR artist IS NULL;

-- CHECKS['dup_songplays_event'][1]
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM songplays
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1;

-- CHECKS['dup_songplays_songplay_id'][1]
SELECT songplay_id, COUNT(*) AS copies
FROM songplays
WHERE songplay_id IS NOT NULL
GROUP BY songplay_id
HAVING COUNT(*) > 1;

-- CHECKS['dup_users_user_id'][1]
SELECT user_id, COUNT(*) AS copies
FROM users
WHERE user_id IS NOT NULL
GROUP BY user_id
HAVING COUNT(*) > 1;

-- CHECKS['dup_songs_song_id'][1]
SELECT song_id, COUNT(*) AS copies
FROM songs
WHERE song_id IS NOT NULL
GROUP BY song_id
HAVING COUNT(*) > 1;

-- CHECKS['dup_artists_artist_id'][1]
SELECT artist_id, COUNT(*) AS copies
FROM artists
WHERE artist_id IS NOT NULL
GROUP BY artist_id
HAVING COUNT(*) > 1;

-- CHECKS['dup_time_start_time'][1]
SELECT start_time, COUNT(*) AS copies
FROM time
WHERE start_time IS NOT NULL
GROUP BY start_time
HAVING COUNT(*) > 1;

-- CHECKS['dup_app_events_event'][1]
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM app_events
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1;

-- CHECKS['dup_user_levels_period'][1]
SELECT user_id, valid_from, COUNT(*) AS copies
FROM user_levels
WHERE user_id IS NOT NULL AND valid_from IS NOT NULL
GROUP BY user_id, valid_from
HAVING COUNT(*) > 1;

-- CHECKS['dup_devices_user_agent'][1]
SELECT user_agent, COUNT(*) AS copies
FROM devices
WHERE user_agent IS NOT NULL
GROUP BY user_agent
HAVING COUNT(*) > 1;

-- CHECKS['dup_user_days_user_day'][1]
SELECT user_id, activity_date, COUNT(*) AS copies
FROM user_days
WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
GROUP BY user_id, activity_date
HAVING COUNT(*) > 1;

-- CHECKS['dup_user_sessions_session'][1]
SELECT user_id, session_id, COUNT(*) AS copies
FROM user_sessions
WHERE user_id IS NOT NULL AND session_id IS NOT NULL
GROUP BY user_id, session_id
HAVING COUNT(*) > 1;

-- CHECKS['dup_song_days_song_day'][1]
SELECT activity_date, song, artist, COUNT(*) AS copies
FROM song_days
WHERE activity_date IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
GROUP BY activity_date, song, artist
HAVING COUNT(*) > 1;

-- CHECKS['dup_hour_plays_hour'][1]
SELECT activity_date, hour, COUNT(*) AS copies
FROM hour_plays
WHERE activity_date IS NOT NULL AND hour IS NOT NULL
GROUP BY activity_date, hour
HAVING COUNT(*) > 1;

-- CHECKS['dup_song_totals_song'][1]
SELECT song, artist, COUNT(*) AS copies
FROM song_totals
WHERE song IS NOT NULL AND artist IS NOT NULL
GROUP BY song, artist
HAVING COUNT(*) > 1;

-- CHECKS['orphan_songplays_user_id'][1]
SELECT p.songplay_id, p.user_id
FROM songplays p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.user_id IS NOT NULL AND u.user_id IS NULL;

-- CHECKS['orphan_songplays_start_time'][1]
SELECT p.songplay_id, p.start_time
FROM songplays p
LEFT JOIN time t ON t.start_time = p.start_time
WHERE p.start_time IS NOT NULL AND t.start_time IS NULL;

-- CHECKS['orphan_songplays_song_id'][1]
SELECT p.songplay_id, p.song_id
FROM songplays p
LEFT JOIN songs s ON s.song_id = p.song_id
WHERE p.song_id IS NOT NULL AND s.song_id IS NULL;

-- CHECKS['orphan_songplays_artist_id'][1]
SELECT p.songplay_id, p.artist_id
FROM songplays p
LEFT JOIN artists a ON a.artist_id = p.artist_id
WHERE p.artist_id IS NOT NULL AND a.artist_id IS NULL;

-- CHECKS['orphan_songs_artist_id'][1]
SELECT s.song_id, s.title, s.artist_id
FROM songs s
LEFT JOIN artists a ON a.artist_id = s.artist_id
WHERE s.artist_id IS NOT NULL AND a.artist_id IS NULL;

-- CHECKS['accepted_users_level'][1]
SELECT user_id, level
FROM users
WHERE level NOT IN ('free', 'paid');

-- CHECKS['accepted_songplays_level'][1]
SELECT songplay_id, user_id, level
FROM songplays
WHERE level IS NULL OR level NOT IN ('free', 'paid');

-- CHECKS['accepted_songplays_user_id'][1]
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time, a.user_id AS event_user_id
FROM songplays p
JOIN app_events a
  ON a.session_id = p.session_id AND a.item_in_session = p.item_in_session AND a.start_time = p.start_time
WHERE p.user_id IS NULL AND a.user_id IS NOT NULL;

-- CHECKS['accepted_users_gender'][1]
SELECT user_id, gender
FROM users
WHERE gender NOT IN ('M', 'F');

-- CHECKS['accepted_time_parts'][1]
SELECT start_time, hour, day, week, month, weekday,
       SUBSTRING(CASE WHEN hour NOT BETWEEN 0 AND 23 THEN ', hour' ELSE '' END
           || CASE WHEN day NOT BETWEEN 1 AND 31 THEN ', day' ELSE '' END
           || CASE WHEN week NOT BETWEEN 1 AND 53 THEN ', week' ELSE '' END
           || CASE WHEN month NOT BETWEEN 1 AND 12 THEN ', month' ELSE '' END
           || CASE WHEN weekday NOT BETWEEN 1 AND 7 THEN ', weekday' ELSE '' END FROM 3) AS out_of_range
FROM time
WHERE hour NOT BETWEEN 0 AND 23
   OR day NOT BETWEEN 1 AND 31
   OR week NOT BETWEEN 1 AND 53
   OR month NOT BETWEEN 1 AND 12
   OR weekday NOT BETWEEN 1 AND 7;

-- CHECKS['consistent_time_parts'][1]
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time) THEN ', hour' ELSE '' END
           || CASE WHEN day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time) THEN ', day' ELSE '' END
           || CASE WHEN week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time) THEN ', week' ELSE '' END
           || CASE WHEN month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time) THEN ', month' ELSE '' END
           || CASE WHEN year <> EXTRACT(year FROM start_time) THEN ', year' ELSE '' END
           || CASE WHEN weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1 THEN ', weekday' ELSE '' END FROM 3) AS disagreeing
FROM time
WHERE (hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time))
   OR (day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time))
   OR (week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time))
   OR (month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time))
   OR (year <> EXTRACT(year FROM start_time))
   OR (weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1);

-- CHECKS['reconcile_staged_not_in_songplays'][1]
SELECT DISTINCT e.session_id, e.item_in_session, e.start_time
FROM (SELECT session_id, item_in_session, TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS start_time
      FROM staging_events
      WHERE page = 'NextSong') e
WHERE NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
       AND p.start_time = e.start_time);

-- CHECKS['reconcile_songplays_not_staged'][1]
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
  AND p.session_id IS NOT NULL AND p.item_in_session IS NOT NULL AND p.start_time IS NOT NULL;

-- CHECKS['reconcile_app_events_not_in_songplays'][1]
SELECT a.session_id, a.item_in_session, a.start_time, a.run_id
FROM app_events a
WHERE a.page = 'NextSong'
  AND NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = a.session_id AND p.item_in_session = a.item_in_session
       AND p.start_time = a.start_time)
  AND NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = a.session_id
       AND e.item_in_session = a.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = a.start_time)
  AND a.session_id IS NOT NULL AND a.item_in_session IS NOT NULL AND a.start_time IS NOT NULL;

-- CHECKS['reconcile_songplays_not_in_app_events'][1]
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.session_id = p.session_id AND a.item_in_session = p.item_in_session
                    AND a.start_time = p.start_time AND a.page = 'NextSong')
  AND EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time);

-- CHECKS['orphan_app_events_user_id'][1]
SELECT t.user_id, COUNT(*) AS row_count
FROM app_events t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id;

-- CHECKS['orphan_user_levels_user_id'][1]
SELECT t.user_id, COUNT(*) AS row_count
FROM user_levels t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id;

-- CHECKS['orphan_user_days_user_id'][1]
SELECT t.user_id, COUNT(*) AS row_count
FROM user_days t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id;

-- CHECKS['orphan_user_sessions_user_id'][1]
SELECT t.user_id, COUNT(*) AS row_count
FROM user_sessions t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id;

-- CHECKS['adjacent_user_levels_same_level'][1]
SELECT l.user_id, l.level, l.valid_from, l.valid_to, n.valid_from AS next_from
FROM user_levels l
JOIN user_levels n ON n.user_id = l.user_id AND n.valid_from = l.valid_to AND n.level = l.level
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.user_id = l.user_id AND a.start_time = l.valid_to
                    AND a.page = 'Cancellation Confirmation');

-- CHECKS['orphan_app_events_user_agent'][1]
SELECT a.user_agent, COUNT(*) AS events
FROM app_events a
LEFT JOIN devices d ON d.user_agent = a.user_agent
WHERE a.user_agent IS NOT NULL AND d.user_agent IS NULL
GROUP BY a.user_agent;

-- CHECKS['reconcile_table_rows'][1]
SELECT 'songplays' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songplays) c
LEFT JOIN table_rows k ON k.table_name = 'songplays'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'users' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM users) c
LEFT JOIN table_rows k ON k.table_name = 'users'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'songs' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songs) c
LEFT JOIN table_rows k ON k.table_name = 'songs'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'artists' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM artists) c
LEFT JOIN table_rows k ON k.table_name = 'artists'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'time' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM time) c
LEFT JOIN table_rows k ON k.table_name = 'time'
WHERE k.row_count <> c.row_count;

-- CHECK_COUNT (CHECKS['null_keys_songplays'])
SELECT COUNT(*) FROM (
SELECT songplay_id, start_time, session_id, item_in_session,
       SUBSTRING(CASE WHEN songplay_id IS NULL THEN ', songplay_id' ELSE '' END
           || CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END FROM 3) AS null_columns
FROM songplays
WHERE songplay_id IS NULL
   OR start_time IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_users'])
SELECT COUNT(*) FROM (
SELECT user_id, level,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END FROM 3) AS null_columns
FROM users
WHERE user_id IS NULL
   OR level IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_songs'])
SELECT COUNT(*) FROM (
SELECT song_id, title, artist_id,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_artists'])
SELECT COUNT(*) FROM (
SELECT artist_id, name,
       SUBSTRING(CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END
           || CASE WHEN name IS NULL THEN ', name' ELSE '' END FROM 3) AS null_columns
FROM artists
WHERE artist_id IS NULL
   OR name IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_time'])
SELECT COUNT(*) FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN day IS NULL THEN ', day' ELSE '' END
           || CASE WHEN week IS NULL THEN ', week' ELSE '' END
           || CASE WHEN month IS NULL THEN ', month' ELSE '' END
           || CASE WHEN year IS NULL THEN ', year' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM time
WHERE start_time IS NULL
   OR hour IS NULL
   OR day IS NULL
   OR week IS NULL
   OR month IS NULL
   OR year IS NULL
   OR weekday IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_staging_events'])
SELECT COUNT(*) FROM (
SELECT ts, session_id, item_in_session, page, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN ts IS NULL THEN ', ts' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END FROM 3) AS null_columns
FROM staging_events
WHERE ts IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_staging_songs'])
SELECT COUNT(*) FROM (
SELECT song_id, title, artist_id, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM staging_songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_app_events'])
SELECT COUNT(*) FROM (
SELECT start_time, event_date, session_id, item_in_session, page, run_id,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN event_date IS NULL THEN ', event_date' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END
           || CASE WHEN run_id IS NULL THEN ', run_id' ELSE '' END FROM 3) AS null_columns
FROM app_events
WHERE start_time IS NULL
   OR event_date IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
   OR run_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_user_levels'])
SELECT COUNT(*) FROM (
SELECT user_id, level, valid_from,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END
           || CASE WHEN valid_from IS NULL THEN ', valid_from' ELSE '' END FROM 3) AS null_columns
FROM user_levels
WHERE user_id IS NULL
   OR level IS NULL
   OR valid_from IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_devices'])
SELECT COUNT(*) FROM (
SELECT user_agent,
       SUBSTRING(CASE WHEN user_agent IS NULL THEN ', user_agent' ELSE '' END FROM 3) AS null_columns
FROM devices
WHERE user_agent IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_user_days'])
SELECT COUNT(*) FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_days
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_user_sessions'])
SELECT COUNT(*) FROM (
SELECT user_id, session_id, started_at, ended_at,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN started_at IS NULL THEN ', started_at' ELSE '' END
           || CASE WHEN ended_at IS NULL THEN ', ended_at' ELSE '' END FROM 3) AS null_columns
FROM user_sessions
WHERE user_id IS NULL
   OR session_id IS NULL
   OR started_at IS NULL
   OR ended_at IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_song_days'])
SELECT COUNT(*) FROM (
SELECT activity_date, song, artist,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_days
WHERE activity_date IS NULL
   OR song IS NULL
   OR artist IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_hour_plays'])
SELECT COUNT(*) FROM (
SELECT activity_date, hour, weekday,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM hour_plays
WHERE activity_date IS NULL
   OR hour IS NULL
   OR weekday IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_user_day_places'])
SELECT COUNT(*) FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_day_places
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending;

-- CHECK_COUNT (CHECKS['null_keys_song_totals'])
SELECT COUNT(*) FROM (
SELECT song, artist,
       SUBSTRING(CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_totals
WHERE song IS NULL
   OR artist IS NULL
) offending;

-- CHECK_COUNT (CHECKS['dup_songplays_event'])
SELECT COUNT(*) FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM songplays
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_songplays_songplay_id'])
SELECT COUNT(*) FROM (
SELECT songplay_id, COUNT(*) AS copies
FROM songplays
WHERE songplay_id IS NOT NULL
GROUP BY songplay_id
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_users_user_id'])
SELECT COUNT(*) FROM (
SELECT user_id, COUNT(*) AS copies
FROM users
WHERE user_id IS NOT NULL
GROUP BY user_id
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_songs_song_id'])
SELECT COUNT(*) FROM (
SELECT song_id, COUNT(*) AS copies
FROM songs
WHERE song_id IS NOT NULL
GROUP BY song_id
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_artists_artist_id'])
SELECT COUNT(*) FROM (
SELECT artist_id, COUNT(*) AS copies
FROM artists
WHERE artist_id IS NOT NULL
GROUP BY artist_id
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_time_start_time'])
SELECT COUNT(*) FROM (
SELECT start_time, COUNT(*) AS copies
FROM time
WHERE start_time IS NOT NULL
GROUP BY start_time
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_app_events_event'])
SELECT COUNT(*) FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM app_events
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_user_levels_period'])
SELECT COUNT(*) FROM (
SELECT user_id, valid_from, COUNT(*) AS copies
FROM user_levels
WHERE user_id IS NOT NULL AND valid_from IS NOT NULL
GROUP BY user_id, valid_from
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_devices_user_agent'])
SELECT COUNT(*) FROM (
SELECT user_agent, COUNT(*) AS copies
FROM devices
WHERE user_agent IS NOT NULL
GROUP BY user_agent
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_user_days_user_day'])
SELECT COUNT(*) FROM (
SELECT user_id, activity_date, COUNT(*) AS copies
FROM user_days
WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
GROUP BY user_id, activity_date
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_user_sessions_session'])
SELECT COUNT(*) FROM (
SELECT user_id, session_id, COUNT(*) AS copies
FROM user_sessions
WHERE user_id IS NOT NULL AND session_id IS NOT NULL
GROUP BY user_id, session_id
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_song_days_song_day'])
SELECT COUNT(*) FROM (
SELECT activity_date, song, artist, COUNT(*) AS copies
FROM song_days
WHERE activity_date IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
GROUP BY activity_date, song, artist
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_hour_plays_hour'])
SELECT COUNT(*) FROM (
SELECT activity_date, hour, COUNT(*) AS copies
FROM hour_plays
WHERE activity_date IS NOT NULL AND hour IS NOT NULL
GROUP BY activity_date, hour
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['dup_song_totals_song'])
SELECT COUNT(*) FROM (
SELECT song, artist, COUNT(*) AS copies
FROM song_totals
WHERE song IS NOT NULL AND artist IS NOT NULL
GROUP BY song, artist
HAVING COUNT(*) > 1
) offending;

-- CHECK_COUNT (CHECKS['orphan_songplays_user_id'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.user_id
FROM songplays p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.user_id IS NOT NULL AND u.user_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['orphan_songplays_start_time'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.start_time
FROM songplays p
LEFT JOIN time t ON t.start_time = p.start_time
WHERE p.start_time IS NOT NULL AND t.start_time IS NULL
) offending;

-- CHECK_COUNT (CHECKS['orphan_songplays_song_id'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.song_id
FROM songplays p
LEFT JOIN songs s ON s.song_id = p.song_id
WHERE p.song_id IS NOT NULL AND s.song_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['orphan_songplays_artist_id'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.artist_id
FROM songplays p
LEFT JOIN artists a ON a.artist_id = p.artist_id
WHERE p.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['orphan_songs_artist_id'])
SELECT COUNT(*) FROM (
SELECT s.song_id, s.title, s.artist_id
FROM songs s
LEFT JOIN artists a ON a.artist_id = s.artist_id
WHERE s.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending;

-- CHECK_COUNT (CHECKS['accepted_users_level'])
SELECT COUNT(*) FROM (
SELECT user_id, level
FROM users
WHERE level NOT IN ('free', 'paid')
) offending;

-- CHECK_COUNT (CHECKS['accepted_songplays_level'])
SELECT COUNT(*) FROM (
SELECT songplay_id, user_id, level
FROM songplays
WHERE level IS NULL OR level NOT IN ('free', 'paid')
) offending;

-- CHECK_COUNT (CHECKS['accepted_songplays_user_id'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time, a.user_id AS event_user_id
FROM songplays p
JOIN app_events a
  ON a.session_id = p.session_id AND a.item_in_session = p.item_in_session AND a.start_time = p.start_time
WHERE p.user_id IS NULL AND a.user_id IS NOT NULL
) offending;

-- CHECK_COUNT (CHECKS['accepted_users_gender'])
SELECT COUNT(*) FROM (
SELECT user_id, gender
FROM users
WHERE gender NOT IN ('M', 'F')
) offending;

-- CHECK_COUNT (CHECKS['accepted_time_parts'])
SELECT COUNT(*) FROM (
SELECT start_time, hour, day, week, month, weekday,
       SUBSTRING(CASE WHEN hour NOT BETWEEN 0 AND 23 THEN ', hour' ELSE '' END
           || CASE WHEN day NOT BETWEEN 1 AND 31 THEN ', day' ELSE '' END
           || CASE WHEN week NOT BETWEEN 1 AND 53 THEN ', week' ELSE '' END
           || CASE WHEN month NOT BETWEEN 1 AND 12 THEN ', month' ELSE '' END
           || CASE WHEN weekday NOT BETWEEN 1 AND 7 THEN ', weekday' ELSE '' END FROM 3) AS out_of_range
FROM time
WHERE hour NOT BETWEEN 0 AND 23
   OR day NOT BETWEEN 1 AND 31
   OR week NOT BETWEEN 1 AND 53
   OR month NOT BETWEEN 1 AND 12
   OR weekday NOT BETWEEN 1 AND 7
) offending;

-- CHECK_COUNT (CHECKS['consistent_time_parts'])
SELECT COUNT(*) FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time) THEN ', hour' ELSE '' END
           || CASE WHEN day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time) THEN ', day' ELSE '' END
           || CASE WHEN week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time) THEN ', week' ELSE '' END
           || CASE WHEN month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time) THEN ', month' ELSE '' END
           || CASE WHEN year <> EXTRACT(year FROM start_time) THEN ', year' ELSE '' END
           || CASE WHEN weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1 THEN ', weekday' ELSE '' END FROM 3) AS disagreeing
FROM time
WHERE (hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time))
   OR (day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time))
   OR (week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time))
   OR (month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time))
   OR (year <> EXTRACT(year FROM start_time))
   OR (weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1)
) offending;

-- CHECK_COUNT (CHECKS['reconcile_staged_not_in_songplays'])
SELECT COUNT(*) FROM (
SELECT DISTINCT e.session_id, e.item_in_session, e.start_time
FROM (SELECT session_id, item_in_session, TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS start_time
      FROM staging_events
      WHERE page = 'NextSong') e
WHERE NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
       AND p.start_time = e.start_time)
) offending;

-- CHECK_COUNT (CHECKS['reconcile_songplays_not_staged'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
  AND p.session_id IS NOT NULL AND p.item_in_session IS NOT NULL AND p.start_time IS NOT NULL
) offending;

-- CHECK_COUNT (CHECKS['reconcile_app_events_not_in_songplays'])
SELECT COUNT(*) FROM (
SELECT a.session_id, a.item_in_session, a.start_time, a.run_id
FROM app_events a
WHERE a.page = 'NextSong'
  AND NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = a.session_id AND p.item_in_session = a.item_in_session
       AND p.start_time = a.start_time)
  AND NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = a.session_id
       AND e.item_in_session = a.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = a.start_time)
  AND a.session_id IS NOT NULL AND a.item_in_session IS NOT NULL AND a.start_time IS NOT NULL
) offending;

-- CHECK_COUNT (CHECKS['reconcile_songplays_not_in_app_events'])
SELECT COUNT(*) FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.session_id = p.session_id AND a.item_in_session = p.item_in_session
                    AND a.start_time = p.start_time AND a.page = 'NextSong')
  AND EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
) offending;

-- CHECK_COUNT (CHECKS['orphan_app_events_user_id'])
SELECT COUNT(*) FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM app_events t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending;

-- CHECK_COUNT (CHECKS['orphan_user_levels_user_id'])
SELECT COUNT(*) FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_levels t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending;

-- CHECK_COUNT (CHECKS['orphan_user_days_user_id'])
SELECT COUNT(*) FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_days t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending;

-- CHECK_COUNT (CHECKS['orphan_user_sessions_user_id'])
SELECT COUNT(*) FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_sessions t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending;

-- CHECK_COUNT (CHECKS['adjacent_user_levels_same_level'])
SELECT COUNT(*) FROM (
SELECT l.user_id, l.level, l.valid_from, l.valid_to, n.valid_from AS next_from
FROM user_levels l
JOIN user_levels n ON n.user_id = l.user_id AND n.valid_from = l.valid_to AND n.level = l.level
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.user_id = l.user_id AND a.start_time = l.valid_to
                    AND a.page = 'Cancellation Confirmation')
) offending;

-- CHECK_COUNT (CHECKS['orphan_app_events_user_agent'])
SELECT COUNT(*) FROM (
SELECT a.user_agent, COUNT(*) AS events
FROM app_events a
LEFT JOIN devices d ON d.user_agent = a.user_agent
WHERE a.user_agent IS NOT NULL AND d.user_agent IS NULL
GROUP BY a.user_agent
) offending;

-- CHECK_COUNT (CHECKS['reconcile_table_rows'])
SELECT COUNT(*) FROM (SELECT 'songplays' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songplays) c
LEFT JOIN table_rows k ON k.table_name = 'songplays'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'users' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM users) c
LEFT JOIN table_rows k ON k.table_name = 'users'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'songs' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songs) c
LEFT JOIN table_rows k ON k.table_name = 'songs'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'artists' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM artists) c
LEFT JOIN table_rows k ON k.table_name = 'artists'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'time' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM time) c
LEFT JOIN table_rows k ON k.table_name = 'time'
WHERE k.row_count <> c.row_count
) offending;

-- CHECK_COUNT (CHECKS['reconcile_user_day_places_app_events'])
SELECT COUNT(*) FROM (
SELECT COALESCE(p.user_id, a.user_id) AS user_id, COALESCE(p.activity_date, a.activity_date) AS activity_date,
       p.events AS place_events, a.events,
       p.plays AS place_plays, a.plays,
       p.paid_events AS place_paid_events, a.paid_events,
       p.first_free_play AS place_first_free_play, a.first_free_play,
       p.step_events AS place_step_events, a.step_events,
       p.last_step_at AS place_last_step_at, a.last_step_at,
       SUBSTRING(CASE WHEN CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', events' ELSE '' END
           || CASE WHEN CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', paid_events' ELSE '' END
           || CASE WHEN CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1 THEN ', first_free_play' ELSE '' END
           || CASE WHEN CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', step_events' ELSE '' END
           || CASE WHEN CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1 THEN ', last_step_at' ELSE '' END FROM 3) AS differing
FROM (SELECT user_id, activity_date,
             SUM(events) AS events,
             SUM(plays) AS plays,
             SUM(paid_events) AS paid_events,
             MIN(first_free_play) AS first_free_play,
             SUM(CASE WHEN step_page IS NOT NULL THEN events ELSE 0 END) AS step_events,
             MAX(step_time) AS last_step_at
      FROM user_day_places
      WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
      GROUP BY user_id, activity_date) p
FULL JOIN (SELECT user_id, event_date AS activity_date,
                  COUNT(*) AS events,
                  SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
                  SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events,
                  MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
                  SUM(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN 1 ELSE 0 END) AS step_events,
                  MAX(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN start_time END) AS last_step_at
           FROM app_events
           WHERE user_id IS NOT NULL AND event_date IS NOT NULL
           GROUP BY user_id, event_date) a
       ON a.user_id = p.user_id AND a.activity_date = p.activity_date
LEFT JOIN user_days d
       ON d.user_id = COALESCE(p.user_id, a.user_id) AND d.activity_date = COALESCE(p.activity_date, a.activity_date)
WHERE (CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (a.user_id IS NULL AND d.user_id IS NULL) OR (d.events = a.events AND d.plays = a.plays)
           THEN 1 ELSE 0 END = 1
) offending;

-- CHECK_COUNT (CHECKS['reconcile_song_totals_song_days'])
SELECT COUNT(*) FROM (
SELECT COALESCE(t.song, d.song) AS song, COALESCE(t.artist, d.artist) AS artist,
       t.plays, d.plays AS day_plays, t.song_id, d.song_id AS day_song_id,
       SUBSTRING(CASE WHEN t.song IS NULL THEN ', not_in_song_totals' ELSE '' END
           || CASE WHEN d.song IS NULL THEN ', not_in_song_days' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1 THEN ', song_id' ELSE '' END FROM 3) AS differing
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
  AND (t.song IS NULL
   OR d.song IS NULL
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (d.song IS NULL AND e.song IS NULL) OR d.plays = e.plays THEN 1 ELSE 0 END = 1
) offending;

-- CHECK_COUNT (CHECKS['reconcile_hour_plays_app_events'])
SELECT COUNT(*) FROM (
SELECT COALESCE(h.activity_date, a.activity_date) AS activity_date, COALESCE(h.hour, a.hour) AS hour,
       h.plays, a.plays AS event_plays
FROM (SELECT activity_date, hour, MAX(plays) AS plays, COUNT(*) AS copies
      FROM hour_plays
      WHERE activity_date IS NOT NULL AND hour IS NOT NULL
      GROUP BY activity_date, hour) h
FULL JOIN (SELECT event_date AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND event_date IS NOT NULL AND start_time IS NOT NULL
           GROUP BY event_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) a
       ON a.activity_date = h.activity_date AND a.hour = h.hour
LEFT JOIN (SELECT CAST(start_time AS DATE) AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM songplays
           WHERE start_time IS NOT NULL
           GROUP BY CAST(start_time AS DATE), CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) p
       ON p.activity_date = COALESCE(h.activity_date, a.activity_date) AND p.hour = COALESCE(h.hour, a.hour)
WHERE COALESCE(h.copies, 1) = 1
  AND CASE WHEN h.plays = a.plays OR (h.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
  AND CASE WHEN (a.plays IS NULL AND p.plays IS NULL) OR a.plays = p.plays THEN 1 ELSE 0 END = 1
) offending;

-- CHECK_COUNT (WARNINGS['events_after_load'])
SELECT COUNT(*) FROM (
SELECT e.run_id, e.object_id, e.source_line, TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       r.started_at AS run_started_at
FROM staging_events e
JOIN etl_runs r ON r.run_id = e.run_id
WHERE TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' > r.started_at
) offending;

-- CHECK_EXAMPLES (CHECKS['null_keys_songplays'])
SELECT * FROM (
SELECT songplay_id, start_time, session_id, item_in_session,
       SUBSTRING(CASE WHEN songplay_id IS NULL THEN ', songplay_id' ELSE '' END
           || CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END FROM 3) AS null_columns
FROM songplays
WHERE songplay_id IS NULL
   OR start_time IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_users'])
SELECT * FROM (
SELECT user_id, level,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END FROM 3) AS null_columns
FROM users
WHERE user_id IS NULL
   OR level IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_songs'])
SELECT * FROM (
SELECT song_id, title, artist_id,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_artists'])
SELECT * FROM (
SELECT artist_id, name,
       SUBSTRING(CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END
           || CASE WHEN name IS NULL THEN ', name' ELSE '' END FROM 3) AS null_columns
FROM artists
WHERE artist_id IS NULL
   OR name IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_time'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN day IS NULL THEN ', day' ELSE '' END
           || CASE WHEN week IS NULL THEN ', week' ELSE '' END
           || CASE WHEN month IS NULL THEN ', month' ELSE '' END
           || CASE WHEN year IS NULL THEN ', year' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM time
WHERE start_time IS NULL
   OR hour IS NULL
   OR day IS NULL
   OR week IS NULL
   OR month IS NULL
   OR year IS NULL
   OR weekday IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_staging_events'])
SELECT * FROM (
SELECT ts, session_id, item_in_session, page, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN ts IS NULL THEN ', ts' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END FROM 3) AS null_columns
FROM staging_events
WHERE ts IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_staging_songs'])
SELECT * FROM (
SELECT song_id, title, artist_id, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM staging_songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_app_events'])
SELECT * FROM (
SELECT start_time, event_date, session_id, item_in_session, page, run_id,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN event_date IS NULL THEN ', event_date' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END
           || CASE WHEN run_id IS NULL THEN ', run_id' ELSE '' END FROM 3) AS null_columns
FROM app_events
WHERE start_time IS NULL
   OR event_date IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
   OR run_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_user_levels'])
SELECT * FROM (
SELECT user_id, level, valid_from,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END
           || CASE WHEN valid_from IS NULL THEN ', valid_from' ELSE '' END FROM 3) AS null_columns
FROM user_levels
WHERE user_id IS NULL
   OR level IS NULL
   OR valid_from IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_devices'])
SELECT * FROM (
SELECT user_agent,
       SUBSTRING(CASE WHEN user_agent IS NULL THEN ', user_agent' ELSE '' END FROM 3) AS null_columns
FROM devices
WHERE user_agent IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_user_days'])
SELECT * FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_days
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_user_sessions'])
SELECT * FROM (
SELECT user_id, session_id, started_at, ended_at,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN started_at IS NULL THEN ', started_at' ELSE '' END
           || CASE WHEN ended_at IS NULL THEN ', ended_at' ELSE '' END FROM 3) AS null_columns
FROM user_sessions
WHERE user_id IS NULL
   OR session_id IS NULL
   OR started_at IS NULL
   OR ended_at IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_song_days'])
SELECT * FROM (
SELECT activity_date, song, artist,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_days
WHERE activity_date IS NULL
   OR song IS NULL
   OR artist IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_hour_plays'])
SELECT * FROM (
SELECT activity_date, hour, weekday,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM hour_plays
WHERE activity_date IS NULL
   OR hour IS NULL
   OR weekday IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_user_day_places'])
SELECT * FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_day_places
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['null_keys_song_totals'])
SELECT * FROM (
SELECT song, artist,
       SUBSTRING(CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_totals
WHERE song IS NULL
   OR artist IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_songplays_event'])
SELECT * FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM songplays
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_songplays_songplay_id'])
SELECT * FROM (
SELECT songplay_id, COUNT(*) AS copies
FROM songplays
WHERE songplay_id IS NOT NULL
GROUP BY songplay_id
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_users_user_id'])
SELECT * FROM (
SELECT user_id, COUNT(*) AS copies
FROM users
WHERE user_id IS NOT NULL
GROUP BY user_id
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_songs_song_id'])
SELECT * FROM (
SELECT song_id, COUNT(*) AS copies
FROM songs
WHERE song_id IS NOT NULL
GROUP BY song_id
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_artists_artist_id'])
SELECT * FROM (
SELECT artist_id, COUNT(*) AS copies
FROM artists
WHERE artist_id IS NOT NULL
GROUP BY artist_id
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_time_start_time'])
SELECT * FROM (
SELECT start_time, COUNT(*) AS copies
FROM time
WHERE start_time IS NOT NULL
GROUP BY start_time
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_app_events_event'])
SELECT * FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM app_events
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_user_levels_period'])
SELECT * FROM (
SELECT user_id, valid_from, COUNT(*) AS copies
FROM user_levels
WHERE user_id IS NOT NULL AND valid_from IS NOT NULL
GROUP BY user_id, valid_from
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_devices_user_agent'])
SELECT * FROM (
SELECT user_agent, COUNT(*) AS copies
FROM devices
WHERE user_agent IS NOT NULL
GROUP BY user_agent
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_user_days_user_day'])
SELECT * FROM (
SELECT user_id, activity_date, COUNT(*) AS copies
FROM user_days
WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
GROUP BY user_id, activity_date
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_user_sessions_session'])
SELECT * FROM (
SELECT user_id, session_id, COUNT(*) AS copies
FROM user_sessions
WHERE user_id IS NOT NULL AND session_id IS NOT NULL
GROUP BY user_id, session_id
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_song_days_song_day'])
SELECT * FROM (
SELECT activity_date, song, artist, COUNT(*) AS copies
FROM song_days
WHERE activity_date IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
GROUP BY activity_date, song, artist
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_hour_plays_hour'])
SELECT * FROM (
SELECT activity_date, hour, COUNT(*) AS copies
FROM hour_plays
WHERE activity_date IS NOT NULL AND hour IS NOT NULL
GROUP BY activity_date, hour
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['dup_song_totals_song'])
SELECT * FROM (
SELECT song, artist, COUNT(*) AS copies
FROM song_totals
WHERE song IS NOT NULL AND artist IS NOT NULL
GROUP BY song, artist
HAVING COUNT(*) > 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_songplays_user_id'])
SELECT * FROM (
SELECT p.songplay_id, p.user_id
FROM songplays p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.user_id IS NOT NULL AND u.user_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_songplays_start_time'])
SELECT * FROM (
SELECT p.songplay_id, p.start_time
FROM songplays p
LEFT JOIN time t ON t.start_time = p.start_time
WHERE p.start_time IS NOT NULL AND t.start_time IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_songplays_song_id'])
SELECT * FROM (
SELECT p.songplay_id, p.song_id
FROM songplays p
LEFT JOIN songs s ON s.song_id = p.song_id
WHERE p.song_id IS NOT NULL AND s.song_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_songplays_artist_id'])
SELECT * FROM (
SELECT p.songplay_id, p.artist_id
FROM songplays p
LEFT JOIN artists a ON a.artist_id = p.artist_id
WHERE p.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_songs_artist_id'])
SELECT * FROM (
SELECT s.song_id, s.title, s.artist_id
FROM songs s
LEFT JOIN artists a ON a.artist_id = s.artist_id
WHERE s.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['accepted_users_level'])
SELECT * FROM (
SELECT user_id, level
FROM users
WHERE level NOT IN ('free', 'paid')
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['accepted_songplays_level'])
SELECT * FROM (
SELECT songplay_id, user_id, level
FROM songplays
WHERE level IS NULL OR level NOT IN ('free', 'paid')
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['accepted_songplays_user_id'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time, a.user_id AS event_user_id
FROM songplays p
JOIN app_events a
  ON a.session_id = p.session_id AND a.item_in_session = p.item_in_session AND a.start_time = p.start_time
WHERE p.user_id IS NULL AND a.user_id IS NOT NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['accepted_users_gender'])
SELECT * FROM (
SELECT user_id, gender
FROM users
WHERE gender NOT IN ('M', 'F')
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['accepted_time_parts'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, weekday,
       SUBSTRING(CASE WHEN hour NOT BETWEEN 0 AND 23 THEN ', hour' ELSE '' END
           || CASE WHEN day NOT BETWEEN 1 AND 31 THEN ', day' ELSE '' END
           || CASE WHEN week NOT BETWEEN 1 AND 53 THEN ', week' ELSE '' END
           || CASE WHEN month NOT BETWEEN 1 AND 12 THEN ', month' ELSE '' END
           || CASE WHEN weekday NOT BETWEEN 1 AND 7 THEN ', weekday' ELSE '' END FROM 3) AS out_of_range
FROM time
WHERE hour NOT BETWEEN 0 AND 23
   OR day NOT BETWEEN 1 AND 31
   OR week NOT BETWEEN 1 AND 53
   OR month NOT BETWEEN 1 AND 12
   OR weekday NOT BETWEEN 1 AND 7
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['consistent_time_parts'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time) THEN ', hour' ELSE '' END
           || CASE WHEN day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time) THEN ', day' ELSE '' END
           || CASE WHEN week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time) THEN ', week' ELSE '' END
           || CASE WHEN month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time) THEN ', month' ELSE '' END
           || CASE WHEN year <> EXTRACT(year FROM start_time) THEN ', year' ELSE '' END
           || CASE WHEN weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1 THEN ', weekday' ELSE '' END FROM 3) AS disagreeing
FROM time
WHERE (hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time))
   OR (day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time))
   OR (week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time))
   OR (month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time))
   OR (year <> EXTRACT(year FROM start_time))
   OR (weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1)
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_staged_not_in_songplays'])
SELECT * FROM (
SELECT DISTINCT e.session_id, e.item_in_session, e.start_time
FROM (SELECT session_id, item_in_session, TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS start_time
      FROM staging_events
      WHERE page = 'NextSong') e
WHERE NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
       AND p.start_time = e.start_time)
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_songplays_not_staged'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
  AND p.session_id IS NOT NULL AND p.item_in_session IS NOT NULL AND p.start_time IS NOT NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_app_events_not_in_songplays'])
SELECT * FROM (
SELECT a.session_id, a.item_in_session, a.start_time, a.run_id
FROM app_events a
WHERE a.page = 'NextSong'
  AND NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = a.session_id AND p.item_in_session = a.item_in_session
       AND p.start_time = a.start_time)
  AND NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = a.session_id
       AND e.item_in_session = a.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = a.start_time)
  AND a.session_id IS NOT NULL AND a.item_in_session IS NOT NULL AND a.start_time IS NOT NULL
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_songplays_not_in_app_events'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.session_id = p.session_id AND a.item_in_session = p.item_in_session
                    AND a.start_time = p.start_time AND a.page = 'NextSong')
  AND EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_app_events_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM app_events t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_user_levels_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_levels t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_user_days_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_days t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_user_sessions_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_sessions t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['adjacent_user_levels_same_level'])
SELECT * FROM (
SELECT l.user_id, l.level, l.valid_from, l.valid_to, n.valid_from AS next_from
FROM user_levels l
JOIN user_levels n ON n.user_id = l.user_id AND n.valid_from = l.valid_to AND n.level = l.level
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.user_id = l.user_id AND a.start_time = l.valid_to
                    AND a.page = 'Cancellation Confirmation')
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['orphan_app_events_user_agent'])
SELECT * FROM (
SELECT a.user_agent, COUNT(*) AS events
FROM app_events a
LEFT JOIN devices d ON d.user_agent = a.user_agent
WHERE a.user_agent IS NOT NULL AND d.user_agent IS NULL
GROUP BY a.user_agent
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_table_rows'])
SELECT * FROM (SELECT 'songplays' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songplays) c
LEFT JOIN table_rows k ON k.table_name = 'songplays'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'users' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM users) c
LEFT JOIN table_rows k ON k.table_name = 'users'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'songs' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songs) c
LEFT JOIN table_rows k ON k.table_name = 'songs'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'artists' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM artists) c
LEFT JOIN table_rows k ON k.table_name = 'artists'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'time' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM time) c
LEFT JOIN table_rows k ON k.table_name = 'time'
WHERE k.row_count <> c.row_count
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_user_day_places_app_events'])
SELECT * FROM (
SELECT COALESCE(p.user_id, a.user_id) AS user_id, COALESCE(p.activity_date, a.activity_date) AS activity_date,
       p.events AS place_events, a.events,
       p.plays AS place_plays, a.plays,
       p.paid_events AS place_paid_events, a.paid_events,
       p.first_free_play AS place_first_free_play, a.first_free_play,
       p.step_events AS place_step_events, a.step_events,
       p.last_step_at AS place_last_step_at, a.last_step_at,
       SUBSTRING(CASE WHEN CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', events' ELSE '' END
           || CASE WHEN CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', paid_events' ELSE '' END
           || CASE WHEN CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1 THEN ', first_free_play' ELSE '' END
           || CASE WHEN CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', step_events' ELSE '' END
           || CASE WHEN CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1 THEN ', last_step_at' ELSE '' END FROM 3) AS differing
FROM (SELECT user_id, activity_date,
             SUM(events) AS events,
             SUM(plays) AS plays,
             SUM(paid_events) AS paid_events,
             MIN(first_free_play) AS first_free_play,
             SUM(CASE WHEN step_page IS NOT NULL THEN events ELSE 0 END) AS step_events,
             MAX(step_time) AS last_step_at
      FROM user_day_places
      WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
      GROUP BY user_id, activity_date) p
FULL JOIN (SELECT user_id, event_date AS activity_date,
                  COUNT(*) AS events,
                  SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
                  SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events,
                  MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
                  SUM(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN 1 ELSE 0 END) AS step_events,
                  MAX(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN start_time END) AS last_step_at
           FROM app_events
           WHERE user_id IS NOT NULL AND event_date IS NOT NULL
           GROUP BY user_id, event_date) a
       ON a.user_id = p.user_id AND a.activity_date = p.activity_date
LEFT JOIN user_days d
       ON d.user_id = COALESCE(p.user_id, a.user_id) AND d.activity_date = COALESCE(p.activity_date, a.activity_date)
WHERE (CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (a.user_id IS NULL AND d.user_id IS NULL) OR (d.events = a.events AND d.plays = a.plays)
           THEN 1 ELSE 0 END = 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_song_totals_song_days'])
SELECT * FROM (
SELECT COALESCE(t.song, d.song) AS song, COALESCE(t.artist, d.artist) AS artist,
       t.plays, d.plays AS day_plays, t.song_id, d.song_id AS day_song_id,
       SUBSTRING(CASE WHEN t.song IS NULL THEN ', not_in_song_totals' ELSE '' END
           || CASE WHEN d.song IS NULL THEN ', not_in_song_days' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1 THEN ', song_id' ELSE '' END FROM 3) AS differing
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
  AND (t.song IS NULL
   OR d.song IS NULL
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (d.song IS NULL AND e.song IS NULL) OR d.plays = e.plays THEN 1 ELSE 0 END = 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (CHECKS['reconcile_hour_plays_app_events'])
SELECT * FROM (
SELECT COALESCE(h.activity_date, a.activity_date) AS activity_date, COALESCE(h.hour, a.hour) AS hour,
       h.plays, a.plays AS event_plays
FROM (SELECT activity_date, hour, MAX(plays) AS plays, COUNT(*) AS copies
      FROM hour_plays
      WHERE activity_date IS NOT NULL AND hour IS NOT NULL
      GROUP BY activity_date, hour) h
FULL JOIN (SELECT event_date AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND event_date IS NOT NULL AND start_time IS NOT NULL
           GROUP BY event_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) a
       ON a.activity_date = h.activity_date AND a.hour = h.hour
LEFT JOIN (SELECT CAST(start_time AS DATE) AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM songplays
           WHERE start_time IS NOT NULL
           GROUP BY CAST(start_time AS DATE), CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) p
       ON p.activity_date = COALESCE(h.activity_date, a.activity_date) AND p.hour = COALESCE(h.hour, a.hour)
WHERE COALESCE(h.copies, 1) = 1
  AND CASE WHEN h.plays = a.plays OR (h.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
  AND CASE WHEN (a.plays IS NULL AND p.plays IS NULL) OR a.plays = p.plays THEN 1 ELSE 0 END = 1
) offending LIMIT %(limit)s;

-- CHECK_EXAMPLES (WARNINGS['events_after_load'])
SELECT * FROM (
SELECT e.run_id, e.object_id, e.source_line, TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       r.started_at AS run_started_at
FROM staging_events e
JOIN etl_runs r ON r.run_id = e.run_id
WHERE TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' > r.started_at
) offending LIMIT %(limit)s;

-- SONG_MATCH_RATE
SELECT COUNT(song_id) AS matched, COUNT(*) AS songplays FROM songplays;

-- WARNINGS['events_after_load'][1]
SELECT e.run_id, e.object_id, e.source_line, TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       r.started_at AS run_started_at
FROM staging_events e
JOIN etl_runs r ON r.run_id = e.run_id
WHERE TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' > r.started_at;

-- WARNING_EXAMPLES (CHECKS['null_keys_songplays'])
SELECT * FROM (
SELECT songplay_id, start_time, session_id, item_in_session,
       SUBSTRING(CASE WHEN songplay_id IS NULL THEN ', songplay_id' ELSE '' END
           || CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END FROM 3) AS null_columns
FROM songplays
WHERE songplay_id IS NULL
   OR start_time IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_users'])
SELECT * FROM (
SELECT user_id, level,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END FROM 3) AS null_columns
FROM users
WHERE user_id IS NULL
   OR level IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_songs'])
SELECT * FROM (
SELECT song_id, title, artist_id,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_artists'])
SELECT * FROM (
SELECT artist_id, name,
       SUBSTRING(CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END
           || CASE WHEN name IS NULL THEN ', name' ELSE '' END FROM 3) AS null_columns
FROM artists
WHERE artist_id IS NULL
   OR name IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_time'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN day IS NULL THEN ', day' ELSE '' END
           || CASE WHEN week IS NULL THEN ', week' ELSE '' END
           || CASE WHEN month IS NULL THEN ', month' ELSE '' END
           || CASE WHEN year IS NULL THEN ', year' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM time
WHERE start_time IS NULL
   OR hour IS NULL
   OR day IS NULL
   OR week IS NULL
   OR month IS NULL
   OR year IS NULL
   OR weekday IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_staging_events'])
SELECT * FROM (
SELECT ts, session_id, item_in_session, page, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN ts IS NULL THEN ', ts' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END FROM 3) AS null_columns
FROM staging_events
WHERE ts IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_staging_songs'])
SELECT * FROM (
SELECT song_id, title, artist_id, run_id, object_id, source_line,
       SUBSTRING(CASE WHEN song_id IS NULL THEN ', song_id' ELSE '' END
           || CASE WHEN title IS NULL THEN ', title' ELSE '' END
           || CASE WHEN artist_id IS NULL THEN ', artist_id' ELSE '' END FROM 3) AS null_columns
FROM staging_songs
WHERE song_id IS NULL
   OR title IS NULL
   OR artist_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_app_events'])
SELECT * FROM (
SELECT start_time, event_date, session_id, item_in_session, page, run_id,
       SUBSTRING(CASE WHEN start_time IS NULL THEN ', start_time' ELSE '' END
           || CASE WHEN event_date IS NULL THEN ', event_date' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN item_in_session IS NULL THEN ', item_in_session' ELSE '' END
           || CASE WHEN page IS NULL THEN ', page' ELSE '' END
           || CASE WHEN run_id IS NULL THEN ', run_id' ELSE '' END FROM 3) AS null_columns
FROM app_events
WHERE start_time IS NULL
   OR event_date IS NULL
   OR session_id IS NULL
   OR item_in_session IS NULL
   OR page IS NULL
   OR run_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_user_levels'])
SELECT * FROM (
SELECT user_id, level, valid_from,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN level IS NULL THEN ', level' ELSE '' END
           || CASE WHEN valid_from IS NULL THEN ', valid_from' ELSE '' END FROM 3) AS null_columns
FROM user_levels
WHERE user_id IS NULL
   OR level IS NULL
   OR valid_from IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_devices'])
SELECT * FROM (
SELECT user_agent,
       SUBSTRING(CASE WHEN user_agent IS NULL THEN ', user_agent' ELSE '' END FROM 3) AS null_columns
FROM devices
WHERE user_agent IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_user_days'])
SELECT * FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_days
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_user_sessions'])
SELECT * FROM (
SELECT user_id, session_id, started_at, ended_at,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN session_id IS NULL THEN ', session_id' ELSE '' END
           || CASE WHEN started_at IS NULL THEN ', started_at' ELSE '' END
           || CASE WHEN ended_at IS NULL THEN ', ended_at' ELSE '' END FROM 3) AS null_columns
FROM user_sessions
WHERE user_id IS NULL
   OR session_id IS NULL
   OR started_at IS NULL
   OR ended_at IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_song_days'])
SELECT * FROM (
SELECT activity_date, song, artist,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_days
WHERE activity_date IS NULL
   OR song IS NULL
   OR artist IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_hour_plays'])
SELECT * FROM (
SELECT activity_date, hour, weekday,
       SUBSTRING(CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END
           || CASE WHEN hour IS NULL THEN ', hour' ELSE '' END
           || CASE WHEN weekday IS NULL THEN ', weekday' ELSE '' END FROM 3) AS null_columns
FROM hour_plays
WHERE activity_date IS NULL
   OR hour IS NULL
   OR weekday IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_user_day_places'])
SELECT * FROM (
SELECT user_id, activity_date,
       SUBSTRING(CASE WHEN user_id IS NULL THEN ', user_id' ELSE '' END
           || CASE WHEN activity_date IS NULL THEN ', activity_date' ELSE '' END FROM 3) AS null_columns
FROM user_day_places
WHERE user_id IS NULL
   OR activity_date IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['null_keys_song_totals'])
SELECT * FROM (
SELECT song, artist,
       SUBSTRING(CASE WHEN song IS NULL THEN ', song' ELSE '' END
           || CASE WHEN artist IS NULL THEN ', artist' ELSE '' END FROM 3) AS null_columns
FROM song_totals
WHERE song IS NULL
   OR artist IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_songplays_event'])
SELECT * FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM songplays
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_songplays_songplay_id'])
SELECT * FROM (
SELECT songplay_id, COUNT(*) AS copies
FROM songplays
WHERE songplay_id IS NOT NULL
GROUP BY songplay_id
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_users_user_id'])
SELECT * FROM (
SELECT user_id, COUNT(*) AS copies
FROM users
WHERE user_id IS NOT NULL
GROUP BY user_id
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_songs_song_id'])
SELECT * FROM (
SELECT song_id, COUNT(*) AS copies
FROM songs
WHERE song_id IS NOT NULL
GROUP BY song_id
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_artists_artist_id'])
SELECT * FROM (
SELECT artist_id, COUNT(*) AS copies
FROM artists
WHERE artist_id IS NOT NULL
GROUP BY artist_id
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_time_start_time'])
SELECT * FROM (
SELECT start_time, COUNT(*) AS copies
FROM time
WHERE start_time IS NOT NULL
GROUP BY start_time
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_app_events_event'])
SELECT * FROM (
SELECT session_id, item_in_session, start_time, COUNT(*) AS copies
FROM app_events
WHERE session_id IS NOT NULL AND item_in_session IS NOT NULL AND start_time IS NOT NULL
GROUP BY session_id, item_in_session, start_time
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_user_levels_period'])
SELECT * FROM (
SELECT user_id, valid_from, COUNT(*) AS copies
FROM user_levels
WHERE user_id IS NOT NULL AND valid_from IS NOT NULL
GROUP BY user_id, valid_from
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_devices_user_agent'])
SELECT * FROM (
SELECT user_agent, COUNT(*) AS copies
FROM devices
WHERE user_agent IS NOT NULL
GROUP BY user_agent
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_user_days_user_day'])
SELECT * FROM (
SELECT user_id, activity_date, COUNT(*) AS copies
FROM user_days
WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
GROUP BY user_id, activity_date
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_user_sessions_session'])
SELECT * FROM (
SELECT user_id, session_id, COUNT(*) AS copies
FROM user_sessions
WHERE user_id IS NOT NULL AND session_id IS NOT NULL
GROUP BY user_id, session_id
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_song_days_song_day'])
SELECT * FROM (
SELECT activity_date, song, artist, COUNT(*) AS copies
FROM song_days
WHERE activity_date IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
GROUP BY activity_date, song, artist
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_hour_plays_hour'])
SELECT * FROM (
SELECT activity_date, hour, COUNT(*) AS copies
FROM hour_plays
WHERE activity_date IS NOT NULL AND hour IS NOT NULL
GROUP BY activity_date, hour
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['dup_song_totals_song'])
SELECT * FROM (
SELECT song, artist, COUNT(*) AS copies
FROM song_totals
WHERE song IS NOT NULL AND artist IS NOT NULL
GROUP BY song, artist
HAVING COUNT(*) > 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_songplays_user_id'])
SELECT * FROM (
SELECT p.songplay_id, p.user_id
FROM songplays p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.user_id IS NOT NULL AND u.user_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_songplays_start_time'])
SELECT * FROM (
SELECT p.songplay_id, p.start_time
FROM songplays p
LEFT JOIN time t ON t.start_time = p.start_time
WHERE p.start_time IS NOT NULL AND t.start_time IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_songplays_song_id'])
SELECT * FROM (
SELECT p.songplay_id, p.song_id
FROM songplays p
LEFT JOIN songs s ON s.song_id = p.song_id
WHERE p.song_id IS NOT NULL AND s.song_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_songplays_artist_id'])
SELECT * FROM (
SELECT p.songplay_id, p.artist_id
FROM songplays p
LEFT JOIN artists a ON a.artist_id = p.artist_id
WHERE p.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_songs_artist_id'])
SELECT * FROM (
SELECT s.song_id, s.title, s.artist_id
FROM songs s
LEFT JOIN artists a ON a.artist_id = s.artist_id
WHERE s.artist_id IS NOT NULL AND a.artist_id IS NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['accepted_users_level'])
SELECT * FROM (
SELECT user_id, level
FROM users
WHERE level NOT IN ('free', 'paid')
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['accepted_songplays_level'])
SELECT * FROM (
SELECT songplay_id, user_id, level
FROM songplays
WHERE level IS NULL OR level NOT IN ('free', 'paid')
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['accepted_songplays_user_id'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time, a.user_id AS event_user_id
FROM songplays p
JOIN app_events a
  ON a.session_id = p.session_id AND a.item_in_session = p.item_in_session AND a.start_time = p.start_time
WHERE p.user_id IS NULL AND a.user_id IS NOT NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['accepted_users_gender'])
SELECT * FROM (
SELECT user_id, gender
FROM users
WHERE gender NOT IN ('M', 'F')
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['accepted_time_parts'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, weekday,
       SUBSTRING(CASE WHEN hour NOT BETWEEN 0 AND 23 THEN ', hour' ELSE '' END
           || CASE WHEN day NOT BETWEEN 1 AND 31 THEN ', day' ELSE '' END
           || CASE WHEN week NOT BETWEEN 1 AND 53 THEN ', week' ELSE '' END
           || CASE WHEN month NOT BETWEEN 1 AND 12 THEN ', month' ELSE '' END
           || CASE WHEN weekday NOT BETWEEN 1 AND 7 THEN ', weekday' ELSE '' END FROM 3) AS out_of_range
FROM time
WHERE hour NOT BETWEEN 0 AND 23
   OR day NOT BETWEEN 1 AND 31
   OR week NOT BETWEEN 1 AND 53
   OR month NOT BETWEEN 1 AND 12
   OR weekday NOT BETWEEN 1 AND 7
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['consistent_time_parts'])
SELECT * FROM (
SELECT start_time, hour, day, week, month, year, weekday,
       SUBSTRING(CASE WHEN hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time) THEN ', hour' ELSE '' END
           || CASE WHEN day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time) THEN ', day' ELSE '' END
           || CASE WHEN week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time) THEN ', week' ELSE '' END
           || CASE WHEN month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time) THEN ', month' ELSE '' END
           || CASE WHEN year <> EXTRACT(year FROM start_time) THEN ', year' ELSE '' END
           || CASE WHEN weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1 THEN ', weekday' ELSE '' END FROM 3) AS disagreeing
FROM time
WHERE (hour BETWEEN 0 AND 23 AND hour <> EXTRACT(hour FROM start_time))
   OR (day BETWEEN 1 AND 31 AND day <> EXTRACT(day FROM start_time))
   OR (week BETWEEN 1 AND 53 AND week <> EXTRACT(week FROM start_time))
   OR (month BETWEEN 1 AND 12 AND month <> EXTRACT(month FROM start_time))
   OR (year <> EXTRACT(year FROM start_time))
   OR (weekday BETWEEN 1 AND 7 AND weekday <> MOD(CAST(EXTRACT(dow FROM start_time) AS INTEGER) + 6, 7) + 1)
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_staged_not_in_songplays'])
SELECT * FROM (
SELECT DISTINCT e.session_id, e.item_in_session, e.start_time
FROM (SELECT session_id, item_in_session, TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' AS start_time
      FROM staging_events
      WHERE page = 'NextSong') e
WHERE NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = e.session_id AND p.item_in_session = e.item_in_session
       AND p.start_time = e.start_time)
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_songplays_not_staged'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
  AND p.session_id IS NOT NULL AND p.item_in_session IS NOT NULL AND p.start_time IS NOT NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_app_events_not_in_songplays'])
SELECT * FROM (
SELECT a.session_id, a.item_in_session, a.start_time, a.run_id
FROM app_events a
WHERE a.page = 'NextSong'
  AND NOT EXISTS (SELECT 1 FROM songplays p
     WHERE p.session_id = a.session_id AND p.item_in_session = a.item_in_session
       AND p.start_time = a.start_time)
  AND NOT EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = a.session_id
       AND e.item_in_session = a.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = a.start_time)
  AND a.session_id IS NOT NULL AND a.item_in_session IS NOT NULL AND a.start_time IS NOT NULL
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_songplays_not_in_app_events'])
SELECT * FROM (
SELECT p.songplay_id, p.session_id, p.item_in_session, p.start_time
FROM songplays p
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.session_id = p.session_id AND a.item_in_session = p.item_in_session
                    AND a.start_time = p.start_time AND a.page = 'NextSong')
  AND EXISTS (SELECT 1 FROM staging_events e
     WHERE e.page = 'NextSong' AND e.session_id = p.session_id
       AND e.item_in_session = p.item_in_session AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = p.start_time)
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_app_events_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM app_events t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_user_levels_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_levels t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_user_days_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_days t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_user_sessions_user_id'])
SELECT * FROM (
SELECT t.user_id, COUNT(*) AS row_count
FROM user_sessions t
LEFT JOIN users u ON u.user_id = t.user_id
WHERE t.user_id IS NOT NULL AND u.user_id IS NULL
GROUP BY t.user_id
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['adjacent_user_levels_same_level'])
SELECT * FROM (
SELECT l.user_id, l.level, l.valid_from, l.valid_to, n.valid_from AS next_from
FROM user_levels l
JOIN user_levels n ON n.user_id = l.user_id AND n.valid_from = l.valid_to AND n.level = l.level
WHERE NOT EXISTS (SELECT 1 FROM app_events a
                  WHERE a.user_id = l.user_id AND a.start_time = l.valid_to
                    AND a.page = 'Cancellation Confirmation')
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['orphan_app_events_user_agent'])
SELECT * FROM (
SELECT a.user_agent, COUNT(*) AS events
FROM app_events a
LEFT JOIN devices d ON d.user_agent = a.user_agent
WHERE a.user_agent IS NOT NULL AND d.user_agent IS NULL
GROUP BY a.user_agent
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_table_rows'])
SELECT * FROM (SELECT 'songplays' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songplays) c
LEFT JOIN table_rows k ON k.table_name = 'songplays'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'users' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM users) c
LEFT JOIN table_rows k ON k.table_name = 'users'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'songs' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM songs) c
LEFT JOIN table_rows k ON k.table_name = 'songs'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'artists' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM artists) c
LEFT JOIN table_rows k ON k.table_name = 'artists'
WHERE k.row_count <> c.row_count
UNION ALL
SELECT 'time' AS table_name, k.row_count AS kept, c.row_count AS counted
FROM (SELECT COUNT(*) AS row_count FROM time) c
LEFT JOIN table_rows k ON k.table_name = 'time'
WHERE k.row_count <> c.row_count
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_user_day_places_app_events'])
SELECT * FROM (
SELECT COALESCE(p.user_id, a.user_id) AS user_id, COALESCE(p.activity_date, a.activity_date) AS activity_date,
       p.events AS place_events, a.events,
       p.plays AS place_plays, a.plays,
       p.paid_events AS place_paid_events, a.paid_events,
       p.first_free_play AS place_first_free_play, a.first_free_play,
       p.step_events AS place_step_events, a.step_events,
       p.last_step_at AS place_last_step_at, a.last_step_at,
       SUBSTRING(CASE WHEN CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', events' ELSE '' END
           || CASE WHEN CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', paid_events' ELSE '' END
           || CASE WHEN CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1 THEN ', first_free_play' ELSE '' END
           || CASE WHEN CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1 THEN ', step_events' ELSE '' END
           || CASE WHEN CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1 THEN ', last_step_at' ELSE '' END FROM 3) AS differing
FROM (SELECT user_id, activity_date,
             SUM(events) AS events,
             SUM(plays) AS plays,
             SUM(paid_events) AS paid_events,
             MIN(first_free_play) AS first_free_play,
             SUM(CASE WHEN step_page IS NOT NULL THEN events ELSE 0 END) AS step_events,
             MAX(step_time) AS last_step_at
      FROM user_day_places
      WHERE user_id IS NOT NULL AND activity_date IS NOT NULL
      GROUP BY user_id, activity_date) p
FULL JOIN (SELECT user_id, event_date AS activity_date,
                  COUNT(*) AS events,
                  SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) AS plays,
                  SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_events,
                  MIN(CASE WHEN page = 'NextSong' AND level = 'free' THEN start_time END) AS first_free_play,
                  SUM(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN 1 ELSE 0 END) AS step_events,
                  MAX(CASE WHEN page IN ('Upgrade', 'Submit Upgrade', 'Downgrade', 'Submit Downgrade') THEN start_time END) AS last_step_at
           FROM app_events
           WHERE user_id IS NOT NULL AND event_date IS NOT NULL
           GROUP BY user_id, event_date) a
       ON a.user_id = p.user_id AND a.activity_date = p.activity_date
LEFT JOIN user_days d
       ON d.user_id = COALESCE(p.user_id, a.user_id) AND d.activity_date = COALESCE(p.activity_date, a.activity_date)
WHERE (CASE WHEN p.events = a.events OR (p.events IS NULL AND a.events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.plays = a.plays OR (p.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.paid_events = a.paid_events OR (p.paid_events IS NULL AND a.paid_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.first_free_play = a.first_free_play OR (p.first_free_play IS NULL AND a.first_free_play IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.step_events = a.step_events OR (p.step_events IS NULL AND a.step_events IS NULL) THEN 0 ELSE 1 END = 1
   OR CASE WHEN p.last_step_at = a.last_step_at OR (p.last_step_at IS NULL AND a.last_step_at IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (a.user_id IS NULL AND d.user_id IS NULL) OR (d.events = a.events AND d.plays = a.plays)
           THEN 1 ELSE 0 END = 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_song_totals_song_days'])
SELECT * FROM (
SELECT COALESCE(t.song, d.song) AS song, COALESCE(t.artist, d.artist) AS artist,
       t.plays, d.plays AS day_plays, t.song_id, d.song_id AS day_song_id,
       SUBSTRING(CASE WHEN t.song IS NULL THEN ', not_in_song_totals' ELSE '' END
           || CASE WHEN d.song IS NULL THEN ', not_in_song_days' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1 THEN ', plays' ELSE '' END
           || CASE WHEN t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1 THEN ', song_id' ELSE '' END FROM 3) AS differing
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
  AND (t.song IS NULL
   OR d.song IS NULL
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.plays = d.plays OR (t.plays IS NULL AND d.plays IS NULL) THEN 0 ELSE 1 END = 1
   OR t.song IS NOT NULL AND d.song IS NOT NULL AND CASE WHEN t.song_id = d.song_id OR (t.song_id IS NULL AND d.song_id IS NULL) THEN 0 ELSE 1 END = 1)
  AND CASE WHEN (d.song IS NULL AND e.song IS NULL) OR d.plays = e.plays THEN 1 ELSE 0 END = 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (CHECKS['reconcile_hour_plays_app_events'])
SELECT * FROM (
SELECT COALESCE(h.activity_date, a.activity_date) AS activity_date, COALESCE(h.hour, a.hour) AS hour,
       h.plays, a.plays AS event_plays
FROM (SELECT activity_date, hour, MAX(plays) AS plays, COUNT(*) AS copies
      FROM hour_plays
      WHERE activity_date IS NOT NULL AND hour IS NOT NULL
      GROUP BY activity_date, hour) h
FULL JOIN (SELECT event_date AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM app_events
           WHERE page = 'NextSong' AND event_date IS NOT NULL AND start_time IS NOT NULL
           GROUP BY event_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) a
       ON a.activity_date = h.activity_date AND a.hour = h.hour
LEFT JOIN (SELECT CAST(start_time AS DATE) AS activity_date, CAST(EXTRACT(hour FROM start_time) AS SMALLINT) AS hour, COUNT(*) AS plays
           FROM songplays
           WHERE start_time IS NOT NULL
           GROUP BY CAST(start_time AS DATE), CAST(EXTRACT(hour FROM start_time) AS SMALLINT)) p
       ON p.activity_date = COALESCE(h.activity_date, a.activity_date) AND p.hour = COALESCE(h.hour, a.hour)
WHERE COALESCE(h.copies, 1) = 1
  AND CASE WHEN h.plays = a.plays OR (h.plays IS NULL AND a.plays IS NULL) THEN 0 ELSE 1 END = 1
  AND CASE WHEN (a.plays IS NULL AND p.plays IS NULL) OR a.plays = p.plays THEN 1 ELSE 0 END = 1
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- WARNING_EXAMPLES (WARNINGS['events_after_load'])
SELECT * FROM (
SELECT e.run_id, e.object_id, e.source_line, TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       r.started_at AS run_started_at
FROM staging_events e
JOIN etl_runs r ON r.run_id = e.run_id
WHERE TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' > r.started_at
) offending ORDER BY 1, 2, 3 LIMIT %(limit)s;

-- ANALYTICS_QUERIES['top_songs'][1]
SELECT s.title, a.name AS artist, COUNT(*) AS plays
FROM songplays p
JOIN songs s ON s.song_id = p.song_id
LEFT JOIN artists a ON a.artist_id = s.artist_id
GROUP BY s.song_id, s.title, a.name
ORDER BY plays DESC, s.title
LIMIT 10;

-- ANALYTICS_QUERIES['plays_by_hour'][1]
SELECT t.hour, COUNT(*) AS plays
FROM songplays p
JOIN time t ON t.start_time = p.start_time
GROUP BY t.hour
ORDER BY t.hour;

-- ANALYTICS_QUERIES['plays_by_level'][1]
SELECT level, COUNT(*) AS plays
FROM songplays
GROUP BY level
ORDER BY level;

-- ANALYTICS_QUERIES['most_active_users'][1]
SELECT u.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays
FROM songplays p
JOIN users u ON u.user_id = p.user_id
GROUP BY u.user_id, u.first_name, u.last_name, u.level
ORDER BY plays DESC, u.user_id
LIMIT 10;

-- ANALYTICS_QUERIES['plays_per_day'][1]
SELECT t.year, t.month, t.day, COUNT(*) AS plays
FROM songplays p
JOIN time t ON t.start_time = p.start_time
GROUP BY t.year, t.month, t.day
ORDER BY t.year, t.month, t.day;

-- SAMPLE_ROWS (staging_events)
SELECT * FROM staging_events LIMIT %(limit)s;

-- SAMPLE_ROWS (staging_songs)
SELECT * FROM staging_songs LIMIT %(limit)s;

-- SAMPLE_ROWS (songs)
SELECT * FROM songs LIMIT %(limit)s;

-- REDSHIFT_TREND_RUN_LOCK
LOCK trend_runs;

-- TREND_RUN_NEXT_ID
SELECT COALESCE(MAX(trend_run_id), 0) + 1 FROM trend_runs;

-- TREND_LOAD_RUN
SELECT MAX(run_id) FROM etl_runs WHERE outcome = 'succeeded';

-- TREND_DAILY_PLAYS
SELECT activity_date, SUM(plays) AS plays
FROM hour_plays
GROUP BY activity_date
ORDER BY activity_date;

-- TREND_DAILY_ACTIVE_USERS
SELECT activity_date, COUNT(*) AS active_users
FROM user_days
GROUP BY activity_date
ORDER BY activity_date;

-- TREND_PAID_CHANGES
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
GROUP BY CAST(changes_at AS DATE), CASE WHEN changes_at = DATE_TRUNC('day', changes_at) THEN 1 ELSE 0 END;

-- TRENDING_TOTALS
SELECT COALESCE(SUM(CASE WHEN activity_date >= %(recent_from)s THEN plays ELSE 0 END), 0) AS plays_recent,
       COALESCE(SUM(CASE WHEN activity_date < %(recent_from)s THEN plays ELSE 0 END), 0) AS plays_before
FROM hour_plays
WHERE activity_date BETWEEN %(before_from)s AND %(last_day)s;

-- TRENDING_WINDOWS_DROP
DROP TABLE IF EXISTS trending_windows;

-- TRENDING_WINDOWS
CREATE TEMPORARY TABLE trending_windows AS
SELECT song, artist,
       SUM(CASE WHEN activity_date >= %(recent_from)s THEN plays ELSE 0 END) AS plays,
       SUM(CASE WHEN activity_date < %(recent_from)s THEN plays ELSE 0 END) AS plays_before
FROM song_days
WHERE activity_date BETWEEN %(before_from)s AND %(last_day)s
GROUP BY song, artist;

-- TRENDING_SONG_COUNTS
SELECT plays, plays_before, COUNT(*) AS tested
FROM (
    SELECT song, artist, SUM(plays) AS plays, SUM(plays_before) AS plays_before
    FROM trending_windows
    GROUP BY song, artist
) windows
GROUP BY plays, plays_before;

-- TRENDING_ARTIST_COUNTS
SELECT plays, plays_before, COUNT(*) AS tested
FROM (
    SELECT artist, SUM(plays) AS plays, SUM(plays_before) AS plays_before
    FROM trending_windows
    GROUP BY artist
) windows
GROUP BY plays, plays_before;

-- TRENDING_SIGNIFICANT_DROP
DROP TABLE IF EXISTS trending_significant;

-- TRENDING_SIGNIFICANT_CREATE
CREATE TEMPORARY TABLE trending_significant (
    kind          VARCHAR(8)        NOT NULL,  -- song | artist
    plays         BIGINT            NOT NULL,
    plays_before  BIGINT            NOT NULL,
    p_value       DOUBLE PRECISION  NOT NULL,
    q_value       DOUBLE PRECISION  NOT NULL
);

-- TRENDING_SIGNIFICANT_INSERT
INSERT INTO trending_significant (kind, plays, plays_before, p_value, q_value)
VALUES %s;

-- TRENDING_SONGS
SELECT c.song, c.artist, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value,
       COUNT(DISTINCT e.user_id) AS listeners
FROM (
    SELECT w.song, w.artist, w.plays, w.plays_before, w.expected, s.p_value, s.q_value,
           (w.plays + CAST(%(prior)s AS DOUBLE PRECISION)) / (w.expected + CAST(%(prior)s AS DOUBLE PRECISION))
               AS score
    FROM (
        SELECT song, artist, SUM(plays) AS plays, SUM(plays_before) AS plays_before,
               SUM(plays_before) * CAST(%(traffic)s AS DOUBLE PRECISION) AS expected
        FROM trending_windows
        GROUP BY song, artist
    ) w
    JOIN trending_significant s
      ON s.kind = %(kind)s AND s.plays = w.plays AND s.plays_before = w.plays_before
    WHERE w.plays >= %(min_listeners)s   -- plays enough for the listeners
    ORDER BY score DESC, w.plays DESC, w.song, w.artist
    LIMIT %(candidates)s
) c
JOIN app_events e ON e.song = c.song AND e.artist = c.artist
WHERE e.page = 'NextSong' AND e.start_time >= %(recent_start)s AND e.start_time < %(recent_end)s
  AND e.event_date BETWEEN %(recent_from)s AND %(last_day)s
  AND e.user_id IS NOT NULL
GROUP BY c.song, c.artist, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value
HAVING COUNT(DISTINCT e.user_id) >= %(min_listeners)s
ORDER BY c.score DESC, c.plays DESC, c.song, c.artist
LIMIT %(top)s;

-- TRENDING_ARTISTS
SELECT c.artist, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value,
       COUNT(DISTINCT e.user_id) AS listeners
FROM (
    SELECT w.artist, w.plays, w.plays_before, w.expected, s.p_value, s.q_value,
           (w.plays + CAST(%(prior)s AS DOUBLE PRECISION)) / (w.expected + CAST(%(prior)s AS DOUBLE PRECISION))
               AS score
    FROM (
        SELECT artist, SUM(plays) AS plays, SUM(plays_before) AS plays_before,
               SUM(plays_before) * CAST(%(traffic)s AS DOUBLE PRECISION) AS expected
        FROM trending_windows
        GROUP BY artist
    ) w
    JOIN trending_significant s
      ON s.kind = %(kind)s AND s.plays = w.plays AND s.plays_before = w.plays_before
    WHERE w.plays >= %(min_listeners)s   -- plays enough for the listeners
    ORDER BY score DESC, w.plays DESC, w.artist
    LIMIT %(candidates)s
) c
JOIN app_events e ON e.artist = c.artist
WHERE e.page = 'NextSong' AND e.start_time >= %(recent_start)s AND e.start_time < %(recent_end)s
  AND e.event_date BETWEEN %(recent_from)s AND %(last_day)s
  AND e.user_id IS NOT NULL
GROUP BY c.artist, c.plays, c.plays_before, c.expected, c.score, c.p_value, c.q_value
HAVING COUNT(DISTINCT e.user_id) >= %(min_listeners)s
ORDER BY c.score DESC, c.plays DESC, c.artist
LIMIT %(top)s;

-- TREND_RUNS_INSERT
INSERT INTO trend_runs (trend_run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from,
                        before_from, plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested,
                        artists_tested, message, trending_note)
VALUES %s;

-- TREND_BACKTESTS_INSERT
INSERT INTO trend_backtests (trend_run_id, series, model, candidate, mase, mase_baseline, smape, smape_baseline,
                             coverage80, coverage95, origins, note)
VALUES %s;

-- TREND_FORECASTS_INSERT
INSERT INTO trend_forecasts (trend_run_id, series, forecast_date, model, value, lo80, hi80, lo95, hi95)
VALUES %s;

-- TRENDING_INSERT
INSERT INTO trending (trend_run_id, kind, rank, song, artist, score, plays, plays_before, expected, listeners,
                      p_value, q_value)
VALUES %s;

-- TREND_LATEST_RUN
SELECT trend_run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from, before_from,
       plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested, artists_tested, message,
       trending_note
FROM trend_runs
ORDER BY trend_run_id DESC
LIMIT 1;

-- TREND_RUN_BACKTESTS
SELECT series, model, candidate, mase, mase_baseline, smape, smape_baseline, coverage80, coverage95, origins,
       note
FROM trend_backtests
WHERE trend_run_id = %(trend_run_id)s
ORDER BY series;

-- TREND_RUN_FORECASTS
SELECT series, forecast_date, model, value, lo80, hi80, lo95, hi95
FROM trend_forecasts
WHERE trend_run_id = %(trend_run_id)s
ORDER BY series, forecast_date;

-- TREND_RUN_TRENDING
SELECT kind, rank, song, artist, score, plays, plays_before, expected, listeners, p_value, q_value
FROM trending
WHERE trend_run_id = %(trend_run_id)s
ORDER BY kind, rank;

-- TRENDS_NEWER_LOADS
SELECT COUNT(*)
FROM etl_runs
WHERE outcome = 'succeeded' AND objects_loaded > 0 AND run_id > %(load_run_id)s;

-- REPORT_DATA_RANGE
SELECT MIN(activity_date), MAX(activity_date), COUNT(*)
-- hashed: a few hundred days
FROM (SELECT activity_date FROM user_days GROUP BY activity_date) days;

-- REPORT_PERIOD_USERS_DROP
DROP TABLE IF EXISTS report_period_users;

-- REPORT_PERIOD_USERS
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
LEFT JOIN user_days d ON d.user_id = u.user_id AND d.activity_date = u.last_day;

-- REPORT_KPIS
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
            FROM report_period_users) u;

-- REPORT_DAILY
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
ORDER BY u.activity_date;

-- REPORT_STICKINESS
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
ORDER BY d.activity_date;

-- USER_WEEK_HISTORY
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
      FROM weeks) user_weeks;

-- REPORT_USER_WEEKS
CREATE TEMPORARY TABLE report_user_weeks AS 
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
      FROM weeks) user_weeks;

-- REPORT_USER_WEEKS_ANALYZE
ANALYZE report_user_weeks;

-- USER_WEEKS
SELECT user_id, week, previous_week, next_week, first_week, new_at, new_week FROM report_user_weeks;

-- REPORT_LIFECYCLE
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
ORDER BY week, status;

-- REPORT_RETENTION
WITH history AS (SELECT user_id, week, previous_week, next_week, first_week, new_at, new_week FROM report_user_weeks)
SELECT new_week AS cohort, week, COUNT(*) AS users, SUM(CASE WHEN week = first_week THEN 1 ELSE 0 END) AS joined
FROM history
WHERE new_at >= %(data_from)s AND new_week >= %(week_from)s
GROUP BY new_week, week
ORDER BY new_week, week;

-- REPORT_TEMPORARY_DROP[0]
DROP TABLE IF EXISTS report_song_totals;

-- REPORT_TEMPORARY_DROP[1]
DROP TABLE IF EXISTS report_top_songs;

-- REPORT_TEMPORARY_DROP[2]
DROP TABLE IF EXISTS report_top_artists;

-- REPORT_TEMPORARY_DROP[3]
DROP TABLE IF EXISTS report_user_weeks;

-- REPORT_PLAY_DAYS
SELECT MIN(activity_date), MAX(activity_date) FROM hour_plays;

-- REPORT_SONG_TOTALS
CREATE TEMPORARY TABLE report_song_totals AS
SELECT song, artist, MAX(song_id) AS song_id, SUM(plays) AS plays
FROM song_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY song, artist;

-- REPORT_TOP_SONG_LIST
CREATE TEMPORARY TABLE report_top_songs AS
SELECT song, artist, song_id, plays
FROM report_song_totals
ORDER BY plays DESC, song, artist
LIMIT %(limit)s;

-- REPORT_TOP_ARTIST_LIST
CREATE TEMPORARY TABLE report_top_artists AS
SELECT artist, SUM(plays) AS plays, COUNT(*) AS songs
FROM report_song_totals
GROUP BY artist
ORDER BY plays DESC, artist
LIMIT %(limit)s;

-- REPORT_TOP_SONG_LIST_ALL
CREATE TEMPORARY TABLE report_top_songs AS
SELECT song, artist, song_id, plays
FROM song_totals
ORDER BY plays DESC, song, artist
LIMIT %(limit)s;

-- REPORT_TOP_ARTIST_LIST_ALL
CREATE TEMPORARY TABLE report_top_artists AS
SELECT artist, SUM(plays) AS plays, COUNT(*) AS songs
FROM song_totals
GROUP BY artist
ORDER BY plays DESC, artist
LIMIT %(limit)s;

-- REPORT_TOP_LISTENERS
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
GROUP BY artist;

-- REPORT_FUNNEL
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
FROM reached;

-- REPORT_CHURN_WEEKLY
SELECT week, COUNT(*) AS active_users, SUM(churned) AS churned_users
FROM report_user_weeks
WHERE in_period = 1
GROUP BY week
ORDER BY week;

-- REPORT_CHURN_BEHAVIOUR
SELECT CASE WHEN churned = 1 THEN 'churned' ELSE 'retained' END AS cohort,
       COUNT(*) AS users, SUM(active_days) AS active_days, SUM(plays) AS plays, SUM(sessions) AS sessions,
       SUM(thumbs_up) AS thumbs_up, SUM(thumbs_down) AS thumbs_down, SUM(adverts) AS adverts,
       SUM(errors) AS errors
FROM report_period_users
WHERE active_days > 0
GROUP BY CASE WHEN churned = 1 THEN 'churned' ELSE 'retained' END
ORDER BY cohort;

-- REPORT_SESSIONS
SELECT COUNT(*) AS sessions,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY (EXTRACT(EPOCH FROM DATE_TRUNC('second', ended_at)) - EXTRACT(EPOCH FROM DATE_TRUNC('second', started_at)) + (MOD(CAST(EXTRACT(ms FROM ended_at) AS INTEGER), 1000) - MOD(CAST(EXTRACT(ms FROM started_at) AS INTEGER), 1000)) / 1000.0)) AS median_seconds,
       AVG(CAST(plays AS DOUBLE PRECISION)) AS mean_plays
FROM user_sessions
WHERE started_at >= %(date_from)s AND started_at < %(day_after_to)s;

-- REPORT_SESSION_PLAYS
SELECT plays, COUNT(*) AS sessions
FROM user_sessions
WHERE started_at >= %(date_from)s AND started_at < %(day_after_to)s
GROUP BY plays;

-- REPORT_SESSION_BUCKETS
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
GROUP BY length_bucket, songs_bucket;

-- REPORT_USER_DAY_SHAPES
SELECT sessions, plays, COUNT(*) AS user_days
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY sessions, plays;

-- REPORT_HEATMAP
SELECT weekday, hour, SUM(plays) AS plays
FROM hour_plays
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY weekday, hour
ORDER BY weekday, hour;

-- REPORT_TOP_SONGS
SELECT song, artist, song_id, plays
FROM report_top_songs
ORDER BY plays DESC, song, artist;

-- REPORT_TOP_ARTISTS
SELECT artist, plays, songs
FROM report_top_artists
ORDER BY plays DESC, artist;

-- REPORT_GEOGRAPHY
SELECT state, COUNT(*) AS users, SUM(plays) AS plays
FROM (SELECT state, user_id, SUM(plays) AS plays
      FROM user_day_places
      WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s AND state IS NOT NULL
      GROUP BY state, user_id) user_states
GROUP BY state
ORDER BY users DESC, plays DESC, state;

-- REPORT_DEVICES
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
ORDER BY dimension, users DESC, plays DESC, name;

-- REPORT_ENGAGEMENT
SELECT COALESCE(level, 'unknown') AS level, SUM(plays) AS plays, SUM(thumbs_up) AS thumbs_up,
       SUM(thumbs_down) AS thumbs_down, SUM(add_to_playlist) AS add_to_playlist,
       SUM(add_friend) AS add_friend, SUM(adverts) AS adverts
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY COALESCE(level, 'unknown')
ORDER BY level;

-- REPORT_DEMOGRAPHICS
SELECT COALESCE(u.gender, '?') AS gender, p.last_level AS level, COUNT(*) AS users, SUM(p.plays) AS plays
FROM report_period_users p
LEFT JOIN users u ON u.user_id = p.user_id
WHERE p.active_days > 0
GROUP BY COALESCE(u.gender, '?'), p.last_level
ORDER BY gender, level;

-- REPORT_ERRORS
SELECT activity_date, SUM(events) AS events, SUM(errors) AS errors, SUM(help) AS help
FROM user_days
WHERE activity_date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY activity_date
ORDER BY activity_date;

-- REPORT_LAST_EVENT
SELECT MAX(last_event_at) FROM user_days;

-- REPORT_RECENT_RUNS
SELECT run_id, started_at, finished_at, outcome, checks, objects_loaded, events_staged, rows_rejected
FROM etl_runs
ORDER BY run_id DESC
LIMIT %(limit)s;

