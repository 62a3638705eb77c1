package playback_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestWarehouseSQLNamesTheQoEFields: the warehouse queries (docs/qoe) read
// the heartbeat message's qoe object by its JSON names; a renamed field
// must be renamed there too, or the cloud's figures silently go to zero.
func TestWarehouseSQLNamesTheQoEFields(t *testing.T) {
	t.Parallel()
	jsonNames := func(typ reflect.Type) []string {
		var names []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
		return names
	}
	names, message := jsonNames(reflect.TypeFor[playback.QoE]()), jsonNames(reflect.TypeFor[events.Heartbeat]())
	for _, f := range warehouseSQL(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := regexp.MustCompile(`\bqoe\.(\w+)`).FindAllStringSubmatch(string(raw), -1)
		if len(used) < 6 {
			t.Fatalf("%s reads %d qoe fields", f, len(used))
		}
		for _, m := range used {
			if !slices.Contains(names, m[1]) {
				t.Errorf("%s reads qoe.%s; the message's qoe fields are %v", f, m[1], names)
			}
		}
		// h is the heartbeat message in both queries.
		top := regexp.MustCompile(`\bh\.(\w+)`).FindAllStringSubmatch(string(raw), -1)
		for _, want := range []string{"country", "asn", "device_type"} {
			if !slices.ContainsFunc(top, func(m []string) bool { return m[1] == want }) {
				t.Errorf("%s does not read the viewer's %s", f, want)
			}
		}
		for _, m := range top {
			if m[1] != "qoe" && m[1] != "dt" && m[1] != "publish_time" && !slices.Contains(message, m[1]) {
				t.Errorf("%s reads h.%s; the message's fields are %v", f, m[1], message)
			}
		}
	}
}

// TestWarehouseSQLAnswersWhatTheRunnerDoes: each warehouse query (docs/qoe)
// has a column for every figure of playback.QoEAggregate, a p50 and a p95
// for each of its quantiles, so the cloud's breakdown can be read beside
// the runner's /v1/admin/qoe figure for figure.
func TestWarehouseSQLAnswersWhatTheRunnerDoes(t *testing.T) {
	t.Parallel()
	var want []string
	typ := reflect.TypeFor[playback.QoEAggregate]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type == reflect.TypeFor[playback.Quantiles]() {
			want = append(want, name+"_p50", name+"_p95")
			continue
		}
		want = append(want, name)
	}
	for _, f := range warehouseSQL(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The answer's columns are the last SELECT's.
		last := string(raw)[strings.LastIndex(string(raw), "\nSELECT"):]
		for _, col := range want {
			if !regexp.MustCompile(`(?mi)(\bAS ` + col + `\b|^\s*` + col + `,)`).MatchString(last) {
				t.Errorf("%s answers no column %s", f, col)
			}
		}
	}
}

// sqlCode is a warehouse query file's text without its -- comments.
func sqlCode(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`--.*`).ReplaceAllString(string(raw), "")
}

func warehouseSQL(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "qoe", "*.sql"))
	if err != nil || len(files) != 2 {
		t.Fatalf("docs/qoe/*.sql: %v %v", files, err)
	}
	return files
}

// TestAthenaSQLDividesInDouble: Athena (Trino) types a literal such as
// 100.0 as DECIMAL, and DECIMAL / BIGINT keeps the larger scale of the two
// (https://trino.io/docs/current/functions/decimal.html), so
// 100.0 * rebuffer_ms / watch_ms is rounded to 0.1 %: a view with 1 ms of
// stall in 3 s would be 0.0 % there and 0.033 % in the runner, and the
// nearest-rank p95 of the two would differ. Every ratio must be taken in
// DOUBLE, as the runner's float64 and BigQuery's / (always FLOAT64) do.
func TestAthenaSQLDividesInDouble(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "qoe", "athena.sql"))
	if err != nil {
		t.Fatal(err)
	}
	divisions := 0
	for i, line := range strings.Split(string(raw), "\n") {
		line, _, _ = strings.Cut(line, "--")
		if !strings.Contains(line, " / ") {
			continue
		}
		divisions++
		if !strings.Contains(line, "AS double)") {
			t.Errorf("athena.sql:%d divides without a DOUBLE operand: %s", i+1, strings.TrimSpace(line))
		}
	}
	if divisions < 2 {
		t.Fatalf("athena.sql has %d divisions; rebuffer percent and average bitrate are two", divisions)
	}
}

// TestWarehouseSQLTimesOutViewsWithTheLease: a view silent before its
// first frame is an exit before video start once its session's lease has
// run out (QoEView.Abandoned). Each query judges it by the lease end the
// heartbeats themselves carry (the latest of the view's), as the runner's
// consumer does, so a stack deployed with another LEASE_TTL gets the same
// answer; no copy of LEASE_TTL may stand in for it.
func TestWarehouseSQLTimesOutViewsWithTheLease(t *testing.T) {
	t.Parallel()
	f, ok := reflect.TypeFor[events.Heartbeat]().FieldByName("LeaseExpiresAt")
	if !ok {
		t.Fatal("the heartbeat message carries no lease end (events.Heartbeat.LeaseExpiresAt)")
	}
	lease, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	for _, f := range warehouseSQL(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sql := string(raw)
		if !regexp.MustCompile(`\bh\.` + lease + `\b`).MatchString(sql) {
			t.Errorf("%s does not read the heartbeats' h.%s", f, lease)
		}
		code := regexp.MustCompile(`--.*`).ReplaceAllString(sql, "")
		if regexp.MustCompile(`(?i)lease_ttl|\b120\b|INTERVAL '?2'? MINUTE`).MatchString(code) {
			t.Errorf("%s still carries a copy of the lease length", f)
		}
		exits := regexp.MustCompile(`(?m)^.*AS exited_before_start\b.*$`).FindString(sql)
		if !strings.Contains(exits, "lease_ends_by") {
			t.Errorf("%s judges exits before start without the view's lease end: %q", f, exits)
		}
		if !regexp.MustCompile(`(?i)max\(lease_expires_at\) AS lease_ends_by`).MatchString(sql) {
			t.Errorf("%s does not take a view's lease end as the latest its heartbeats left", f)
		}
	}
}

// TestWarehouseSQLHeaderListsTheBounds: athena.sql's header, to which
// bigquery.sql's refers, says which QoEBounds rules the queries apply;
// each rule must be there, or a reader takes the figures for less bounded
// than they are.
func TestWarehouseSQLHeaderListsTheBounds(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "qoe", "athena.sql"))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(raw), "\nWITH ")
	header = strings.Join(strings.Fields(regexp.MustCompile(`(?m)^--`).ReplaceAllString(header, "")), " ")
	for reason, says := range map[string]string{
		playback.QoENegative:             "negative figures count as 0",
		playback.QoERebufferWithoutStall: "stall time in no stall",
		playback.QoEStartupBeyondAge:     "startup longer than the session's age",
		playback.QoETimeBeyondAge:        "play + stalls longer than the age refuse both counters",
		playback.QoERebufferBeyondPlayed: "stalls are capped at play time",
		playback.QoEBitrateImplausible:   "bitrates above 1,000,000 kbps are refused",
	} {
		if !strings.Contains(header, says) {
			t.Errorf("athena.sql's header does not say the QoEBounds rule %s (%q)", reason, says)
		}
	}
}

// TestWarehouseSQLCountsAContinuedViewAsStarted: a session that goes on
// with a play another session of the page started (qoe.continued: a
// re-authorization replaced that one) has started with no startup time of
// its own (QoEView.Started). Each query must read the flag and count such
// a view as started, or one that took over while paused or stalled and
// then ended is an exit before video start there and not in the runner.
func TestWarehouseSQLCountsAContinuedViewAsStarted(t *testing.T) {
	t.Parallel()
	f, ok := reflect.TypeFor[playback.QoE]().FieldByName("Continued")
	if !ok {
		t.Fatal("playback.QoE tells no continued play")
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	for _, file := range warehouseSQL(t) {
		sql := sqlCode(t, file)
		if !regexp.MustCompile(`\bh\.qoe\.` + name + `\b`).MatchString(sql) {
			t.Errorf("%s does not read h.qoe.%s", file, name)
		}
		// Its startup is none of its own (QoEView.Startup), whatever a
		// report of it told.
		if !regexp.MustCompile(`(?i)IF\((bool_or|LOGICAL_OR)\(` + name + `\), NULL,`).MatchString(sql) {
			t.Errorf("%s: a view that continues a play keeps a startup_ms of its own", file)
		}
		started := regexp.MustCompile(`(?m)^.*AS started$`).FindString(sql)
		if !regexp.MustCompile(`\bOR ` + name + `\b`).MatchString(started) {
			t.Errorf("%s: a view that continues a play is not started: %q", file, started)
		}
	}
}

// TestWarehouseSQLParsesMessageTimes: the warehouses keep the heartbeat
// message's times as the RFC 3339 strings it carries (string and STRING
// columns, infra/stack), and each query reads every one of them through
// one parse its engine takes them in. Athena: from_iso8601_timestamp,
// which takes one to nine fractional digits (Trino's DateTimeFunctions on
// Joda's ISODateTimeFormat.dateTimeParser). BigQuery: TIMESTAMP() takes
// at most six and fails the query on more ("Invalid timestamp"; see
// events' TestMessageTimesAreWarehouseTimestamps), and the table holds
// messages written before the encoder cut its times to the microsecond,
// with Go's nine. So bigquery.sql reads them through message_time, which
// cuts the extra digits first with REGEXP_REPLACE (RE2, as Go's regexp):
// an old message's time must come out as what the encoder writes today
// for the same instant, which TIMESTAMP() takes.
func TestWarehouseSQLParsesMessageTimes(t *testing.T) {
	t.Parallel()
	var times []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[events.Heartbeat]()) {
		if f.Type == reflect.TypeFor[time.Time]() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			times = append(times, name)
		}
	}
	read := func(t *testing.T, file, parse string) string {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "qoe", file))
		if err != nil {
			t.Fatal(err)
		}
		sql := string(raw)
		if len(times) < 4 || !strings.Contains(sql, "h."+times[0]) {
			t.Fatalf("%s does not read the message's times %v", file, times)
		}
		for _, name := range times {
			all := len(regexp.MustCompile(`\bh\.`+name+`\b`).FindAllString(sql, -1))
			parsed := len(regexp.MustCompile(`\b`+parse+`\(h\.`+name+`\)`).FindAllString(sql, -1))
			if parsed != all {
				t.Errorf("%s reads h.%s %d times, %d of them through %s(h.%s)", file, name, all, parsed, parse, name)
			}
		}
		return sql
	}
	t.Run("athena", func(t *testing.T) {
		t.Parallel()
		read(t, "athena.sql", "from_iso8601_timestamp(?:_nanos)?")
	})
	t.Run("bigquery", func(t *testing.T) {
		t.Parallel()
		sql := read(t, "bigquery.sql", "message_time")
		fn := regexp.MustCompile(`(?i)CREATE TEMP FUNCTION message_time\(s STRING\) AS \(\s*TIMESTAMP\(REGEXP_REPLACE\(s, r'([^']+)', r'([^']+)'\)\)\s*\);`).FindStringSubmatch(sql)
		if fn == nil {
			t.Fatal("bigquery.sql declares no message_time(s STRING) AS (TIMESTAMP(REGEXP_REPLACE(s, r'…', r'…')))")
		}
		cut, repl := regexp.MustCompile(fn[1]), regexp.MustCompile(`\\(\d)`).ReplaceAllString(fn[2], `$${$1}`)
		for _, at := range []time.Time{
			time.Date(2026, 3, 1, 20, 15, 30, 123_456_789, time.UTC),
			time.Date(2026, 3, 1, 20, 15, 30, 123_456_700, time.UTC),
			time.Date(2026, 3, 1, 20, 15, 30, 123_456_000, time.UTC),
			time.Date(2026, 3, 1, 20, 15, 30, 250_000_000, time.UTC),
			time.Date(2026, 3, 1, 20, 15, 30, 0, time.UTC),
			time.Date(2026, 3, 1, 22, 15, 30, 999_999_999, time.FixedZone("", 2*3600)),
		} {
			old, err := at.MarshalText() // what the encoder wrote before
			if err != nil {
				t.Fatal(err)
			}
			data, err := (&events.Heartbeat{ReceivedAt: at}).AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			var now struct {
				ReceivedAt string `json:"received_at"`
			}
			if err := json.Unmarshal(data, &now); err != nil {
				t.Fatal(err)
			}
			if got := cut.ReplaceAllString(string(old), repl); got != now.ReceivedAt {
				t.Errorf("message_time reads %s as %s, want %s as the encoder writes it", old, got, now.ReceivedAt)
			}
		}
	})
}

// TestWarehouseSQLOrdersBeatsAsTheRunner: a view's startup (the first
// heartbeat that tells of it), its bitrate weighting and its latest
// dimensions depend on the order of its heartbeats. The runner's views
// (QoEView.Apply) order them by device time, then by when they were
// accepted (a player retrying a heartbeat sends the same device time), so
// the answer is the same in every delivery order; each query must order
// them the same way wherever it orders them, or two heartbeats with one
// device time are taken in whatever order the engine reads them.
func TestWarehouseSQLOrdersBeatsAsTheRunner(t *testing.T) {
	t.Parallel()
	for _, f := range warehouseSQL(t) {
		code := sqlCode(t, f)
		if !regexp.MustCompile(`\bh\.received_at\b[^,]*\bAS received_at\b`).MatchString(code) {
			t.Errorf("%s does not read when each heartbeat was accepted as received_at", f)
		}
		// The runner orders by the times as the message writes them
		// (events.MessageTimeUnit): the reports of one CMCD request are
		// accepted that far apart. Athena's from_iso8601_timestamp keeps
		// milliseconds (timestamp(3)), which would tie them.
		if strings.HasSuffix(f, "athena.sql") {
			for _, key := range []string{"device_time", "received_at"} {
				if !regexp.MustCompile(`\bfrom_iso8601_timestamp_nanos\(h\.` + key + `\) AS ` + key + `\b`).MatchString(code) {
					t.Errorf("%s reads %s to the millisecond; the runner orders by the message's microseconds (from_iso8601_timestamp_nanos)", f, key)
				}
			}
		}
		ordered := 0
		for _, m := range regexp.MustCompile(`(?i)ORDER BY device_time( DESC)?(, received_at( DESC)?)?`).FindAllStringSubmatch(code, -1) {
			ordered++
			if m[2] == "" || m[1] != m[3] {
				t.Errorf("%s orders heartbeats by %q, not by device time then received_at the same way", f, m[0])
			}
		}
		if regexp.MustCompile(`(?i)_by\([^)]*device_time\)`).MatchString(code) {
			t.Errorf("%s picks a value by device time alone (max_by/min_by)", f)
		}
		if ordered < 3 {
			t.Errorf("%s orders heartbeats in %d places; startup, bitrate weighting and the latest dimensions need it", f, ordered)
		}
	}
}

// TestWarehouseSQLCountsAPlayOnce: a play that goes on across
// re-authorizations is one view (QoEPlays, TestReauthorizedPlayIsOneView):
// each query must fold the sessions' views of one account and title that
// name the same play (qoe.view, the session the play began in; its own
// when none) into one, in the hour its first session started, with the
// viewer of its first session, the startup of the first session that did
// not go on with a play, and the play, stalls and bitrate × play time of
// all of them added up; and read the heartbeats of QoEPlaySlack before
// its range too, where the first sessions of plays that go on into it
// are. Counted per session, a re-authorized play was two views.
func TestWarehouseSQLCountsAPlayOnce(t *testing.T) {
	t.Parallel()
	f, ok := reflect.TypeFor[playback.QoE]().FieldByName("View")
	if !ok {
		t.Fatal("playback.QoE names no play")
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if playback.QoEPlaySlack != 24*time.Hour {
		t.Fatalf("QoEPlaySlack is %s; the queries read a day around their range", playback.QoEPlaySlack)
	}
	for _, file := range warehouseSQL(t) {
		sql := sqlCode(t, file)
		plays := regexp.MustCompile(`(?s)\bplays AS \((.*?)\n\),`).FindStringSubmatch(sql)
		if plays == nil {
			t.Errorf("%s has no plays AS (...) step folding the sessions' views of a play", file)
			continue
		}
		for _, want := range []struct{ in, what, re string }{
			{sql, "read the play each heartbeat names", `\bh\.qoe\.` + name + `\b`},
			{sql, "read the heartbeat's account", `\bh\.account_id\b`},
			{sql, "take a session's play as the one it names, its own when none", `(?i)(coalesce|IFNULL)\(min\(view_named\), session_id\) AS view_id`},
			{sql, "read a day of heartbeats before its range", `(?i)( from_hour - INTERVAL '1' DAY|TIMESTAMP_SUB\(from_hour, INTERVAL 1 DAY\))`},
			{plays[1], "take the play's hour from its first session", `(?i)_TRUNC\(('hour', min\(started_at\)|MIN\(started_at\), HOUR)\) AS hour`},
			{plays[1], "add up the sessions' play", `(?i)sum\(played_ms\) AS played_ms`},
			{plays[1], "add up the sessions' stalls", `(?i)sum\(rebuffer_ms\) AS rebuffer_ms`},
			{plays[1], "add up the sessions' bitrate × play time", `(?i)sum\(bitrate_kbps_ms\) AS bitrate_kbps_ms`},
			{plays[1], "take the viewer of the first session", `(?i)country(, '')?\)? ORDER BY started_at, session_id\b`},
			{plays[1], "take the startup of the first session that told one of its own", `(?i)NOT continued AND \(startup_ms IS NOT NULL OR startup_refused\)`},
		} {
			if !regexp.MustCompile(want.re).MatchString(want.in) {
				t.Errorf("%s does not %s (%s)", file, want.what, want.re)
			}
		}
	}
}

// TestWarehouseSQLOrdersSessionsAsTheRunner: a play's hour, viewer and
// startup are its first session's, and its CDN and edge its latest's
// (QoEPlays): the runner orders a play's sessions by when they started as
// the message writes it (events.MessageTimeUnit), then by session id.
// Each query must order them so wherever it does, and read the start to
// the message's microsecond: Athena's from_iso8601_timestamp keeps
// milliseconds, so two sessions of a play started in one millisecond were
// taken by session id there and by their start in the runner.
func TestWarehouseSQLOrdersSessionsAsTheRunner(t *testing.T) {
	t.Parallel()
	for _, f := range warehouseSQL(t) {
		code := sqlCode(t, f)
		if strings.HasSuffix(f, "athena.sql") && !regexp.MustCompile(`\bfrom_iso8601_timestamp_nanos\(h\.session_started_at\) AS started_at\b`).MatchString(code) {
			t.Errorf("%s reads started_at to the millisecond; the runner orders a play's sessions by the message's microseconds (from_iso8601_timestamp_nanos)", f)
		}
		ordered := regexp.MustCompile(`(?i)ORDER BY started_at( DESC)?(, session_id( DESC)?)?`).FindAllStringSubmatch(code, -1)
		for _, m := range ordered {
			if m[2] == "" || m[1] != m[3] {
				t.Errorf("%s orders sessions by %q, not by start then session id the same way", f, m[0])
			}
		}
		if len(ordered) < 5 {
			t.Errorf("%s orders sessions in %d places; the viewer's three, startup, CDN and edge need it", f, len(ordered))
		}
	}
}

// TestWarehouseSQLTakesASessionIntoAPlayAsTheRunner: an hour's figures
// must not depend on the range it is asked in (TestPlaysDoNotDependOnTheRange),
// in the warehouse as in the runner. Each query must take a session into
// the play it names by QoEPlays' rule (QoEPlaySlack): only when the play's
// first session, of its account and title and naming no play but its own,
// started no later than it and less than QoEPlaySlack before it; any other
// session is a view of its own. And it must read sessions as the runner
// does, by their start (the sessions that started up to QoEPlaySlack
// around the range), every heartbeat of theirs the runner would count: the
// delivery partition (Athena's dt, BigQuery's publish_time) bounded below
// an hour before the earliest start (Firehose names an object by its
// oldest record's arrival, up to its buffer interval before the others;
// clocks differ), and above by when the runner stops taking a session's
// late heartbeats (warehouseLateDelivery). The queries took every session
// naming a play into it, and read heartbeats by the hour they came in, a
// day around the range: a play longer than a day had more play time in a
// wide range than in its own hour, and a long session lost its heartbeats
// past the range's day.
func TestWarehouseSQLTakesASessionIntoAPlayAsTheRunner(t *testing.T) {
	t.Parallel()
	if playback.QoEPlaySlack != 24*time.Hour {
		t.Fatalf("QoEPlaySlack is %s; the queries take a day", playback.QoEPlaySlack)
	}
	late := warehouseLateDelivery(t)
	for _, file := range warehouseSQL(t) {
		sql := sqlCode(t, file)
		sql = strings.Join(strings.Fields(sql), " ")
		for _, want := range []struct{ what, re string }{
			{"read the sessions that started from a day before its range", `\b(from_iso8601_timestamp_nanos|message_time)\(h\.session_started_at\) >= (from_hour - INTERVAL '1' DAY|TIMESTAMP_SUB\(from_hour, INTERVAL 1 DAY\))`},
			{"read the sessions that started up to a day after its range", `\b(from_iso8601_timestamp_nanos|message_time)\(h\.session_started_at\) < (to_hour \+ INTERVAL '1' DAY|TIMESTAMP_ADD\(to_hour, INTERVAL 1 DAY\))`},
			{"read their heartbeats from an hour before the earliest start", `\bh\.(dt >= date_format\(from_hour - INTERVAL '1' DAY - INTERVAL '1' HOUR, '%Y/%m/%d/%H'\)|publish_time >= TIMESTAMP_SUB\(TIMESTAMP_SUB\(from_hour, INTERVAL 1 DAY\), INTERVAL 1 HOUR\))`},
			{"read their heartbeats delivered up to when the runner stops taking them", `\bh\.(dt < date_format\(to_hour \+ INTERVAL '` + late + `' DAY, '%Y/%m/%d/%H'\)|publish_time < TIMESTAMP_ADD\(to_hour, INTERVAL ` + late + ` DAY\))`},
			{"look the named play's first session up among the sessions read", `(?i)\bFROM views (AS )?s LEFT JOIN views (AS )?f ON f\.session_id = s\.view_id AND f\.view_id = f\.session_id AND `},
			{"take the first session of the session's account and title only", `(?i) AND f\.account_id IS NOT DISTINCT FROM s\.account_id AND f\.title_id IS NOT DISTINCT FROM s\.title_id AND `},
			{"take a session started within QoEPlaySlack of the first", `(?i) AND f\.started_at <= s\.started_at AND s\.started_at < (f\.started_at \+ INTERVAL '1' DAY|TIMESTAMP_ADD\(f\.started_at, INTERVAL 1 DAY\))`},
			{"make any other session a view of its own", `(?i)\b(coalesce|IFNULL)\(f\.session_id, s\.session_id\) AS play_id\b`},
			{"fold the sessions of one account, title and play", `(?i)\bplays AS \(.*? FROM sessions GROUP BY account_id, title_id, play_id \),`},
		} {
			if !regexp.MustCompile(want.re).MatchString(sql) {
				t.Errorf("%s does not %s (%s)", file, want.what, want.re)
			}
		}
		if n := len(regexp.MustCompile(`\bh\.(dt|publish_time) <`).FindAllString(sql, -1)); n != 1 {
			t.Errorf("%s bounds the heartbeats it reads by when they came in %d times above, want once", file, n)
		}
	}
}

// warehouseLateDelivery is how long after the end of a query's range the
// warehouse queries read heartbeats delivered, in days. The runner takes
// a heartbeat delivered late into its view for as long as it keeps the
// view, QOE_RETENTION after the view's end (bolt.DefaultQoERetention by
// default; later it drops it, prunedViewOf), and never moves a view out of
// the hour it started. A view the query reads started less than
// QoEPlaySlack after the range and took its last heartbeat within a day of
// its start (its playback token's end, PLAYBACK_TOKEN_TTL, 4 h by default,
// plus HEARTBEAT_TOKEN_STOP_GRACE): so no heartbeat the runner counts is
// delivered later than this after the range's end, and the queries need
// not scan the partitions after it.
func warehouseLateDelivery(t *testing.T) string {
	t.Helper()
	const day = 24 * time.Hour
	const sessionPlay = day
	late := playback.QoEPlaySlack + sessionPlay + bolt.DefaultQoERetention
	if late%day != 0 {
		t.Fatalf("the late-delivery bound %s is not whole days", late)
	}
	return strconv.Itoa(int(late / day))
}

// TestWarehouseSQLTakesAnEmptyAccountAsNone: a play is one account's and
// title's (QoEPlay), and the runner keys them by Go strings, where an
// absent account is "" whichever way it was absent. The queries match
// and group them with IS NOT DISTINCT FROM and GROUP BY, where NULL (a
// message without the field; BigQuery's columns are NULLABLE) and the
// empty string (a message with an empty one) are two values: a session naming a play was
// refused into it, and the sessions of one play were two views. Each
// query must read both as NULL, once, where it reads the heartbeat.
func TestWarehouseSQLTakesAnEmptyAccountAsNone(t *testing.T) {
	t.Parallel()
	for _, file := range warehouseSQL(t) {
		sql := sqlCode(t, file)
		for _, key := range []string{"account_id", "title_id"} {
			all := len(regexp.MustCompile(`\bh\.`+key+`\b`).FindAllString(sql, -1))
			if !regexp.MustCompile(`(?i)\bNULLIF\(h\.`+key+`, ''\) AS `+key+`\b`).MatchString(sql) || all != 1 {
				t.Errorf("%s reads h.%s %d times, not once as NULLIF(h.%s, '') AS %s: '' and NULL are two accounts or titles there, one in the runner", file, key, all, key, key)
			}
		}
	}
}

// TestWarehouseSQLBoundsThePartitionByConstants: each warehouse bills by
// the partitions a query reads, and prunes them only by bounds it knows
// before reading any data. BigQuery prunes a column-partitioned table by
// a filter comparing the partitioning column with a constant expression
// ("Query partitioned tables", best practices: a value from a subquery or
// another column is dynamic, and every partition is scanned). Athena's
// partition projection makes the partitions to read from the conditions
// on the projected key (its "How to use the date type" bounds it with
// literals; an injected key takes only "literals or expressions that can
// be evaluated without reading any data"). The queries took their range
// from a params CTE joined into the scan, a value read from another
// relation, so an hour's report could scan, and bill, the whole table.
// Each bound on the partition column the stack declares (infra/stack)
// must be made of literals, functions, INTERVAL and the range, which must
// be a constant: a BigQuery script variable with a literal default, or a
// column the scanned relation defines as a literal over its table alone
// (the planner inlines it), with no other relation in the scan. And the
// range is written once, so a user sets it in one place.
func TestWarehouseSQLBoundsThePartitionByConstants(t *testing.T) {
	t.Parallel()
	stack, err := os.ReadFile(filepath.Join("..", "..", "infra", "stack", "qoe.go"))
	if err != nil {
		t.Fatal(err)
	}
	declared := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindSubmatch(stack)
		if m == nil {
			t.Fatalf("infra/stack/qoe.go declares no %s", re)
		}
		return string(m[1])
	}
	projected := declared(`PartitionKeys:\s+\[\]awsres\.CatalogTablePartitionKeyArgs\{\{Name: pulumi\.String\("(\w+)"\)`)
	format := declared(`"projection\.` + projected + `\.format":\s*pulumi\.String\("([^"]+)"\)`)
	partitioned := declared(`TimePartitioning:\s+&gcpres\.TableTimePartitioningArgs\{Type: pulumi\.String\("DAY"\), Field: pulumi\.String\("(\w+)"\)\}`)
	// Athena's date_format takes MySQL's specifiers, the projection Java's.
	format = strings.NewReplacer("yyyy", "%Y", "MM", "%m", "dd", "%d", "HH", "%H").Replace(format)
	// A column of the table would take the place of a constant of its
	// name: a BigQuery column hides a variable, and in Athena the two are
	// one ambiguous name.
	var columns []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[events.Heartbeat]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		columns = append(columns, name)
	}
	for _, tc := range []struct{ name, file, column string }{
		{name: "athena", file: "athena.sql", column: projected},
		{name: "bigquery", file: "bigquery.sql", column: partitioned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code := sqlCode(t, filepath.Join("..", "..", "docs", "qoe", tc.file))
			literals := regexp.MustCompile(`(?i)\bTIMESTAMP '[^']*'`).FindAllString(code, -1)
			joined := regexp.MustCompile(`(?i),|\bJOIN\b`)
			var lower, upper int
			for _, b := range regexp.MustCompile(`\bh\.`+tc.column+`\s*(>=|>|<=|<|=)\s*`).FindAllStringSubmatchIndex(code, -1) {
				switch code[b[2]:b[3]] {
				case ">=", ">":
					lower++
				case "<=", "<":
					upper++
				}
				// The relations the bound is evaluated against: the FROM
				// of the SELECT it filters.
				from := code[strings.LastIndex(code[:b[0]], "FROM "):b[0]]
				from, _, _ = strings.Cut(from, "WHERE")
				from = strings.Join(strings.Fields(from), " ")
				if joined.MatchString(from) {
					t.Errorf("%s bounds h.%s in a scan joined to another relation: %q", tc.file, tc.column, from)
				}
				constants := rangeConstants(code, from)
				for name := range constants {
					if slices.Contains(columns, name) {
						t.Errorf("%s names a constant of its range %s, as a column of the heartbeats", tc.file, name)
					}
				}
				if len(constants) != 2 || len(literals) != 2 {
					t.Errorf("%s writes the range as %d TIMESTAMP literals, %d of them constants its bound on h.%s can read (%v); want it written once, as two constants", tc.file, len(literals), len(constants), tc.column, constants)
				}
				expr := sqlOperand(code[b[1]:])
				for _, problem := range nonConstant(expr, constants) {
					t.Errorf("%s bounds h.%s by %q: %s", tc.file, tc.column, expr, problem)
				}
				if tc.column == projected {
					for _, m := range regexp.MustCompile(`date_format\(.*, '([^']*)'\)$`).FindAllStringSubmatch(expr, -1) {
						if m[1] != format {
							t.Errorf("%s formats a bound on h.%s as %q; the projection's format is %q", tc.file, tc.column, m[1], format)
						}
					}
				}
			}
			if lower == 0 || upper == 0 {
				t.Errorf("%s bounds h.%s %d times from below and %d times from above; want both", tc.file, tc.column, lower, upper)
			}
		})
	}
}

// rangeConstants are the names a bound in a SELECT reading from may take,
// known before the query reads any data: BigQuery script variables
// declared with a literal default, and the columns the relation it scans
// as h defines as a literal, over its table alone.
func rangeConstants(code, from string) map[string]bool {
	constants := map[string]bool{}
	literal := `(?:TIMESTAMP|DATE) '[^']*'`
	for _, m := range regexp.MustCompile(`(?im)^\s*DECLARE (\w+) \w+ DEFAULT `+literal+`\s*;`).FindAllStringSubmatch(code, -1) {
		constants[m[1]] = true
	}
	scanned := regexp.MustCompile(`^FROM (\w+) (?:AS )?h$`).FindStringSubmatch(from)
	if scanned == nil {
		return constants
	}
	def := regexp.MustCompile(`(?s)\b` + scanned[1] + ` AS \(\s*SELECT (.*?)\s+FROM \w+ (?:AS )?h\s*\)`).FindStringSubmatch(code)
	if def == nil {
		return constants
	}
	for _, c := range regexp.MustCompile(`(?:^|,)\s*`+literal+` AS (\w+)\b`).FindAllStringSubmatch(def[1], -1) {
		constants[c[1]] = true
	}
	return constants
}

// sqlOperand is the expression s starts with: up to an AND or OR, a
// closing parenthesis or the end of the statement, outside any
// parenthesis of its own.
func sqlOperand(s string) string {
	next := regexp.MustCompile(`(?i)^\s(AND|OR)\s`)
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			if j := strings.IndexByte(s[i+1:], '\''); j >= 0 {
				i += j + 1
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return strings.TrimSpace(s[:i])
			}
			depth--
		case ';':
			return strings.TrimSpace(s[:i])
		default:
			if depth == 0 && next.MatchString(s[i:]) {
				return strings.TrimSpace(s[:i])
			}
		}
	}
	return strings.TrimSpace(s)
}

// nonConstant tells what in expr a query knows only by reading data: a
// column of a relation, a subquery, a name that is not a constant.
func nonConstant(expr string, constants map[string]bool) []string {
	keywords := []string{"INTERVAL", "DAY", "HOUR", "TIMESTAMP", "DATE"}
	plain := regexp.MustCompile(`^('(?:[^']|'')*'|\d+|[(),+\-*/]|\s+)$`)
	var tokens []string
	for _, tok := range regexp.MustCompile(`'(?:[^']|'')*'|\d+|[A-Za-z_]\w*(?:\.\w+)*|[(),+\-*/]|\s+|.`).FindAllString(expr, -1) {
		if strings.TrimSpace(tok) != "" {
			tokens = append(tokens, tok)
		}
	}
	var problems []string
	for i, tok := range tokens {
		next := ""
		if i+1 < len(tokens) {
			next = tokens[i+1]
		}
		switch {
		case plain.MatchString(tok):
		case strings.EqualFold(tok, "SELECT"):
			problems = append(problems, "a subquery")
		case strings.Contains(tok, "."):
			problems = append(problems, tok+" is a column of a relation")
		case !regexp.MustCompile(`^[A-Za-z_]`).MatchString(tok):
			problems = append(problems, "unexpected "+tok)
		case next == "(" || slices.ContainsFunc(keywords, func(k string) bool { return strings.EqualFold(k, tok) }):
		case !constants[tok]:
			problems = append(problems, tok+" is not a constant")
		}
	}
	return problems
}
