-- QoE aggregates per hour by CDN from the heartbeat stream on GCP
-- (Pub/Sub BigQuery subscription → <project>.<prefix>_qoe.heartbeats).
--
-- The same metrics and bounds as the runner's GET /v1/admin/qoe and
-- docs/qoe/athena.sql (see there and shared/playback/qoeview.go): views are
-- plays by the hour their first session started (a play that goes on
-- across re-authorizations, its sessions of one account and title naming
-- it in qoe.view, is one view, folded as athena.sql says; a session
-- started a day or more after the play's first is a view of its own, so
-- an hour answers the same asked alone or within a wider range: the
-- sessions are read by their start, a day around the range, with every
-- heartbeat of theirs published up to 33 days after the range, the late
-- ones the runner still counts, as athena.sql says); nearest-rank exact
-- p50/p95. To break
-- down by another dimension replace `cdn` in the last SELECT with title_id,
-- edge, country, asn or device_type (the viewer's, from the session's
-- playback token). Set the dataset in FROM and the range in the two
-- DECLAREs below, the only place it is written. A
-- view is a function of its heartbeats, taken in device time order, then
-- by received_at, as the runner's (whatever order they arrived in; the
-- reports of one CMCD request are accepted a microsecond apart). A
-- view silent before its first frame is an exit before video start once
-- its session's lease has run out, at the latest lease_expires_at its
-- heartbeats carry (whatever the stack's LEASE_TTL), judged at the query's
-- CURRENT_TIMESTAMP; until then it is in progress. Heartbeats from before
-- lease_expires_at existed carry none (NULL): a view with none never
-- times out, as the runner treats a view told no lease end.
--
-- The range, its first hour and the hour after its last (UTC), set in
-- these two script variables and nowhere else. BigQuery prunes the
-- partitions of publish_time (DAY) by a filter comparing it with a
-- constant expression only ("Query partitioned tables", best practices:
-- a value from a subquery, or one computed from another column, is
-- dynamic and every partition is scanned); a CTE joined into the scan is
-- another relation's value. A variable holds a value fixed before the
-- query statement runs, read from no table. There is no BigQuery here and
-- this script was not run: a run for one day should bill about 35 days
-- of partitions (a day and an hour before it, 33 days after it).
DECLARE from_hour TIMESTAMP DEFAULT TIMESTAMP '2026-12-04 00:00:00+00';
DECLARE to_hour TIMESTAMP DEFAULT TIMESTAMP '2026-12-05 00:00:00+00';
--
-- The message's times are RFC 3339 strings (STRING columns). TIMESTAMP()
-- takes at most six fractional digits (BigQuery keeps microseconds) and
-- fails the query on more; messages written before their times were cut
-- to the microsecond carry nine, so message_time cuts the extra digits.
CREATE TEMP FUNCTION message_time(s STRING) AS (
  TIMESTAMP(REGEXP_REPLACE(s, r'(\.\d{6})\d+', r'\1'))
);
WITH beats AS (
  SELECT
    h.session_id,
    -- absent, '' or NULL alike, as the runner's "" (QoEPlay): one value to
    -- match and group plays by
    NULLIF(h.account_id, '') AS account_id,
    NULLIF(h.title_id, '') AS title_id,
    h.event,
    message_time(h.device_time) AS device_time,
    message_time(h.received_at) AS received_at,
    message_time(h.session_started_at) AS started_at,
    message_time(h.lease_expires_at) AS lease_expires_at,
    TIMESTAMP_DIFF(message_time(h.received_at), message_time(h.session_started_at), MILLISECOND) + 10000 AS age_ms,
    NULLIF(h.qoe.cdn, '') AS cdn,
    NULLIF(h.qoe.edge, '') AS edge,
    NULLIF(h.country, '') AS country,
    CAST(NULLIF(h.asn, 0) AS STRING) AS asn,
    NULLIF(h.device_type, '') AS device_type,
    GREATEST(IFNULL(h.qoe.startup_ms, 0), 0) AS startup_ms,
    GREATEST(IFNULL(h.qoe.played_ms, 0), 0) AS played_ms,
    -- stall time in no stall is not believed (playback.QoEBounds)
    IF(IFNULL(h.qoe.rebuffer_count, 0) > 0, GREATEST(IFNULL(h.qoe.rebuffer_ms, 0), 0), 0) AS rebuffer_ms,
    -- goes on with a play another session of the page started (QoE.Continued)
    IFNULL(h.qoe.continued, FALSE) AS continued,
    -- the play it goes on with: the session the play began in (QoE.View)
    NULLIF(h.qoe.view, '') AS view_named,
    GREATEST(IFNULL(h.qoe.br, 0), 0) AS bitrate_kbps
  FROM `playplane_qoe.heartbeats` AS h
  -- The sessions that started a day (QoEPlaySlack) around the range, as
  -- the runner reads them, with all their heartbeats: a session's are
  -- published for as long as it plays, so the partition (publish time) is
  -- bounded below an hour before the earliest start, for the clocks, and
  -- above by the late deliveries the runner still counts (athena.sql's
  -- header: 33 days after the range).
  WHERE h.publish_time >= TIMESTAMP_SUB(TIMESTAMP_SUB(from_hour, INTERVAL 1 DAY), INTERVAL 1 HOUR)
    AND h.publish_time < TIMESTAMP_ADD(to_hour, INTERVAL 33 DAY)
    AND message_time(h.session_started_at) >= TIMESTAMP_SUB(from_hour, INTERVAL 1 DAY)
    AND message_time(h.session_started_at) < TIMESTAMP_ADD(to_hour, INTERVAL 1 DAY)
),
bounded AS (
  SELECT *,
    startup_ms > 0 AND startup_ms <= age_ms AS startup_ok,
    startup_ms > age_ms AS startup_refused,
    -- not summed: two absurd counters would overflow INT64 and fail the query
    played_ms <= age_ms AND rebuffer_ms <= age_ms - played_ms AS counters_ok,
    bitrate_kbps > 0 AND bitrate_kbps <= 1000000 AS bitrate_ok
  FROM beats
),
weighted AS (
  SELECT *,
    IF(counters_ok, GREATEST(played_ms - IFNULL(MAX(IF(counters_ok, played_ms, NULL)) OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0), 0) AS grown_ms,
    IFNULL(LAST_VALUE(IF(bitrate_ok, bitrate_kbps, NULL) IGNORE NULLS) OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), IF(bitrate_ok, bitrate_kbps, 0)) AS kbps_in_force,
    -- the first frame happens once, before the first heartbeat that tells of it
    startup_ms > 0 AND COUNTIF(startup_ms > 0) OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) = 0 AS first_startup
  FROM bounded
),
views AS (
  SELECT
    session_id,
    ANY_VALUE(account_id) AS account_id,
    -- the least named, as the runner keeps (QoEView.ViewID)
    IFNULL(MIN(view_named), session_id) AS view_id,
    MIN(started_at) AS started_at,
    ANY_VALUE(title_id) AS title_id,
    ARRAY_AGG(cdn IGNORE NULLS ORDER BY device_time DESC, received_at DESC LIMIT 1)[SAFE_OFFSET(0)] AS cdn,
    ARRAY_AGG(edge IGNORE NULLS ORDER BY device_time DESC, received_at DESC LIMIT 1)[SAFE_OFFSET(0)] AS edge,
    ARRAY_AGG(country IGNORE NULLS ORDER BY device_time DESC, received_at DESC LIMIT 1)[SAFE_OFFSET(0)] AS country,
    ARRAY_AGG(asn IGNORE NULLS ORDER BY device_time DESC, received_at DESC LIMIT 1)[SAFE_OFFSET(0)] AS asn,
    ARRAY_AGG(device_type IGNORE NULLS ORDER BY device_time DESC, received_at DESC LIMIT 1)[SAFE_OFFSET(0)] AS device_type,
    -- a view that continued a play has no startup of its own (QoEView.Startup)
    IF(LOGICAL_OR(continued), NULL,
       ARRAY_AGG(IF(first_startup AND startup_ok, startup_ms, NULL) IGNORE NULLS ORDER BY device_time, received_at LIMIT 1)[SAFE_OFFSET(0)]) AS startup_ms,
    IFNULL(LOGICAL_OR(first_startup AND startup_refused), FALSE) AS startup_refused,
    IFNULL(MAX(IF(counters_ok, played_ms, NULL)), 0) AS played_ms,
    IFNULL(MAX(IF(counters_ok, LEAST(rebuffer_ms, played_ms), NULL)), 0) AS rebuffer_ms,
    SUM(kbps_in_force * grown_ms) AS bitrate_kbps_ms,
    MAX(IF(bitrate_ok, bitrate_kbps, NULL)) AS peak_bitrate_kbps,
    LOGICAL_OR(continued) AS continued,
    LOGICAL_OR(event = 'stop') AS stopped,
    LOGICAL_OR(event = 'error') AS failed,
    MAX(lease_expires_at) AS lease_ends_by
  FROM weighted
  GROUP BY session_id
),
-- The play a session's view is of (playback.QoEPlaySlack): the one it
-- names if that play's first session, of its account and title and naming
-- no play but its own, started no later than it and less than a day
-- before it; else its own.
sessions AS (
  SELECT s.*, IFNULL(f.session_id, s.session_id) AS play_id
  FROM views AS s
  LEFT JOIN views AS f
    ON f.session_id = s.view_id AND f.view_id = f.session_id
    AND f.account_id IS NOT DISTINCT FROM s.account_id AND f.title_id IS NOT DISTINCT FROM s.title_id
    AND f.started_at <= s.started_at AND s.started_at < TIMESTAMP_ADD(f.started_at, INTERVAL 1 DAY)
),
plays AS (
  -- ARRAY_AGG refuses NULL elements: the first session's viewer is taken
  -- as '' for unknown, and the first startup as a STRUCT
  SELECT
    account_id,
    title_id,
    play_id,
    TIMESTAMP_TRUNC(MIN(started_at), HOUR) AS hour,
    NULLIF(ARRAY_AGG(IFNULL(country, '') ORDER BY started_at, session_id LIMIT 1)[OFFSET(0)], '') AS country,
    NULLIF(ARRAY_AGG(IFNULL(asn, '') ORDER BY started_at, session_id LIMIT 1)[OFFSET(0)], '') AS asn,
    NULLIF(ARRAY_AGG(IFNULL(device_type, '') ORDER BY started_at, session_id LIMIT 1)[OFFSET(0)], '') AS device_type,
    ARRAY_AGG(cdn IGNORE NULLS ORDER BY started_at DESC, session_id DESC LIMIT 1)[SAFE_OFFSET(0)] AS cdn,
    ARRAY_AGG(edge IGNORE NULLS ORDER BY started_at DESC, session_id DESC LIMIT 1)[SAFE_OFFSET(0)] AS edge,
    ARRAY_AGG(IF(NOT continued AND (startup_ms IS NOT NULL OR startup_refused), STRUCT(startup_ms, startup_refused), NULL)
      IGNORE NULLS ORDER BY started_at, session_id LIMIT 1)[SAFE_OFFSET(0)] AS first_startup,
    SUM(played_ms) AS played_ms,
    SUM(rebuffer_ms) AS rebuffer_ms,
    SUM(bitrate_kbps_ms) AS bitrate_kbps_ms,
    MAX(peak_bitrate_kbps) AS peak_bitrate_kbps,
    LOGICAL_OR(continued) AS continued,
    LOGICAL_OR(stopped) AS stopped,
    LOGICAL_OR(failed) AS failed,
    MAX(lease_ends_by) AS lease_ends_by
  FROM sessions
  GROUP BY account_id, title_id, play_id
),
play_startups AS (
  SELECT * EXCEPT (first_startup), first_startup.startup_ms AS startup_ms,
    IFNULL(first_startup.startup_refused, FALSE) AS startup_refused
  FROM plays
),
per_view AS (
  SELECT *, IFNULL(startup_ms, 0) > 0 OR startup_refused OR played_ms > 0 OR continued AS started
  FROM play_startups
),
metrics AS (
  SELECT v.*,
    NOT v.failed AND NOT v.started AND (v.stopped OR IFNULL(v.lease_ends_by < CURRENT_TIMESTAMP(), FALSE)) AS exited_before_start,
    IF(v.started AND IFNULL(v.startup_ms, 0) + v.played_ms + v.rebuffer_ms > 0,
       100 * v.rebuffer_ms / (IFNULL(v.startup_ms, 0) + v.played_ms + v.rebuffer_ms), NULL) AS rebuffer_percent,
    IF(v.played_ms > 0 AND v.bitrate_kbps_ms > 0, v.bitrate_kbps_ms / v.played_ms, NULL) AS avg_bitrate_kbps
  FROM per_view AS v
  WHERE v.hour >= from_hour AND v.hour < to_hour
)
SELECT
  hour,
  IFNULL(cdn, '') AS value,
  COUNT(*) AS views,
  COUNTIF(started) AS started,
  COUNTIF(exited_before_start) AS exits_before_start,
  COUNTIF(failed) AS failures,
  SUM(played_ms) AS played_ms,
  SUM(rebuffer_ms) AS rebuffer_ms,
  -- nearest rank: the smallest value at least p of the views are at or below
  ARRAY_AGG(startup_ms IGNORE NULLS ORDER BY startup_ms)[SAFE_OFFSET(CAST(CEIL(0.50 * COUNT(startup_ms)) AS INT64) - 1)] AS startup_ms_p50,
  ARRAY_AGG(startup_ms IGNORE NULLS ORDER BY startup_ms)[SAFE_OFFSET(CAST(CEIL(0.95 * COUNT(startup_ms)) AS INT64) - 1)] AS startup_ms_p95,
  ARRAY_AGG(rebuffer_percent IGNORE NULLS ORDER BY rebuffer_percent)[SAFE_OFFSET(CAST(CEIL(0.50 * COUNT(rebuffer_percent)) AS INT64) - 1)] AS rebuffer_percent_p50,
  ARRAY_AGG(rebuffer_percent IGNORE NULLS ORDER BY rebuffer_percent)[SAFE_OFFSET(CAST(CEIL(0.95 * COUNT(rebuffer_percent)) AS INT64) - 1)] AS rebuffer_percent_p95,
  ARRAY_AGG(avg_bitrate_kbps IGNORE NULLS ORDER BY avg_bitrate_kbps)[SAFE_OFFSET(CAST(CEIL(0.50 * COUNT(avg_bitrate_kbps)) AS INT64) - 1)] AS avg_bitrate_kbps_p50,
  ARRAY_AGG(avg_bitrate_kbps IGNORE NULLS ORDER BY avg_bitrate_kbps)[SAFE_OFFSET(CAST(CEIL(0.95 * COUNT(avg_bitrate_kbps)) AS INT64) - 1)] AS avg_bitrate_kbps_p95,
  ARRAY_AGG(peak_bitrate_kbps IGNORE NULLS ORDER BY peak_bitrate_kbps)[SAFE_OFFSET(CAST(CEIL(0.50 * COUNT(peak_bitrate_kbps)) AS INT64) - 1)] AS peak_bitrate_kbps_p50,
  ARRAY_AGG(peak_bitrate_kbps IGNORE NULLS ORDER BY peak_bitrate_kbps)[SAFE_OFFSET(CAST(CEIL(0.95 * COUNT(peak_bitrate_kbps)) AS INT64) - 1)] AS peak_bitrate_kbps_p95
FROM metrics
GROUP BY 1, 2
ORDER BY hour, views DESC, value;
