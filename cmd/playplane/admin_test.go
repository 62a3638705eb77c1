package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
)

const cliCatalogue = `{
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "HD"}],
  "titles": [
    {"id": "bbb", "name": "Big Buck Bunny", "rating": 0, "asset_path": "/titles/bbb/", "manifest": "master.m3u8",
     "windows": [{"territory": "DE", "start": "2024-01-01T00:00:00Z", "end": "2035-01-01T00:00:00Z"}]}
  ],
  "edges": [{"id": "fra-1", "cdn": "local", "pop": "fra", "base_url": "http://127.0.0.1:8081", "lat": 50.11, "lon": 8.68}],
  "coverage_zones": {"coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}},
  "accounts": [{"id": "acct_ops", "plan_id": "basic", "territory": "DE", "status": "active"}]
}
`

func run(t *testing.T, cfg Config, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	handled, err := subcommand(context.Background(), cfg, args, &out)
	if !handled {
		t.Fatalf("%v not handled", args)
	}
	return out.String(), err
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importExportRoundTrip imports the catalogue with --store=store, checks
// that a re-import and the export's import change nothing, and that a
// malformed file writes nothing.
func importExportRoundTrip(t *testing.T, cfg Config, store string) {
	file := writeFile(t, "catalogue.json", cliCatalogue)
	out, err := run(t, cfg, "import", "--store="+store, "--dry-run", file)
	if err != nil || !strings.Contains(out, "+ title bbb") || !strings.Contains(out, "5 change(s)") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	exported, err := run(t, cfg, "export", "--store="+store)
	if err != nil || strings.Contains(exported, "bbb") {
		t.Fatalf("the dry run wrote: %v\n%s", err, exported)
	}
	out, err = run(t, cfg, "import", "--store="+store, "--actor", "cli:test", file)
	if err != nil || !strings.Contains(out, "applied in") || !strings.Contains(out, "coverage zones version 1") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = run(t, cfg, "import", "--store="+store, file)
	if err != nil || !strings.Contains(out, "0 change(s), 4 record(s) unchanged") {
		t.Fatalf("re-import: %v\n%s", err, out)
	}
	exported, err = run(t, cfg, "export", "--store="+store, "--accounts")
	if err != nil || !strings.Contains(exported, `"acct_ops"`) {
		t.Fatalf("export: %v\n%s", err, exported)
	}
	out, err = run(t, cfg, "import", "--store="+store, writeFile(t, "export.json", exported))
	if err != nil || !strings.Contains(out, "0 change(s)") {
		t.Fatalf("import of the export: %v\n%s", err, out)
	}
	// A file with one bad field among good new records writes none of them.
	bad := strings.Replace(cliCatalogue, `"id": "bbb"`, `"id": "new-title"`, 1)
	bad = strings.Replace(bad, `"max_devices": 2`, `"max_devices": 0`, 1)
	_, err = run(t, cfg, "import", "--store="+store, writeFile(t, "bad.json", bad))
	if err == nil || !strings.Contains(err.Error(), "line 2: /plans/0/max_devices") {
		t.Fatalf("bad import: %v", err)
	}
	// Nor does one with a name twice, which encoding/json would read as
	// the last: the file is decoded as strictly as an API body.
	twice := strings.Replace(cliCatalogue, `"max_devices": 2`, `"max_devices": 2, "max_devices": 9`, 1)
	_, err = run(t, cfg, "import", "--store="+store, writeFile(t, "twice.json", twice))
	if err == nil || !strings.Contains(err.Error(), "twice.json") || !strings.Contains(err.Error(), "line 2: /plans/0/max_devices") ||
		!strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("import of a name given twice: %v", err)
	}
	after, err := run(t, cfg, "export", "--store="+store, "--accounts")
	if err != nil || after != exported {
		t.Fatalf("the refused file changed the store (%v):\n%s", err, after)
	}
}

func TestImportExportBolt(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), Issuer: "playplane-local", Audience: "playplane"}
	importExportRoundTrip(t, cfg, "bolt")
	s, err := bolt.Open(filepath.Join(cfg.DataDir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// One change set per kind (plans, titles, edges, accounts) and the
	// coverage zone upload, newest first; the no-op imports wrote none.
	page, err := s.ListAudit(context.Background(), "", 10)
	if err != nil || len(page.Records) != 5 {
		t.Fatalf("audit = %+v, %v; want the import's 4 sets and its coverage zones", page, err)
	}
	for i, want := range []playback.Kind{playback.KindCoverageZones, playback.KindAccount, playback.KindEdge, playback.KindTitle, playback.KindPlan} {
		if r := page.Records[i]; r.Actor != "cli:test" || len(r.Changes) != 1 || r.Changes[0].Kind != want {
			t.Fatalf("audit record %d = %+v, want one %s change by cli:test", i, r, want)
		}
	}
}

// The cloud stores through the same subcommands, configured by the
// variables the functions read. Not parallel: it sets the environment.
func TestImportExportDynamoDB(t *testing.T) {
	endpoint := emulators.DynamoDB(t)
	table := playback.NewID("cli")
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	s, err := dynamo.New(context.Background(), dynamo.Config{Table: table}, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	t.Setenv("DYNAMODB_TABLE", table)
	t.Setenv("DYNAMODB_ENDPOINT", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "us-east-1")
	cfg := Config{DataDir: t.TempDir()}
	importExportRoundTrip(t, cfg, "dynamodb")
	if ti, err := s.GetTitle(context.Background(), "bbb"); err != nil || ti.Name != "Big Buck Bunny" {
		t.Fatalf("title in DynamoDB = %+v, %v", ti, err)
	}

	// A title as the layout before the list index wrote it (a LIST# item
	// beside the record) is exported once `playplane migrate` has run.
	for _, it := range []map[string]types.AttributeValue{
		{"pk": &types.AttributeValueMemberS{Value: "TITLE#old"}, "sk": &types.AttributeValueMemberS{Value: "TITLE"},
			"version": &types.AttributeValueMemberN{Value: "3"},
			"doc":     &types.AttributeValueMemberS{Value: `{"id":"old","name":"Old","rating":0,"asset_path":"/o/","manifest":"m"}`}},
		{"pk": &types.AttributeValueMemberS{Value: "LIST#title"}, "sk": &types.AttributeValueMemberS{Value: "old"}},
	} {
		if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	exported := func() string {
		t.Helper()
		out, err := run(t, cfg, "export", "--store=dynamodb")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if strings.Contains(exported(), `"old"`) {
		t.Fatal("an old-layout title is exported before the migration")
	}
	for _, want := range []string{"dynamodb: 1 record(s) moved", "dynamodb: 0 record(s) moved"} {
		if out, err := run(t, cfg, "migrate", "--store=dynamodb"); err != nil || !strings.Contains(out, want) ||
			!strings.Contains(out, "account(s) added to the grace listing") {
			t.Fatalf("migrate: %q, %v; want %q and the grace listing's count", out, err, want)
		}
	}
	if !strings.Contains(exported(), `"old"`) {
		t.Fatal("the migrated title is not exported")
	}
	if out, err := run(t, Config{DataDir: t.TempDir()}, "migrate", "--store=bolt"); err != nil || !strings.Contains(out, "nothing to migrate") {
		t.Fatalf("migrate bolt: %q, %v", out, err)
	}
}

func TestImportExportFirestore(t *testing.T) {
	host := emulators.Firestore(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	t.Setenv("FIRESTORE_PROJECT_ID", "playplane-test")
	t.Setenv("FIRESTORE_COLLECTION_PREFIX", playback.NewID("cli")+"_")
	importExportRoundTrip(t, Config{DataDir: t.TempDir()}, "firestore")
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), Issuer: "playplane-local", Audience: "playplane"}
	sub, err := run(t, cfg, "token", "acct_solo")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := run(t, cfg, "token", "--admin", "ops-alice")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := loadSecrets(filepath.Join(cfg.DataDir, "dev-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(secrets.JWTKey)
	v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: cfg.Issuer, Audience: cfg.Audience,
		HS256Keys: devKeyID + ":" + secrets.JWTKey, Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, tc := range []struct {
		token, sub string
		admin      bool
	}{{strings.TrimSpace(sub), "acct_solo", false}, {strings.TrimSpace(admin), "ops-alice", true}} {
		id, err := v.Verify(context.Background(), tc.token)
		if err != nil || id.AccountID != tc.sub {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.Parse(tc.token, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithoutClaimsValidation()); err != nil {
			t.Fatal(err)
		}
		_, _, _ = jwt.NewParser().ParseUnverified(tc.token, claims)
		if got := auth.HasAdminClaim(claims, auth.DefaultAdminClaim); got != tc.admin {
			t.Fatalf("%s: admin claim %v, want %v", tc.sub, got, tc.admin)
		}
	}
	if _, err := run(t, cfg, "token", "--admin"); err == nil {
		t.Fatal("token --admin without a name succeeded")
	}
}

// TestImportCancellationEndsPlayback: `playplane import` of a file that
// cancels an account with a running stream ends the stream, as the admin
// API's write of the same status does; the session's next renewal is
// refused CodeGone (a heartbeat's 410). Importing the file again, which
// changes no record, ends what a failed end left running.
func TestImportCancellationEndsPlayback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir(), Issuer: "playplane-local", Audience: "playplane"}
	if _, err := run(t, cfg, "import", "--store=bolt", writeFile(t, "catalogue.json", cliCatalogue)); err != nil {
		t.Fatal(err)
	}
	withStore := func(fn func(s *bolt.Store)) {
		t.Helper()
		s, err := bolt.Open(filepath.Join(cfg.DataDir, "playplane.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(s)
	}
	now := time.Now()
	var sess playback.Session
	withStore(func(s *bolt.Store) {
		var err error
		if sess, err = s.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_ops", DeviceID: "tv",
			TitleID: "bbb", Limit: 1, TTL: time.Hour, Now: now}); err != nil {
			t.Fatal(err)
		}
	})
	canceled := strings.Replace(cliCatalogue, `"status": "active"`, `"status": "canceled"`, 1)
	if out, err := run(t, cfg, "import", "--store=bolt", writeFile(t, "canceled.json", canceled)); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	withStore(func(s *bolt.Store) {
		got, err := s.GetSession(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, renew := s.RenewLease(ctx, sess.ID, time.Hour, 0, now.Add(time.Second))
		if got.Active(now) || got.EndReason != playback.EndEntitlement || !playback.IsCode(renew, playback.CodeGone) {
			t.Fatalf("session after the import canceled its account: %+v, renewal %v; want ended %q, renewal gone", got, renew, playback.EndEntitlement)
		}
		// As a session an import whose end failed left running.
		if sess, err = s.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_left", AccountID: "acct_ops", DeviceID: "phone",
			TitleID: "bbb", Limit: 1, TTL: time.Hour, Now: now}); err != nil {
			t.Fatal(err)
		}
	})
	// The file imported again changes no record and still ends it.
	if out, err := run(t, cfg, "import", "--store=bolt", writeFile(t, "again.json", canceled)); err != nil || !strings.Contains(out, "0 change(s)") {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	withStore(func(s *bolt.Store) {
		if got, err := s.GetSession(ctx, sess.ID); err != nil || got.Active(now) || got.EndReason != playback.EndEntitlement {
			t.Fatalf("session left running, after the file is imported again: %+v %v; want ended %q", got, err, playback.EndEntitlement)
		}
	})
}

// TestUnknownCommandRunsNothing: arguments that name no command (a typo,
// a flag the runner does not take, a command with one argument too many)
// are refused with the usage, not ignored: the runner started instead
// would serve, seed an empty DATA_DIR and hold its bolt file.
func TestUnknownCommandRunsNothing(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), Issuer: "playplane-local", Audience: "playplane"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "typo", args: []string{"exprot"}},
		{name: "typo with a file", args: []string{"improt", "catalogue.json"}},
		{name: "help flag", args: []string{"--help"}},
		{name: "openapi with an argument", args: []string{"openapi", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			handled, err := subcommand(context.Background(), cfg, tc.args, &out)
			if !handled || err == nil || !strings.Contains(err.Error(), "usage: playplane") {
				t.Fatalf("%v: handled %v, err %v; want handled with the usage", tc.args, handled, err)
			}
			if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
				t.Fatalf("%v wrote %v in DATA_DIR", tc.args, entries)
			}
		})
	}
	// The document is still a command of its own.
	var out bytes.Buffer
	if handled, err := subcommand(context.Background(), cfg, []string{"openapi"}, &out); !handled || err != nil || !strings.Contains(out.String(), `"openapi"`) {
		t.Fatalf("openapi: handled %v, err %v, %.80s", handled, err, out.String())
	}
}

// TestFailedExportKeepsTheFile: an export to -o that fails leaves the
// file it would have replaced as it was. The failure is the store's: a
// coverage zone file that is not JSON (stores do not parse it), which the
// encoding refuses once the records are read. Written in place, the file
// was truncated first and an operator's last good export was gone.
func TestFailedExportKeepsTheFile(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir()}
	if _, err := run(t, cfg, "import", "--store=bolt", writeFile(t, "catalogue.json", cliCatalogue)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.json")
	if _, err := run(t, cfg, "export", "--store=bolt", "-o", out); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(before), "bbb") {
		t.Fatalf("the first export: %v\n%s", err, before)
	}
	s, err := bolt.Open(filepath.Join(cfg.DataDir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutCoverageZones(context.Background(), playback.CoverageZonesUpload{Data: []byte("not json {"), Actor: "cli:test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, cfg, "export", "--store=bolt", "-o", out); err == nil {
		t.Fatal("the export of a coverage zone file that is not JSON succeeded")
	}
	after, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("after a failed export the file holds %d bytes (%v), want the %d of the last export", len(after), err, len(before))
	}
	if entries, err := os.ReadDir(filepath.Dir(out)); err != nil || len(entries) != 1 {
		t.Fatalf("the export's directory holds %d entries (%v), want the export alone", len(entries), err)
	}
}
