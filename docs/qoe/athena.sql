-- QoE aggregates per hour by CDN from the heartbeat stream on AWS
-- (Firehose → S3, Glue table <prefix>_qoe.heartbeats; run in Athena, engine v3).
--
-- The same metrics and bounds as the runner's GET /v1/admin/qoe
-- (shared/playback/qoeview.go): a view is a play (a playback attempt,
-- Mux Data's view): a session, or the sessions of one account and title
-- that go on with one play across re-authorizations and name it
-- (qoe.view, the session it began in), bucketed by the hour its first
-- session started; video startup time, rebuffer percentage (rebuffering over
-- startup + play + rebuffering), exits before video start, playback
-- failures, play-time-weighted average and peak bitrate, after Mux Data's
-- definitions. p50/p95 are nearest-rank and exact, as the runner's.
-- QoEBounds is applied per heartbeat: stall time in no stall (rebuffer_ms
-- with rebuffer_count 0) is refused before the age is judged, startup
-- longer than the session's age (received_at - session_started_at + 10 s)
-- is refused, judged on the first heartbeat that reports it (every later
-- one repeats it), play + stalls longer than the age refuse both counters,
-- stalls are capped at play time, negative figures count as 0, bitrates
-- above 1,000,000 kbps are refused.
-- A view is a function of its heartbeats, as the runner's: they are taken
-- in device time order, then by received_at (a retried heartbeat repeats
-- its device time), never in the order they arrived, so a heartbeat the
-- queue delivered late, out of order or twice changes no figure but by
-- what it says, and only in the hour its view started. Both times are read
-- to the microsecond the message is written to (from_iso8601_timestamp
-- keeps milliseconds): the reports of one CMCD request share a ts
-- millisecond at times, and are accepted a microsecond apart, in the
-- request's order.
-- A view has started with a startup time (even a refused one), play time,
-- or qoe.continued: its session goes on with a play that started, and
-- told its startup, in a session it replaced (a re-authorization).
-- The views of a play's sessions fold into one (playback.QoEPlays), in the
-- order the sessions started: the hour and the viewer are the first
-- session's, the startup the first session's that told one of its own,
-- play, stalls and bitrate × play time add up (each session's counters are
-- its own), CDN and edge are the latest session's that told them, and it
-- stopped or failed if any session did. A session is the play's it names
-- only if that play's first session (of its account and title, naming no
-- play but its own) started no later than it and less than a day before
-- it (playback.QoEPlaySlack); any other session is a view of its own, in
-- its own hour: one naming a session not read, or one that went on with a
-- play itself, or started a day or more after the play's first (a play
-- left on for longer). So an hour's figures are the same asked alone or
-- within a wider range: the query reads the sessions that started a day
-- around its range, by their start as the runner does, with every
-- heartbeat of theirs delivered up to 33 days after the range (dt): the
-- runner takes a heartbeat delivered late into its view, in the hour the
-- view started, for as long as it keeps the view, QOE_RETENTION (31 days,
-- playback.MaxQoERange, by default) after the view's end, and a view read
-- ended within a day of its start (its playback token's end,
-- PLAYBACK_TOKEN_TTL, 4 h by default, plus the token stop grace), which
-- was less than a day after the range. With a PLAYBACK_TOKEN_TTL or
-- QOE_RETENTION longer than that, widen the 33 days to match.
-- A view silent before its first frame (no stop, no error: a crashed tab)
-- is an exit before video start once its session's lease has run out: at
-- the latest lease_expires_at its heartbeats carry (where each left the
-- lease, whatever the stack's LEASE_TTL); until then it is in progress,
-- judged at the query's current_timestamp, so a rerun may count more of
-- the last hours. Heartbeats from before lease_expires_at existed carry
-- none (NULL): a view with none never times out, as the runner treats a
-- view told no lease end, and counts as an exit only when stopped.
--
-- Set the range in scan, the only place it is written; to break down by
-- another dimension replace `cdn` in the last SELECT with title_id, edge,
-- country, asn or device_type (the viewer's, which every heartbeat of a
-- session carries from its playback token; absent when unknown, '' in
-- the result).
--
-- The range is two constant columns of the scanned relation, not a CTE
-- joined into it. Partition projection makes the partitions to read from
-- the conditions on dt (Athena's "How to use the date type" bounds its key
-- with literals; an injected key takes only "literals or expressions that
-- can be evaluated without reading any data"). A bound taken from another
-- relation is known only once that relation is read: it prunes only if a
-- dynamic filter reaches the scan in time, which Trino documents for its
-- Hive connector and Athena does not document for projection. A constant
-- column of the scan itself is inlined by the planner into the filter
-- above it, so the bounds reach the scan as constant expressions in dt's
-- projection format. There is no Athena here and this query was not run:
-- its EXPLAIN shows whether the scan got literal bounds on dt.
WITH scan AS (
  -- the range: its first hour and the hour after its last (UTC)
  SELECT h.*, TIMESTAMP '2026-12-04 00:00:00 UTC' AS from_hour, TIMESTAMP '2026-12-05 00:00:00 UTC' AS to_hour
  FROM heartbeats h
),
beats AS (
  SELECT
    h.session_id,
    -- absent, '' or NULL alike, as the runner's "" (QoEPlay): one value to
    -- match and group plays by
    nullif(h.account_id, '') AS account_id,
    nullif(h.title_id, '') AS title_id,
    h.event,
    from_iso8601_timestamp_nanos(h.device_time) AS device_time,
    from_iso8601_timestamp_nanos(h.received_at) AS received_at,
    -- to the microsecond too: a play's sessions are taken in the order
    -- they started, as the runner takes them (QoEPlays)
    from_iso8601_timestamp_nanos(h.session_started_at) AS started_at,
    from_iso8601_timestamp(h.lease_expires_at) AS lease_expires_at,
    date_diff('millisecond', from_iso8601_timestamp(h.session_started_at), from_iso8601_timestamp(h.received_at)) + 10000 AS age_ms,
    nullif(h.qoe.cdn, '') AS cdn,
    nullif(h.qoe.edge, '') AS edge,
    nullif(h.country, '') AS country,
    CAST(nullif(h.asn, 0) AS varchar) AS asn,
    nullif(h.device_type, '') AS device_type,
    greatest(coalesce(h.qoe.startup_ms, 0), 0) AS startup_ms,
    greatest(coalesce(h.qoe.played_ms, 0), 0) AS played_ms,
    -- stall time in no stall is not believed (playback.QoEBounds)
    IF(coalesce(h.qoe.rebuffer_count, 0) > 0, greatest(coalesce(h.qoe.rebuffer_ms, 0), 0), 0) AS rebuffer_ms,
    -- goes on with a play another session of the page started (QoE.Continued)
    coalesce(h.qoe.continued, false) AS continued,
    -- the play it goes on with: the session the play began in (QoE.View)
    nullif(h.qoe.view, '') AS view_named,
    greatest(coalesce(h.qoe.br, 0), 0) AS bitrate_kbps,
    from_hour,
    to_hour
  FROM scan h
  -- The sessions that started a day (QoEPlaySlack) around the range, as
  -- the runner reads them, with all their heartbeats: a session's come
  -- for as long as it plays. dt is the arrival hour of the oldest record
  -- of a Firehose object, up to its buffer interval before the others: an
  -- hour before the earliest start covers it and the clocks. Above, the
  -- late deliveries the runner still counts (the header's 33 days): every
  -- record of an object arrived no earlier than its dt.
  WHERE h.dt >= date_format(from_hour - INTERVAL '1' DAY - INTERVAL '1' HOUR, '%Y/%m/%d/%H')
    AND h.dt < date_format(to_hour + INTERVAL '33' DAY, '%Y/%m/%d/%H')
    AND from_iso8601_timestamp_nanos(h.session_started_at) >= from_hour - INTERVAL '1' DAY
    AND from_iso8601_timestamp_nanos(h.session_started_at) < to_hour + INTERVAL '1' DAY
),
bounded AS (
  SELECT *,
    startup_ms > 0 AND startup_ms <= age_ms AS startup_ok,
    startup_ms > age_ms AS startup_refused,
    -- not summed: two absurd counters would overflow BIGINT and fail the query
    played_ms <= age_ms AND rebuffer_ms <= age_ms - played_ms AS counters_ok,
    bitrate_kbps > 0 AND bitrate_kbps <= 1000000 AS bitrate_ok
  FROM beats
),
weighted AS (
  SELECT *,
    -- play time this heartbeat adds, at the bitrate in force before it
    IF(counters_ok, greatest(played_ms - coalesce(max(IF(counters_ok, played_ms)) OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0), 0) AS grown_ms,
    coalesce(last_value(IF(bitrate_ok, bitrate_kbps)) IGNORE NULLS OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), IF(bitrate_ok, bitrate_kbps, 0)) AS kbps_in_force,
    -- the first frame happens once, before the first heartbeat that tells of it
    startup_ms > 0 AND count_if(startup_ms > 0) OVER (
      PARTITION BY session_id ORDER BY device_time, received_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) = 0 AS first_startup
  FROM bounded
),
views AS (
  SELECT
    session_id,
    arbitrary(account_id) AS account_id,
    -- the least named, as the runner keeps (QoEView.ViewID)
    coalesce(min(view_named), session_id) AS view_id,
    min(started_at) AS started_at,
    arbitrary(title_id) AS title_id,
    element_at(array_agg(cdn ORDER BY device_time DESC, received_at DESC) FILTER (WHERE cdn IS NOT NULL), 1) AS cdn,
    element_at(array_agg(edge ORDER BY device_time DESC, received_at DESC) FILTER (WHERE edge IS NOT NULL), 1) AS edge,
    element_at(array_agg(country ORDER BY device_time DESC, received_at DESC) FILTER (WHERE country IS NOT NULL), 1) AS country,
    element_at(array_agg(asn ORDER BY device_time DESC, received_at DESC) FILTER (WHERE asn IS NOT NULL), 1) AS asn,
    element_at(array_agg(device_type ORDER BY device_time DESC, received_at DESC) FILTER (WHERE device_type IS NOT NULL), 1) AS device_type,
    -- a view that continued a play has no startup of its own (QoEView.Startup)
    IF(bool_or(continued), NULL, max(startup_ms) FILTER (WHERE first_startup AND startup_ok)) AS startup_ms,
    coalesce(bool_or(startup_refused) FILTER (WHERE first_startup), false) AS startup_refused,
    coalesce(max(played_ms) FILTER (WHERE counters_ok), 0) AS played_ms,
    coalesce(max(least(rebuffer_ms, played_ms)) FILTER (WHERE counters_ok), 0) AS rebuffer_ms,
    sum(kbps_in_force * grown_ms) AS bitrate_kbps_ms,
    max(bitrate_kbps) FILTER (WHERE bitrate_ok) AS peak_bitrate_kbps,
    bool_or(continued) AS continued,
    bool_or(event = 'stop') AS stopped,
    bool_or(event = 'error') AS failed,
    max(lease_expires_at) AS lease_ends_by,
    -- one value on every row: the range
    arbitrary(from_hour) AS from_hour,
    arbitrary(to_hour) AS to_hour
  FROM weighted
  GROUP BY session_id
),
-- The play a session's view is of (playback.QoEPlaySlack): the one it
-- names if that play's first session, of its account and title and naming
-- no play but its own, started no later than it and less than a day
-- before it; else its own.
sessions AS (
  SELECT s.*, coalesce(f.session_id, s.session_id) AS play_id
  FROM views s
  LEFT JOIN views f
    ON f.session_id = s.view_id AND f.view_id = f.session_id
    AND f.account_id IS NOT DISTINCT FROM s.account_id AND f.title_id IS NOT DISTINCT FROM s.title_id
    AND f.started_at <= s.started_at AND s.started_at < f.started_at + INTERVAL '1' DAY
),
plays AS (
  SELECT
    account_id,
    title_id,
    play_id,
    date_trunc('hour', min(started_at)) AS hour,
    element_at(array_agg(country ORDER BY started_at, session_id), 1) AS country,
    element_at(array_agg(asn ORDER BY started_at, session_id), 1) AS asn,
    element_at(array_agg(device_type ORDER BY started_at, session_id), 1) AS device_type,
    element_at(array_agg(cdn ORDER BY started_at DESC, session_id DESC) FILTER (WHERE cdn IS NOT NULL), 1) AS cdn,
    element_at(array_agg(edge ORDER BY started_at DESC, session_id DESC) FILTER (WHERE edge IS NOT NULL), 1) AS edge,
    element_at(array_agg(startup_ms ORDER BY started_at, session_id)
      FILTER (WHERE NOT continued AND (startup_ms IS NOT NULL OR startup_refused)), 1) AS startup_ms,
    coalesce(element_at(array_agg(startup_refused ORDER BY started_at, session_id)
      FILTER (WHERE NOT continued AND (startup_ms IS NOT NULL OR startup_refused)), 1), false) AS startup_refused,
    sum(played_ms) AS played_ms,
    sum(rebuffer_ms) AS rebuffer_ms,
    sum(bitrate_kbps_ms) AS bitrate_kbps_ms,
    max(peak_bitrate_kbps) AS peak_bitrate_kbps,
    bool_or(continued) AS continued,
    bool_or(stopped) AS stopped,
    bool_or(failed) AS failed,
    max(lease_ends_by) AS lease_ends_by,
    arbitrary(from_hour) AS from_hour,
    arbitrary(to_hour) AS to_hour
  FROM sessions
  GROUP BY account_id, title_id, play_id
),
per_view AS (
  SELECT *,
    coalesce(startup_ms, 0) > 0 OR startup_refused OR played_ms > 0 OR continued AS started
  FROM plays
),
metrics AS (
  -- ratios in DOUBLE: 100.0 would be a DECIMAL(4,1), and DECIMAL / BIGINT
  -- keeps scale 1, rounding every view's figure to 0.1
  SELECT *,
    NOT failed AND NOT started AND (stopped OR coalesce(lease_ends_by < current_timestamp, false)) AS exited_before_start,
    IF(started AND coalesce(startup_ms, 0) + played_ms + rebuffer_ms > 0,
       100 * CAST(rebuffer_ms AS double) / (coalesce(startup_ms, 0) + played_ms + rebuffer_ms)) AS rebuffer_percent,
    IF(played_ms > 0 AND bitrate_kbps_ms > 0, CAST(bitrate_kbps_ms AS double) / played_ms) AS avg_bitrate_kbps
  FROM per_view
  WHERE hour >= from_hour AND hour < to_hour
)
SELECT
  hour,
  coalesce(cdn, '') AS value,
  count(*) AS views,
  count_if(started) AS started,
  count_if(exited_before_start) AS exits_before_start,
  count_if(failed) AS failures,
  sum(played_ms) AS played_ms,
  sum(rebuffer_ms) AS rebuffer_ms,
  -- nearest rank: the smallest value at least p of the views are at or below
  IF(count(startup_ms) > 0, element_at(array_sort(array_agg(startup_ms) FILTER (WHERE startup_ms IS NOT NULL)), CAST(ceil(0.50 * count(startup_ms)) AS integer))) AS startup_ms_p50,
  IF(count(startup_ms) > 0, element_at(array_sort(array_agg(startup_ms) FILTER (WHERE startup_ms IS NOT NULL)), CAST(ceil(0.95 * count(startup_ms)) AS integer))) AS startup_ms_p95,
  IF(count(rebuffer_percent) > 0, element_at(array_sort(array_agg(rebuffer_percent) FILTER (WHERE rebuffer_percent IS NOT NULL)), CAST(ceil(0.50 * count(rebuffer_percent)) AS integer))) AS rebuffer_percent_p50,
  IF(count(rebuffer_percent) > 0, element_at(array_sort(array_agg(rebuffer_percent) FILTER (WHERE rebuffer_percent IS NOT NULL)), CAST(ceil(0.95 * count(rebuffer_percent)) AS integer))) AS rebuffer_percent_p95,
  IF(count(avg_bitrate_kbps) > 0, element_at(array_sort(array_agg(avg_bitrate_kbps) FILTER (WHERE avg_bitrate_kbps IS NOT NULL)), CAST(ceil(0.50 * count(avg_bitrate_kbps)) AS integer))) AS avg_bitrate_kbps_p50,
  IF(count(avg_bitrate_kbps) > 0, element_at(array_sort(array_agg(avg_bitrate_kbps) FILTER (WHERE avg_bitrate_kbps IS NOT NULL)), CAST(ceil(0.95 * count(avg_bitrate_kbps)) AS integer))) AS avg_bitrate_kbps_p95,
  IF(count(peak_bitrate_kbps) > 0, element_at(array_sort(array_agg(peak_bitrate_kbps) FILTER (WHERE peak_bitrate_kbps IS NOT NULL)), CAST(ceil(0.50 * count(peak_bitrate_kbps)) AS integer))) AS peak_bitrate_kbps_p50,
  IF(count(peak_bitrate_kbps) > 0, element_at(array_sort(array_agg(peak_bitrate_kbps) FILTER (WHERE peak_bitrate_kbps IS NOT NULL)), CAST(ceil(0.95 * count(peak_bitrate_kbps)) AS integer))) AS peak_bitrate_kbps_p95
FROM metrics
GROUP BY 1, 2
ORDER BY hour, views DESC, value;
