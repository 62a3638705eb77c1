package authorizeplay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// hookStore runs afterRead between a play's reads and its admission, and
// afterAcquire right after the admission: the windows a racing DELETE
// /v1/devices/{id} falls into.
type hookStore struct {
	authorizeplay.Store
	afterRead    func()
	afterAcquire func(playback.Session)
}

func (s *hookStore) ReadAdmission(ctx context.Context, accountID string, now time.Time) (playback.AdmissionRead, error) {
	r, err := s.Store.ReadAdmission(ctx, accountID, now)
	if err == nil && s.afterRead != nil {
		s.afterRead()
	}
	return r, err
}

func (s *hookStore) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	sess, err := s.Store.AcquireLease(ctx, req)
	if err == nil && s.afterAcquire != nil {
		s.afterAcquire(sess)
	}
	return sess, err
}

// openBolt is a fresh bolt store.
func openBolt(t *testing.T) playback.Store {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// openDynamo is a fresh table on DynamoDB Local (shared/emulators): its
// reads are ConsistentRead, which the device removal's ordering needs.
func openDynamo(t *testing.T) playback.Store {
	t.Helper()
	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(emulators.DynamoDB(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	table := playback.NewID("dev")
	s, err := dynamo.New(ctx, dynamo.Config{Table: table}, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return s
}

// deviceStores are the stores the removal race runs on. Not the Firestore
// emulator: its transactions do not abort on contention (see
// infra/local/README.md), so racing account updates prove nothing there.
var deviceStores = []struct {
	name string
	open func(t *testing.T) playback.Store
}{{"bolt", openBolt}, {"dynamodb", openDynamo}}

// newHookHarness is newHarness over store, with the function over hook.
func newHookHarness(t *testing.T, store playback.Store) (*harness, *hookStore) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	if err := demo.Seed(context.Background(), store, "http://edge.test", now); err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hook := &hookStore{Store: store}
	h := &harness{t: t, store: store, tokens: auth.NewDevKeyring(), now: now}
	h.srv, err = authorizeplay.New(authorizeplay.Config{PastDueGrace: 72 * time.Hour, LeaseTTL: 2 * time.Minute, TokenTTL: time.Hour, MaxBody: 4096},
		authorizeplay.Deps{Store: hook, Identity: verifier, Tokens: h.tokens, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	return h, hook
}

func decodeAs[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return v
}

func (h *harness) devices(t *testing.T, account string) authorizeplay.DeviceList {
	t.Helper()
	return decodeAs[authorizeplay.DeviceList](t, h.do(http.MethodGet, "/v1/devices", h.token(account), ""), http.StatusOK)
}

// activeOn lists the account's active sessions on device.
func (h *harness) activeOn(t *testing.T, account, device string) []playback.Session {
	t.Helper()
	active, err := h.store.ListActiveSessions(context.Background(), account, h.now)
	if err != nil {
		t.Fatal(err)
	}
	var out []playback.Session
	for _, s := range active {
		if s.DeviceID == device {
			out = append(out, s)
		}
	}
	return out
}

func TestDevicesListRenameRemove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token(demo.AccountFamily)
	tv := decodeAs[authorizeplay.PlayResponse](t, h.do(http.MethodPost, "/v1/play", tok,
		`{"title_id":"sintel","device_id":"tv-1","device_name":"TV"}`), http.StatusCreated)
	decodeAs[authorizeplay.PlayResponse](t, h.play(demo.AccountFamily, "big-buck-bunny", "phone-1"), http.StatusCreated)
	// A device registered earlier and idle now.
	h.now = h.now.Add(5 * time.Second)

	list := h.devices(t, demo.AccountFamily)
	if list.MaxDevices != 5 || len(list.Devices) != 2 {
		t.Fatalf("devices %+v", list)
	}
	got := map[string]authorizeplay.DeviceView{}
	for _, d := range list.Devices {
		got[d.DeviceID] = d
	}
	if d := got["tv-1"]; d.Name != "TV" || !d.Playing || d.SessionID != tv.SessionID || d.LastSeenAt.IsZero() || d.RegisteredAt.IsZero() {
		t.Fatalf("tv-1 %+v", d)
	}

	renamed := decodeAs[authorizeplay.DeviceView](t, h.do(http.MethodPatch, "/v1/devices/tv-1", tok, `{"name":"Living room"}`), http.StatusOK)
	if renamed.Name != "Living room" || !renamed.Playing {
		t.Fatalf("renamed %+v", renamed)
	}
	acct, _ := h.store.GetAccount(context.Background(), demo.AccountFamily)
	if acct.Devices[0].Name != "Living room" {
		t.Fatalf("stored %+v", acct.Devices)
	}

	gone := decodeAs[authorizeplay.DeviceRemoval](t, h.do(http.MethodDelete, "/v1/devices/tv-1", tok, ""), http.StatusOK)
	if !gone.Removed || len(gone.EndedSessions) != 1 || gone.EndedSessions[0].SessionID != tv.SessionID ||
		gone.EndedSessions[0].EndReason != playback.EndDeviceRemoved {
		t.Fatalf("removal %+v", gone)
	}
	if list := h.devices(t, demo.AccountFamily); len(list.Devices) != 1 || list.Devices[0].DeviceID != "phone-1" || !list.Devices[0].Playing {
		t.Fatalf("after removal %+v", list)
	}
	if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 0 {
		t.Fatalf("removed device still plays: %+v", s)
	}
	// The removed device's token is revoked with its lease.
	if _, err := h.store.ExtendLease(context.Background(), tv.SessionID, h.now.Add(time.Minute), h.now); !playback.IsCode(err, playback.CodeGone) {
		t.Fatalf("lease of the removed device: %v", err)
	}
	rec := h.do(http.MethodDelete, "/v1/devices/tv-1", tok, "")
	if e := errorOf(t, rec); rec.Code != 404 || e.Reason != "device_not_found" {
		t.Fatalf("second delete: %d %+v", rec.Code, e)
	}
}

// TestRemovingADeviceFreesItsSlot: at the plan's device limit a new device
// is refused until one is removed.
func TestRemovingADeviceFreesItsSlot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token(demo.AccountSolo) // basic: 2 devices, 1 stream
	for _, d := range []string{"a", "b"} {
		play := decodeAs[authorizeplay.PlayResponse](t, h.play(demo.AccountSolo, "sintel", d), http.StatusCreated)
		// One stream: stop before the next device plays.
		if rec := h.do(http.MethodDelete, "/v1/sessions/"+play.SessionID, tok, ""); rec.Code != 200 {
			t.Fatalf("stop: %d", rec.Code)
		}
	}
	if rec := h.play(demo.AccountSolo, "sintel", "c"); rec.Code != 403 || errorOf(t, rec).Reason != "device_limit" {
		t.Fatalf("third device: %d %s", rec.Code, rec.Body)
	}
	decodeAs[authorizeplay.DeviceRemoval](t, h.do(http.MethodDelete, "/v1/devices/a", tok, ""), http.StatusOK)
	if rec := h.play(demo.AccountSolo, "sintel", "c"); rec.Code != 201 {
		t.Fatalf("after freeing a slot: %d %s", rec.Code, rec.Body)
	}
}

// TestDeviceRoutesRefuseBadInput: typed 4xx, nothing written.
func TestDeviceRoutesRefuseBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, path, contentType, body string
		account                               string // "" : no token
		status                                int
		reason                                string
	}{
		{"no token", "GET", "/v1/devices", "", "", "", 401, ""},
		{"rename without a token", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"x"}`, "", 401, ""},
		{"malformed id", "PATCH", "/v1/devices/tv%201", "application/json", `{"name":"x"}`, demo.AccountFamily, 400, "device_id"},
		{"id too long", "DELETE", "/v1/devices/" + strings.Repeat("d", 129), "", "", demo.AccountFamily, 400, "device_id"},
		{"no name", "PATCH", "/v1/devices/tv-1", "application/json", `{}`, demo.AccountFamily, 400, "device_name"},
		{"null name", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":null}`, demo.AccountFamily, 400, "device_name"},
		{"blank name", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"  "}`, demo.AccountFamily, 400, "device_name"},
		{"name too long", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"` + strings.Repeat("é", 129) + `"}`, demo.AccountFamily, 400, "device_name"},
		{"control character", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"TV\n2"}`, demo.AccountFamily, 400, "device_name"},
		{"name not a string", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":7}`, demo.AccountFamily, 400, playback.ReasonWrongType},
		{"unknown field", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"x","colour":"red"}`, demo.AccountFamily, 400, playback.ReasonUnknownField},
		{"not JSON", "PATCH", "/v1/devices/tv-1", "text/plain", `{"name":"x"}`, demo.AccountFamily, 415, "content_type"},
		{"unknown device", "PATCH", "/v1/devices/nope", "application/json", `{"name":"x"}`, demo.AccountFamily, 404, "device_not_found"},
		{"another account's device", "PATCH", "/v1/devices/tv-1", "application/json", `{"name":"x"}`, demo.AccountSolo, 404, "device_not_found"},
		{"delete another account's device", "DELETE", "/v1/devices/tv-1", "", "", demo.AccountSolo, 404, "device_not_found"},
		{"PUT", "PUT", "/v1/devices/tv-1", "application/json", `{"name":"x"}`, demo.AccountFamily, 405, ""},
		// A parameter no route documents is refused, not ignored.
		{"list with a filter", "GET", "/v1/devices?active=true", "", "", demo.AccountFamily, 400, playback.ReasonUnknownParameter},
		{"rename with a parameter", "PATCH", "/v1/devices/tv-1?name=y", "application/json", `{"name":"x"}`, demo.AccountFamily, 400, playback.ReasonUnknownParameter},
		{"delete with a flag", "DELETE", "/v1/devices/tv-1?keep_sessions=true", "", "", demo.AccountFamily, 400, playback.ReasonUnknownParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if rec := h.play(demo.AccountFamily, "sintel", "tv-1"); rec.Code != 201 {
				t.Fatalf("play: %d", rec.Code)
			}
			before := map[string]playback.Account{}
			for _, id := range []string{demo.AccountFamily, demo.AccountSolo} {
				before[id], _ = h.store.GetAccount(context.Background(), id)
			}
			tok := ""
			if tc.account != "" {
				tok = h.token(tc.account)
			}
			rec := h.doAs(tc.method, tc.path, tok, tc.contentType, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.reason != "" {
				if e := errorOf(t, rec); e.Reason != tc.reason {
					t.Fatalf("reason %q, want %q", e.Reason, tc.reason)
				}
			}
			for id, b := range before {
				after, _ := h.store.GetAccount(context.Background(), id)
				x, _ := json.Marshal(b)
				y, _ := json.Marshal(after)
				if string(x) != string(y) {
					t.Fatalf("refused request changed %s:\n%s\n%s", id, x, y)
				}
			}
			if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 1 {
				t.Fatalf("refused request ended the session: %+v", s)
			}
		})
	}
}

// TestRemovalDuringPlay walks the interleavings of a DELETE with a play
// from the same device (see devices.go): removed between the play's reads
// and its admission, the admission is refused and the play answers 409
// device_removed with no token; removed after the admission, the DELETE
// ends the lease. Either way no session outlives the device.
func TestRemovalDuringPlay(t *testing.T) {
	t.Parallel()
	for _, st := range deviceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			removalDuringPlay(t, st.open)
		})
	}
}

func removalDuringPlay(t *testing.T, open func(*testing.T) playback.Store) {
	t.Run("removed between the play's reads and its admission", func(t *testing.T) {
		t.Parallel()
		h, hook := newHookHarness(t, open(t))
		tok := h.token(demo.AccountFamily)
		if rec := h.play(demo.AccountFamily, "sintel", "tv-1"); rec.Code != 201 {
			t.Fatal(rec.Code)
		}
		var removal *httptest.ResponseRecorder
		hook.afterRead = func() {
			hook.afterRead = nil
			removal = h.do(http.MethodDelete, "/v1/devices/tv-1", tok, "")
		}
		rec := h.play(demo.AccountFamily, "big-buck-bunny", "tv-1")
		if e := errorOf(t, rec); rec.Code != 409 || e.Reason != "device_removed" || strings.Contains(rec.Body.String(), "playback_token") {
			t.Fatalf("racing play: %d %s", rec.Code, rec.Body)
		}
		if removal.Code != 200 {
			t.Fatalf("removal %d %s", removal.Code, removal.Body)
		}
		if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 0 {
			t.Fatalf("removed device still plays: %+v", s)
		}
	})
	t.Run("new device removed right after its first play's admission", func(t *testing.T) {
		t.Parallel()
		h, hook := newHookHarness(t, open(t))
		tok := h.token(demo.AccountFamily)
		var removal *httptest.ResponseRecorder
		hook.afterAcquire = func(playback.Session) {
			hook.afterAcquire = nil
			removal = h.do(http.MethodDelete, "/v1/devices/tv-1", tok, "")
		}
		rec := h.play(demo.AccountFamily, "big-buck-bunny", "tv-1")
		play := decodeAs[authorizeplay.PlayResponse](t, rec, 201)
		ended := decodeAs[authorizeplay.DeviceRemoval](t, removal, 200)
		if !ended.Removed || len(ended.EndedSessions) != 1 || ended.EndedSessions[0].SessionID != play.SessionID {
			t.Fatalf("removal %+v, want the device (registered by the play) removed and session %s ended", ended, play.SessionID)
		}
		if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 0 {
			t.Fatalf("removed device still plays: %+v", s)
		}
	})
	t.Run("removed after the admission", func(t *testing.T) {
		t.Parallel()
		h, hook := newHookHarness(t, open(t))
		tok := h.token(demo.AccountFamily)
		if rec := h.play(demo.AccountFamily, "sintel", "tv-1"); rec.Code != 201 {
			t.Fatal(rec.Code)
		}
		rec := h.play(demo.AccountFamily, "big-buck-bunny", "tv-1")
		play := decodeAs[authorizeplay.PlayResponse](t, rec, 201)
		removal := decodeAs[authorizeplay.DeviceRemoval](t, h.do(http.MethodDelete, "/v1/devices/tv-1", tok, ""), 200)
		if len(removal.EndedSessions) != 1 || removal.EndedSessions[0].SessionID != play.SessionID {
			t.Fatalf("removal %+v, want the play's session %s ended", removal, play.SessionID)
		}
		_ = hook
		if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 0 {
			t.Fatalf("removed device still plays: %+v", s)
		}
	})
}

// TestRemoveDeviceRacesPlays: plays from a device race its removal, over
// and over. Whatever the interleaving, a device that ends up removed has
// no active session, and every active session's device is registered:
// plays after the removal register the device again (a new device taking
// a slot), plays before it are ended.
func TestRemoveDeviceRacesPlays(t *testing.T) {
	t.Parallel()
	for _, st := range deviceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			removeDeviceRacesPlays(t, h)
		})
	}
}

func removeDeviceRacesPlays(t *testing.T, h *harness) {
	tok := h.token(demo.AccountFamily)
	ctx := context.Background()
	for i := range 40 {
		dev := fmt.Sprintf("racer-%d", i)
		if rec := h.play(demo.AccountFamily, "sintel", dev); rec.Code != 201 {
			t.Fatalf("play: %d %s", rec.Code, rec.Body)
		}
		var wg sync.WaitGroup
		for p := range 3 {
			wg.Go(func() {
				rec := h.play(demo.AccountFamily, []string{"sintel", "big-buck-bunny"}[p%2], dev)
				if rec.Code != 201 && !(rec.Code == 409 && errorOf(t, rec).Reason == "device_removed") {
					t.Errorf("racing play: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Go(func() {
			if rec := h.do(http.MethodDelete, "/v1/devices/"+dev, tok, ""); rec.Code != 200 {
				t.Errorf("delete: %d %s", rec.Code, rec.Body)
			}
		})
		wg.Wait()
		acct, err := h.store.GetAccount(ctx, demo.AccountFamily)
		if err != nil {
			t.Fatal(err)
		}
		active, err := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range active {
			if !acct.HasDevice(s.DeviceID) {
				t.Fatalf("round %d: session %s plays on %s, which is not registered (%+v)", i, s.ID, s.DeviceID, acct.Devices)
			}
		}
		// Leave the account as it was for the next round.
		if acct.HasDevice(dev) {
			if rec := h.do(http.MethodDelete, "/v1/devices/"+dev, tok, ""); rec.Code != 200 {
				t.Fatalf("cleanup: %d", rec.Code)
			}
		}
	}
}

// limitDevice is a device as the 403 device_limit's details list it,
// decoded field by field so the test reads the wire names.
type limitDevice struct {
	DeviceID     string    `json:"device_id"`
	Name         string    `json:"name"`
	RegisteredAt time.Time `json:"registered_at"`
	LastPlayedAt time.Time `json:"last_played_at"`
	Playing      bool      `json:"playing"`
}

// TestDeviceLimitListsTheDevices: a new device refused at the plan's
// device limit hears which devices hold the slots, with their names and
// when each last started a play, so that the household can tell the stale
// one (a hotel TV) to remove; GET /v1/devices shows the same times.
func TestDeviceLimitListsTheDevices(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token(demo.AccountSolo) // basic: 2 devices, 1 stream
	t0 := h.now
	playNamed := func(device, name string) {
		t.Helper()
		body := fmt.Sprintf(`{"title_id":"sintel","device_id":%q,"device_name":%q}`, device, name)
		play := decodeAs[authorizeplay.PlayResponse](t, h.do(http.MethodPost, "/v1/play", tok, body), http.StatusCreated)
		if rec := h.do(http.MethodDelete, "/v1/sessions/"+play.SessionID, tok, ""); rec.Code != 200 {
			t.Fatalf("stop: %d", rec.Code)
		}
	}
	playNamed("hotel-tv", "Hotel TV")
	h.now = t0.Add(72 * time.Hour)
	playNamed("phone", "Phone")
	h.now = t0.Add(120 * time.Hour)
	playNamed("phone", "Phone") // two days on: its last play moves
	h.now = t0.Add(121 * time.Hour)

	rec := h.play(demo.AccountSolo, "sintel", "laptop")
	var body struct {
		Error struct {
			Code, Reason string
			Details      struct {
				Devices    []limitDevice `json:"devices"`
				MaxDevices int           `json:"max_devices"`
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusForbidden || body.Error.Reason != "device_limit" {
		t.Fatalf("third device: %d %s (%v)", rec.Code, rec.Body, err)
	}
	want := []limitDevice{
		{DeviceID: "hotel-tv", Name: "Hotel TV", RegisteredAt: t0, LastPlayedAt: t0},
		{DeviceID: "phone", Name: "Phone", RegisteredAt: t0.Add(72 * time.Hour), LastPlayedAt: t0.Add(120 * time.Hour)},
	}
	if got := body.Error.Details; !equalDevices(got.Devices, want) || got.MaxDevices != 2 {
		t.Fatalf("device_limit details = %+v, want max 2 and %+v", got, want)
	}
	var list struct {
		Devices []limitDevice `json:"devices"`
	}
	if err := json.Unmarshal(h.do(http.MethodGet, "/v1/devices", tok, "").Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if !equalDevices(list.Devices, want) {
		t.Fatalf("GET /v1/devices = %+v, want %+v", list.Devices, want)
	}
}

func equalDevices(got, want []limitDevice) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.DeviceID != w.DeviceID || g.Name != w.Name || g.Playing != w.Playing ||
			!g.RegisteredAt.Equal(w.RegisteredAt) || !g.LastPlayedAt.Equal(w.LastPlayedAt) {
			return false
		}
	}
	return true
}

// leaseSpy records the admissions' requests.
type leaseSpy struct {
	authorizeplay.Store
	mu   sync.Mutex
	reqs []playback.LeaseRequest
}

func (s *leaseSpy) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	return s.Store.AcquireLease(ctx, req)
}

// TestRegisteredDevicePlayWritesTheAccountOnceADay: a registered device's
// play writes its last play into the account only when the recorded one
// is a day or more old; the plays in between admit without writing the
// account (on DynamoDB they only check its version).
func TestRegisteredDevicePlayWritesTheAccountOnceADay(t *testing.T) {
	t.Parallel()
	spy := &leaseSpy{}
	h := newHarnessOn(t, nil, func(s authorizeplay.Store) authorizeplay.Store { spy.Store = s; return spy })
	t0 := h.now
	for _, step := range []struct {
		name  string
		at    time.Duration
		saves bool
		last  time.Duration // the device's LastPlayedAt after the play
	}{
		{"first play registers", 0, true, 0},
		{"an hour on", time.Hour, false, 0},
		{"just short of a day on", 24*time.Hour - time.Second, false, 0},
		{"a day on", 24 * time.Hour, true, 24 * time.Hour},
		{"a day and an hour on", 25 * time.Hour, false, 24 * time.Hour},
	} {
		h.now = t0.Add(step.at)
		h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv-9"))
		spy.mu.Lock()
		req := spy.reqs[len(spy.reqs)-1]
		spy.mu.Unlock()
		if got := req.SaveAccount != nil; got != step.saves {
			t.Fatalf("%s: the admission writes the account: %v, want %v", step.name, got, step.saves)
		}
		acct, err := h.store.GetAccount(context.Background(), demo.AccountFamily)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(acct.Devices, func(d playback.Device) bool { return d.ID == "tv-9" })
		if i < 0 {
			t.Fatalf("%s: device not registered: %+v", step.name, acct.Devices)
		}
		if got, want := lastPlayed(t, acct.Devices[i]), t0.Add(step.last); !got.Equal(want) {
			t.Fatalf("%s: last played %v, want %v", step.name, got, want)
		}
	}
}

// lastPlayed is d's last play as the account stores it (JSON everywhere).
func lastPlayed(t *testing.T, d playback.Device) time.Time {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		LastPlayedAt time.Time `json:"last_played_at"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.LastPlayedAt
}

// TestListsOfAnAccountNotStored: the caller's lists answer alike for a
// token whose account is not (or not yet) stored, a subscriber whose
// checkout has not landed or whose account an operator deleted: 200 and
// empty, as a list with nothing in it. Before, GET /v1/sessions answered
// that and GET /v1/devices 404 account_not_found.
func TestListsOfAnAccountNotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token("acct_not_stored")
	for _, tc := range []struct {
		name, path, want string
	}{
		{name: "sessions", path: "/v1/sessions", want: `{"sessions":[]}`},
		{name: "devices", path: "/v1/devices", want: `{"devices":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := h.do(http.MethodGet, tc.path, tok, "")
			if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("GET %s: %d %s, want 200 %s", tc.path, rec.Code, rec.Body, tc.want)
			}
		})
	}
	if _, err := h.store.GetAccount(context.Background(), "acct_not_stored"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("a list wrote the account: %v", err)
	}
}
