package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

const (
	issuer   = "https://id.example"
	audience = "playplane"
	kid      = "k1"
)

var jwtKey = bytes.Repeat([]byte("k"), 32)

type harness struct {
	t     testing.TB
	store playback.Store
	bus   *recordingBus
	h     http.Handler
	now   time.Time
	ticks atomic.Int64
	admin string // an admin token
}

// clock advances a millisecond a call, so that audit records (ordered by
// time) come out in the order they were written.
func (h *harness) clock() time.Time {
	return h.now.Add(time.Duration(h.ticks.Add(1)) * time.Millisecond)
}

func newHarness(t testing.TB, claim string) *harness {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newHarnessOn(t, claim, store)
}

// newHarnessOn serves the admin API over store.
func newHarnessOn(t testing.TB, claim string, store playback.Store) *harness {
	t.Helper()
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, bus: &recordingBus{}, now: time.Now().UTC().Truncate(time.Second)}
	// Only the embedded store keeps QoE views; on the cloud stores the
	// route answers qoe_not_kept_here.
	qoe, _ := store.(playback.QoEStore)
	srv, err := admin.New(admin.Config{AdminClaim: claim, MaxBody: 1 << 16},
		admin.Deps{Store: store, Identity: verifier, Bus: h.bus, QoE: qoe, Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewServeMux()
	srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	h.admin, err = auth.MintAdminHS256(kid, jwtKey, issuer, audience, "ops-alice", claim, time.Hour, h.now)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) subscriberToken(sub string) string {
	tok, err := auth.MintHS256(kid, jwtKey, issuer, audience, sub, time.Hour, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) errBody(t testing.TB) httpx.ErrorDetail {
	t.Helper()
	var e httpx.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d, body %s: %v", r.status, r.body, err)
	}
	return e.Error
}

func (h *harness) do(method, path, token, ifMatch, body string) resp {
	h.t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (h *harness) mustDo(method, path, ifMatch, body string, want int) resp {
	h.t.Helper()
	r := h.do(method, path, h.admin, ifMatch, body)
	if r.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

const (
	planStd  = `{"id":"std","name":"Standard","max_streams":2,"max_devices":5,"max_quality":"HD"}`
	titleBBB = `{"id":"bbb","name":"Big Buck Bunny","rating":0,"asset_path":"/titles/bbb/","manifest":"master.m3u8",
		"windows":[{"territory":"DE","start":"2024-01-01T00:00:00Z","end":"2035-01-01T00:00:00Z"}],
		"renditions":[{"path":"sd","quality":"SD","bandwidth":800000,"width":640,"height":360,"codecs":"avc1.4d401e"}]}`
	edgeFra = `{"id":"fra-1","cdn":"local","pop":"fra","base_url":"http://127.0.0.1:8081","lat":50.11,"lon":8.68,"asns":[3320],"capacity":100,"weight":2}`
	acctA   = `{"id":"acct_a","plan_id":"std","territory":"DE","status":"active","parental_cap":16}`
)

func TestAuthorization(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		claim      string
		token      func(h *harness) string
		wantStatus int
		wantReason string
	}{
		{name: "no token", claim: auth.DefaultAdminClaim, token: func(*harness) string { return "" },
			wantStatus: http.StatusUnauthorized, wantReason: auth.ReasonTokenMissing},
		{name: "subscriber token", claim: auth.DefaultAdminClaim, token: func(h *harness) string { return h.subscriberToken("acct_a") },
			wantStatus: http.StatusForbidden, wantReason: admin.ReasonNotAdmin},
		{name: "admin token under another claim name", claim: "scope", token: func(h *harness) string {
			tok, err := auth.MintAdminHS256(kid, jwtKey, issuer, audience, "ops", auth.DefaultAdminClaim, time.Hour, h.now)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, wantStatus: http.StatusForbidden, wantReason: admin.ReasonNotAdmin},
		{name: "admin token", claim: auth.DefaultAdminClaim, token: func(h *harness) string { return h.admin }, wantStatus: http.StatusOK},
		{name: "admin scope", claim: "scope", token: func(h *harness) string { return h.admin }, wantStatus: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.claim)
			for _, path := range []string{"/v1/admin/plans", "/v1/admin/audit"} {
				r := h.do("GET", path, tc.token(h), "", "")
				if r.status != tc.wantStatus {
					t.Fatalf("GET %s: status %d, want %d: %s", path, r.status, tc.wantStatus, r.body)
				}
				if tc.wantReason != "" {
					if got := r.errBody(t).Reason; got != tc.wantReason {
						t.Fatalf("reason %q, want %q", got, tc.wantReason)
					}
				}
			}
			// A refused caller writes nothing.
			if tc.wantStatus != http.StatusOK {
				r := h.do("POST", "/v1/admin/plans", tc.token(h), "", planStd)
				if r.status != tc.wantStatus {
					t.Fatalf("POST: status %d, want %d", r.status, tc.wantStatus)
				}
				if _, err := h.store.GetRecord(context.Background(), playback.KindPlan, "std"); !playback.IsCode(err, playback.CodeNotFound) {
					t.Fatalf("a refused POST wrote the plan: %v", err)
				}
			}
		})
	}
}

func TestCRUDEveryKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, coll, id, create, update string
		check                          func(t *testing.T, doc []byte)
	}{
		{name: "plan", coll: "plans", id: "std", create: planStd,
			update: `{"id":"std","name":"Standard","max_streams":3,"max_devices":5,"max_quality":"UHD"}`,
			check: func(t *testing.T, doc []byte) {
				var p playback.Plan
				_ = json.Unmarshal(doc, &p)
				if p.MaxStreams != 3 || p.MaxQuality != playback.QualityUHD {
					t.Fatalf("plan %+v", p)
				}
			}},
		{name: "title", coll: "titles", id: "bbb", create: titleBBB,
			update: `{"id":"bbb","name":"Big Buck Bunny","rating":12,"asset_path":"/media/bbb/","manifest":"master.m3u8",
				"windows":[{"territory":"FR","start":"2024-01-01T01:00:00+01:00","end":"2030-01-01T00:00:00Z"}]}`,
			check: func(t *testing.T, doc []byte) {
				var ti playback.Title
				_ = json.Unmarshal(doc, &ti)
				if ti.Rating == nil || *ti.Rating != 12 || ti.AssetPath != "/media/bbb/" || len(ti.Windows) != 1 || ti.Windows[0].Territory != "FR" ||
					!ti.Windows[0].Start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || len(ti.Renditions) != 0 {
					t.Fatalf("title %+v", ti)
				}
			}},
		{name: "edge", coll: "edges", id: "fra-1", create: edgeFra,
			update: `{"id":"fra-1","cdn":"cloudfront","base_url":"https://d1.example","lat":1,"lon":2,"capacity":50,"disabled":true}`,
			check: func(t *testing.T, doc []byte) {
				var e playback.Edge
				_ = json.Unmarshal(doc, &e)
				// Health is the reports' business and stays as it was.
				if e.CDN != "cloudfront" || !e.Disabled || e.Weight != 0 || !e.Healthy || e.Capacity != 50 {
					t.Fatalf("edge %+v", e)
				}
			}},
		{name: "account", coll: "accounts", id: "acct_a", create: acctA,
			update: `{"id":"acct_a","plan_id":"std","territory":"FR","status":"active","parental_cap":12}`,
			check: func(t *testing.T, doc []byte) {
				var a playback.Account
				_ = json.Unmarshal(doc, &a)
				if a.Territory != "FR" || a.ParentalCap != 12 || a.Status != playback.StatusActive {
					t.Fatalf("account %+v", a)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			if tc.coll == "accounts" {
				h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			}
			base := "/v1/admin/" + tc.coll
			created := h.mustDo("POST", base, "", tc.create, http.StatusCreated)
			if created.header.Get("Location") != base+"/"+tc.id {
				t.Fatalf("Location %q", created.header.Get("Location"))
			}
			v1 := created.header.Get("ETag")
			// Creating it again is a conflict, not an overwrite.
			if r := h.do("POST", base, h.admin, "", tc.create); r.status != http.StatusConflict || r.errBody(t).Reason != "already_exists" {
				t.Fatalf("second POST: %d %s", r.status, r.body)
			}
			got := h.mustDo("GET", base+"/"+tc.id, "", "", http.StatusOK)
			if got.header.Get("ETag") != v1 {
				t.Fatalf("GET ETag %s, POST said %s", got.header.Get("ETag"), v1)
			}
			// An update needs If-Match.
			if r := h.do("PUT", base+"/"+tc.id, h.admin, "", tc.update); r.status != http.StatusBadRequest || r.errBody(t).Reason != "if_match_required" {
				t.Fatalf("PUT without If-Match: %d %s", r.status, r.body)
			}
			updated := h.mustDo("PUT", base+"/"+tc.id, v1, tc.update, http.StatusOK)
			v2 := updated.header.Get("ETag")
			if v2 == v1 {
				t.Fatal("the version did not change")
			}
			tc.check(t, updated.body)
			tc.check(t, h.mustDo("GET", base+"/"+tc.id, "", "", http.StatusOK).body)
			// The first version is stale now: update and delete refuse it.
			for _, m := range []string{"PUT", "DELETE"} {
				r := h.do(m, base+"/"+tc.id, h.admin, v1, tc.create)
				if r.status != http.StatusPreconditionFailed || r.errBody(t).Code != playback.CodePrecondition {
					t.Fatalf("%s with a stale If-Match: %d %s", m, r.status, r.body)
				}
			}
			tc.check(t, h.mustDo("GET", base+"/"+tc.id, "", "", http.StatusOK).body)
			list := h.mustDo("GET", base, "", "", http.StatusOK)
			var page playback.RecordPage
			if err := json.Unmarshal(list.body, &page); err != nil || len(page.Records) != 1 || page.Records[0].ID != tc.id ||
				etagOf(page.Records[0].Version) != v2 {
				t.Fatalf("list %s: %v", list.body, err)
			}
			h.mustDo("DELETE", base+"/"+tc.id, v2, "", http.StatusNoContent)
			h.mustDo("GET", base+"/"+tc.id, "", "", http.StatusNotFound)
			h.mustDo("DELETE", base+"/"+tc.id, v2, "", http.StatusNotFound)

			// Every change is in the audit log, newest first, naming the
			// caller with before and after.
			var audit playback.AuditPage
			if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/audit", "", "", http.StatusOK).body, &audit); err != nil {
				t.Fatal(err)
			}
			var ops []string
			for _, ar := range audit.Records {
				if ar.Actor != "admin:ops-alice" {
					t.Fatalf("actor %q", ar.Actor)
				}
				for _, c := range ar.Changes {
					if c.Kind == playback.Kind(strings.TrimSuffix(tc.coll, "s")) {
						ops = append(ops, c.Op)
					}
				}
			}
			if strings.Join(ops, ",") != "delete,update,create" {
				t.Fatalf("audit ops %v", ops)
			}
			if u := audit.Records[0].Changes[0]; u.Before == nil || u.After != nil {
				t.Fatalf("delete audit %+v", u)
			}
		})
	}
}

func etagOf(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	for _, tc := range []struct {
		name, coll, body string
		status           int
		pointers         []string
		message          string // in a problem's message, when set
		reason           string // of a 400, when set
	}{
		{name: "plan streams and quality", coll: "plans", status: http.StatusUnprocessableEntity,
			body: `{"id":"p","name":"P","max_streams":0,"max_devices":5,"max_quality":"8K"}`, pointers: []string{"/max_streams", "/max_quality"}},
		{name: "plan unknown field", coll: "plans", status: http.StatusUnprocessableEntity,
			body: `{"id":"p","name":"P","max_streams":1,"max_devices":5,"max_quality":"HD","colour":"red"}`, pointers: []string{""}},
		{name: "title rating and window", coll: "titles", status: http.StatusUnprocessableEntity,
			body:     `{"id":"t","name":"T","rating":-1,"asset_path":"/t/","manifest":"m.m3u8","windows":[{"territory":"DE","start":"2030-01-01T00:00:00Z","end":"2024-01-01T00:00:00Z"}]}`,
			pointers: []string{"/rating"}},
		// 0 is all ages: a title left unrated must not become one.
		{name: "title without rating", coll: "titles", status: http.StatusUnprocessableEntity,
			body: `{"id":"t","name":"T","asset_path":"/titles/t/","manifest":"m.m3u8"}`, pointers: []string{""}, message: "missing property 'rating'"},
		{name: "title window order", coll: "titles", status: http.StatusUnprocessableEntity,
			body:     `{"id":"t","name":"T","rating":1,"asset_path":"/t/","manifest":"m.m3u8","windows":[{"territory":"DE","start":"2030-01-01T00:00:00Z","end":"2024-01-01T00:00:00Z"}]}`,
			pointers: []string{"/windows/0/end"}},
		{name: "title rendition paths repeat", coll: "titles", status: http.StatusUnprocessableEntity,
			body: `{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m.m3u8","renditions":[
				{"path":"hd","quality":"HD","bandwidth":1,"width":1,"height":1,"codecs":"c"},{"path":"hd","quality":"SD","bandwidth":1,"width":1,"height":1,"codecs":"c"}]}`,
			pointers: []string{"/renditions"}},
		{name: "title asset path of another title", coll: "titles", status: http.StatusUnprocessableEntity,
			body: `{"id":"t","name":"T","rating":0,"asset_path":"/titles/u/","manifest":"m.m3u8"}`, pointers: []string{"/asset_path"}},
		{name: "edge url and latitude", coll: "edges", status: http.StatusUnprocessableEntity,
			body: `{"id":"e","cdn":"local","base_url":"ftp://x","lat":91,"lon":0,"weight":-1}`, pointers: []string{"/base_url", "/lat", "/weight"}},
		{name: "account plan missing", coll: "accounts", status: http.StatusUnprocessableEntity,
			body: `{"id":"a","plan_id":"gold","territory":"DE"}`, pointers: []string{"/plan_id"}},
		{name: "account territory", coll: "accounts", status: http.StatusUnprocessableEntity,
			body: `{"id":"a","plan_id":"std","territory":"Germany","parental_cap":99}`, pointers: []string{"/territory", "/parental_cap"}},
		{name: "id with a slash", coll: "plans", status: http.StatusUnprocessableEntity,
			body: `{"id":"a/b","name":"P","max_streams":1,"max_devices":5,"max_quality":"HD"}`, pointers: []string{"/id"}},
		{name: "malformed json", coll: "plans", status: http.StatusBadRequest, body: `{"id":`},
		// Decoded as strictly as every other JSON body (README): which of
		// two values is meant is anyone's guess.
		{name: "field twice", coll: "plans", status: http.StatusBadRequest, reason: playback.ReasonDuplicateField,
			body: `{"id":"p","name":"P","max_streams":1,"max_streams":50,"max_devices":5,"max_quality":"HD"}`},
		{name: "nested field twice", coll: "titles", status: http.StatusBadRequest, reason: playback.ReasonDuplicateField,
			body: `{"id":"t","name":"T","rating":0,"asset_path":"/titles/t/","manifest":"m.m3u8","windows":[{"territory":"DE","territory":"US","start":"2024-01-01T00:00:00Z","end":"2035-01-01T00:00:00Z"}]}`},
		{name: "invalid UTF-8", coll: "plans", status: http.StatusBadRequest, reason: playback.ReasonInvalidUTF8,
			body: "{\"id\":\"p\",\"name\":\"P\xff\",\"max_streams\":1,\"max_devices\":5,\"max_quality\":\"HD\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.do("POST", "/v1/admin/"+tc.coll, h.admin, "", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.reason != "" && r.errBody(t).Reason != tc.reason {
				t.Fatalf("reason %q, want %q: %s", r.errBody(t).Reason, tc.reason, r.body)
			}
			if tc.status != http.StatusUnprocessableEntity {
				return
			}
			var e struct {
				Error struct {
					Reason  string         `json:"reason"`
					Details admin.Problems `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Reason != admin.ReasonValidation {
				t.Fatalf("%s: %v", r.body, err)
			}
			got := map[string]bool{}
			said := tc.message == ""
			for _, p := range e.Error.Details.Problems {
				got[p.Pointer] = true
				said = said || strings.Contains(p.Message, tc.message)
			}
			if !said {
				t.Fatalf("no problem says %q in %s", tc.message, r.body)
			}
			for _, p := range tc.pointers {
				if !got[p] {
					t.Fatalf("no problem at %q in %s", p, r.body)
				}
			}
		})
	}
	// Nothing refused was written.
	for _, kind := range playback.Kinds {
		page, err := h.store.ListRecords(context.Background(), kind, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[playback.Kind]int{playback.KindPlan: 1}[kind]; len(page.Records) != want {
			t.Fatalf("%d %s records", len(page.Records), kind)
		}
	}
}

func TestDeletePlanInUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	plan := h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	for _, id := range []string{"a1", "a2"} {
		h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+id+`","plan_id":"std","territory":"DE"}`, http.StatusCreated)
	}
	r := h.do("DELETE", "/v1/admin/plans/std", h.admin, plan.header.Get("ETag"), "")
	if r.status != http.StatusConflict {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var e struct {
		Error struct {
			Reason  string             `json:"reason"`
			Details playback.PlanInUse `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Reason != "plan_in_use" || e.Error.Details.Accounts != 2 {
		t.Fatalf("%s: %v", r.body, err)
	}
	h.mustDo("GET", "/v1/admin/plans/std", "", "", http.StatusOK)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	for i := range 7 {
		h.mustDo("POST", "/v1/admin/plans", "", `{"id":"p`+string(rune('a'+i))+`","name":"P","max_streams":1,"max_devices":1,"max_quality":"SD"}`, http.StatusCreated)
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("too many pages")
		}
		var page playback.RecordPage
		_ = json.Unmarshal(h.mustDo("GET", "/v1/admin/plans?limit=3&cursor="+cursor, "", "", http.StatusOK).body, &page)
		for _, r := range page.Records {
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if strings.Join(ids, "") != "papbpcpdpepfpg" {
		t.Fatalf("ids %v", ids)
	}
	var audit playback.AuditPage
	_ = json.Unmarshal(h.mustDo("GET", "/v1/admin/audit?limit=2", "", "", http.StatusOK).body, &audit)
	if len(audit.Records) != 2 || audit.Next == "" || !strings.Contains(string(audit.Records[0].Changes[0].After), `"pg"`) {
		t.Fatalf("audit page %+v", audit)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if r := h.do("GET", "/v1/admin/plans?"+q, h.admin, "", ""); r.status != http.StatusBadRequest || r.errBody(t).Reason != "limit_invalid" {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestAccountActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	ctx := context.Background()
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	created := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)

	// Link a payment customer: the account records it and payments resolve it.
	h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", `"stale"`, `{"customer_id":"cus_1"}`, http.StatusPreconditionFailed)
	linked := h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", created.header.Get("ETag"), `{"customer_id":"cus_1"}`, http.StatusOK)
	if id, err := h.store.AccountIDByCustomer(ctx, "cus_1"); err != nil || id != "acct_a" {
		t.Fatalf("customer link: %q %v", id, err)
	}
	var a playback.Account
	_ = json.Unmarshal(linked.body, &a)
	if a.CustomerID != "cus_1" {
		t.Fatalf("account %+v", a)
	}
	if r := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, "", `{"customer_id":""}`); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty customer: %d %s", r.status, r.body)
	}

	// A running session ends when the account is suspended.
	if _, err := h.store.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
		a.Devices = append(a.Devices, playback.Device{ID: "dev1", Name: "TV", RegisteredAt: h.now})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sess, err := h.store.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s1", AccountID: "acct_a", DeviceID: "dev1", TitleID: "bbb",
		Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	susp := h.mustDo("POST", "/v1/admin/accounts/acct_a/suspend", "", "", http.StatusOK)
	_ = json.Unmarshal(susp.body, &a)
	if !a.Suspended || a.Entitled(h.now, time.Hour) {
		t.Fatalf("suspended account %+v", a)
	}
	if got, _ := h.store.GetSession(ctx, sess.ID); got.Active(h.now) || got.EndReason != playback.EndEntitlement {
		t.Fatalf("session after suspension %+v", got)
	}
	// Suspending again changes nothing (same version).
	if again := h.mustDo("POST", "/v1/admin/accounts/acct_a/suspend", "", "", http.StatusOK); again.header.Get("ETag") != susp.header.Get("ETag") {
		t.Fatal("a second suspension wrote")
	}
	un := h.mustDo("POST", "/v1/admin/accounts/acct_a/unsuspend", susp.header.Get("ETag"), "", http.StatusOK)
	a = playback.Account{}
	_ = json.Unmarshal(un.body, &a)
	if a.Suspended || !a.Entitled(h.now, time.Hour) || a.CustomerID != "cus_1" {
		t.Fatalf("unsuspended account %+v", a)
	}
	// Settings writes keep devices.
	h.mustDo("PUT", "/v1/admin/accounts/acct_a", un.header.Get("ETag"),
		`{"id":"acct_a","plan_id":"std","territory":"DE","status":"active","customer_id":"cus_1"}`, http.StatusOK)
	var devs admin.Devices
	_ = json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/acct_a/devices", "", "", http.StatusOK).body, &devs)
	if len(devs.Devices) != 1 || devs.Devices[0].ID != "dev1" {
		t.Fatalf("devices %+v", devs)
	}
	h.mustDo("POST", "/v1/admin/accounts/nobody/suspend", "", "", http.StatusNotFound)
}

const (
	zonesGood  = `{"coverageZones":{"fra":{"network":["10.0.0.0/8"],"network6":["2001:db8::/32"]}}}`
	zonesGood2 = `{"coverageZones":{"fra":{"network":["10.0.0.0/8","192.168.0.0/16"]}}}`
	zonesBad   = `{"coverageZones":{"fra":{"network":["10.0.0.0/33","10.1.0.0/16"]},"lhr":{"network6":["nope"]}}}`
)

func TestCoverageZones(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("GET", "/v1/admin/coverage-zones", "", "", http.StatusNotFound)
	v1 := h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesGood, http.StatusCreated)
	if v1.header.Get(admin.HeaderZonesVersion) != "1" || v1.header.Get("ETag") != `"1"` {
		t.Fatalf("headers %v", v1.header)
	}
	// A bad file is 422 listing each error; the last good stays latest.
	r := h.do("PUT", "/v1/admin/coverage-zones", h.admin, "", zonesBad)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d %s", r.status, r.body)
	}
	var e struct {
		Error struct {
			Details admin.Problems `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	var pointers []string
	for _, p := range e.Error.Details.Problems {
		pointers = append(pointers, p.Pointer)
	}
	if strings.Join(pointers, " ") != "/coverageZones/fra/network/0 /coverageZones/lhr/network6/0" {
		t.Fatalf("problems %s", r.body)
	}
	latest := h.mustDo("GET", "/v1/admin/coverage-zones", "", "", http.StatusOK)
	if string(latest.body) != zonesGood || latest.header.Get(admin.HeaderZonesVersion) != "1" {
		t.Fatalf("latest after a refused upload: %s", latest.body)
	}
	// Conditional uploads: a stale version is 412.
	h.mustDo("PUT", "/v1/admin/coverage-zones", `"1"`, zonesGood2, http.StatusCreated)
	h.mustDo("PUT", "/v1/admin/coverage-zones", `"1"`, zonesGood, http.StatusPreconditionFailed)
	if got := h.mustDo("GET", "/v1/admin/coverage-zones/1", "", "", http.StatusOK); string(got.body) != zonesGood {
		t.Fatalf("version 1: %s", got.body)
	}
	if got := h.mustDo("GET", "/v1/admin/coverage-zones", "", "", http.StatusOK); string(got.body) != zonesGood2 {
		t.Fatalf("latest: %s", got.body)
	}
	h.mustDo("GET", "/v1/admin/coverage-zones/0", "", "", http.StatusBadRequest)
	h.mustDo("GET", "/v1/admin/coverage-zones/9", "", "", http.StatusNotFound)
}
