// Package admin is the operators' API under /v1/admin/: plans, titles,
// accounts, edges and coverage zone files, with versions as ETags,
// conditional writes (If-Match → 412 when stale), an audit record for every
// change and the audit log itself. Callers need the admin claim in their
// JWT (ADMIN_CLAIM, see auth.HasAdminClaim); a subscriber's token is
// refused with 403.
//
// Records are written through playback.AdminStore, the port `playplane
// import` uses, and checked by the catalogue file's rules
// (catalogfile.CheckRecord): a record the API accepts imports, and the
// other way round.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is read from the environment.
type Config struct {
	// AdminClaim names the JWT claim that grants admin: "scope" for OAuth
	// scopes (holding playplane:admin), any other name for a boolean claim.
	AdminClaim string `env:"ADMIN_CLAIM, default=playplane_admin"`
	// MaxBody bounds a record's body; coverage zone files have their own
	// bound, playback.MaxCoverageZonesBytes.
	MaxBody int64 `env:"ADMIN_MAX_BODY, default=262144"`
}

// Page sizes of the lists: limit defaults to DefaultLimit and may be at
// most MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Store is what the admin API reads and writes: the admin port, the
// customer links of accounts, the payment events parked for a customer
// (a link wakes them), and sessions (a write that leaves an account
// unable to play, a suspension, ends them).
type Store interface {
	playback.AdminStore
	events.ParkedStore
	CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error)
	SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error)
	ListUnknownEdges(ctx context.Context) ([]playback.UnknownEdge, error)
	playback.SessionEnder
}

// Authenticator identifies the caller, with the token's claims.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Identity, error)
}

// Deps are the collaborators.
type Deps struct {
	Store    Store
	Identity Authenticator
	// Bus carries the payment events a customer link wakes to the payment
	// consumer (events.TopicStripeEvents).
	Bus playback.Publisher
	// QoE serves GET /v1/admin/qoe; nil where the views live in the
	// warehouse instead (AWS, GCP: query it with docs/qoe/*.sql), and the
	// route then answers 404 qoe_not_kept_here.
	QoE playback.QoEStore
	Now func() time.Time
}

// Server serves the admin routes.
type Server struct {
	cfg  Config
	deps Deps
}

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("admin.New: Store is required")
	case depcheck.Nil(deps.Identity):
		return nil, errors.New("admin.New: Identity is required")
	case depcheck.Nil(deps.Bus):
		return nil, errors.New("admin.New: Bus is required")
	case cfg.AdminClaim == "":
		return nil, errors.New("admin.New: AdminClaim is required")
	case cfg.MaxBody <= 0:
		return nil, fmt.Errorf("admin.New: MaxBody must be positive, got %d", cfg.MaxBody)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if depcheck.Nil(deps.QoE) {
		deps.QoE = nil // optional: a typed nil means none
	}
	return &Server{cfg: cfg, deps: deps}, nil
}

// Register mounts the routes on mux. The patterns are spelled out: the
// catalogue's test reads them from this source.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount puts the function's routes on mux (the catalogue's test records them).
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("GET /v1/admin/plans", s.kind(playback.KindPlan, s.list, pageParams...))
	mux.Handle("POST /v1/admin/plans", s.kind(playback.KindPlan, s.create))
	mux.Handle("GET /v1/admin/plans/{id}", s.kind(playback.KindPlan, s.get))
	mux.Handle("PUT /v1/admin/plans/{id}", s.kind(playback.KindPlan, s.update))
	mux.Handle("DELETE /v1/admin/plans/{id}", s.kind(playback.KindPlan, s.delete))
	mux.Handle("GET /v1/admin/titles", s.kind(playback.KindTitle, s.list, pageParams...))
	mux.Handle("POST /v1/admin/titles", s.kind(playback.KindTitle, s.create))
	mux.Handle("GET /v1/admin/titles/{id}", s.kind(playback.KindTitle, s.get))
	mux.Handle("PUT /v1/admin/titles/{id}", s.kind(playback.KindTitle, s.update))
	mux.Handle("DELETE /v1/admin/titles/{id}", s.kind(playback.KindTitle, s.delete))
	mux.Handle("GET /v1/admin/accounts", s.kind(playback.KindAccount, s.list, pageParams...))
	mux.Handle("POST /v1/admin/accounts", s.kind(playback.KindAccount, s.create))
	mux.Handle("GET /v1/admin/accounts/{id}", s.kind(playback.KindAccount, s.get))
	mux.Handle("PUT /v1/admin/accounts/{id}", s.kind(playback.KindAccount, s.update))
	mux.Handle("PATCH /v1/admin/accounts/{id}", s.admin(s.patchAccount))
	mux.Handle("DELETE /v1/admin/accounts/{id}", s.kind(playback.KindAccount, s.delete))
	mux.Handle("GET /v1/admin/edges", s.kind(playback.KindEdge, s.list, pageParams...))
	mux.Handle("POST /v1/admin/edges", s.kind(playback.KindEdge, s.create))
	mux.Handle("GET /v1/admin/edges/{id}", s.kind(playback.KindEdge, s.get))
	mux.Handle("PUT /v1/admin/edges/{id}", s.kind(playback.KindEdge, s.update))
	mux.Handle("DELETE /v1/admin/edges/{id}", s.kind(playback.KindEdge, s.delete))
	mux.Handle("POST /v1/admin/accounts/{id}/suspend", s.admin(func(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
		return s.suspend(w, r, who, true)
	}))
	mux.Handle("POST /v1/admin/accounts/{id}/unsuspend", s.admin(func(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
		return s.suspend(w, r, who, false)
	}))
	mux.Handle("PUT /v1/admin/accounts/{id}/customer", s.admin(s.linkCustomer))
	mux.Handle("GET /v1/admin/accounts/{id}/devices", s.admin(s.devices))
	mux.Handle("GET /v1/admin/coverage-zones", s.admin(s.getZones))
	mux.Handle("GET /v1/admin/coverage-zones/{version}", s.admin(s.getZones))
	mux.Handle("PUT /v1/admin/coverage-zones", s.admin(s.putZones))
	mux.Handle("GET /v1/admin/audit", s.admin(s.audit, pageParams...))
	mux.Handle("GET /v1/admin/unknown-edges", s.admin(s.unknownEdges))
	mux.Handle("GET /v1/admin/qoe", s.admin(s.qoe, qoeParams...))
}

// kind serves a route of one record kind, taking the query parameters
// query.
func (s *Server) kind(k playback.Kind, h func(w http.ResponseWriter, r *http.Request, who auth.Identity, k playback.Kind) error, query ...string) http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, who auth.Identity) error { return h(w, r, who, k) }, query...)
}

// The query parameters of the lists (pageArgs) and of GET /v1/admin/qoe;
// every other admin route takes none.
var (
	pageParams = []string{"cursor", "limit"}
	qoeParams  = []string{"from", "to", "dimension"}
)

// Consumers returns none: the admin API has no topics.
func (s *Server) Consumers() map[string]playback.BatchHandler { return nil }

// ReasonNotAdmin is the CodeForbidden reason of a caller whose token lacks
// the admin claim.
const ReasonNotAdmin = "admin_claim_required"

// admin authenticates the caller, requires the admin claim and refuses a
// query parameter other than query (httpx.CheckQuery).
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request, who auth.Identity) error, query ...string) http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		who, err := s.deps.Identity.Authenticate(r)
		if err != nil {
			return err
		}
		if !auth.HasAdminClaim(who.AllClaims(), s.cfg.AdminClaim) {
			e := playback.Errorf(playback.CodeForbidden, ReasonNotAdmin, "the token does not carry the admin claim %q", s.cfg.AdminClaim)
			e.Details = map[string]string{"claim": s.cfg.AdminClaim}
			return e
		}
		if err := httpx.CheckQuery(r, query...); err != nil {
			return err
		}
		return h(w, r, who)
	})
}

// Actor is how audit records name the caller: its token's subject.
func actor(who auth.Identity) string { return "admin:" + who.AccountID }

func etag(version string) string { return strconv.Quote(version) }

// condition is an If-Match as sent (RFC 9110 section 13.1.1): none, "*"
// (any current version), or a list of entity-tags, of which tags are the
// strong ones; a weak tag never matches by the strong comparison If-Match
// uses (section 8.8.3.2), so it only counts as sent.
type condition struct {
	sent, any bool
	tags      []string
}

// holds says whether version, the current one, meets the condition sent.
func (c condition) holds(version string) bool { return c.any || slices.Contains(c.tags, version) }

// one is the condition's tag when it is exactly one strong tag, which a
// store checks by itself; any other condition is checked against the
// version read.
func (c condition) one() (string, bool) {
	if c.any || len(c.tags) != 1 {
		return "", false
	}
	return c.tags[0], true
}

// ifMatch reads If-Match over all its field lines: "*" or a list of
// entity-tags, empty elements allowed. An entity-tag is what is between
// its quotes, as written (RFC 9110 section 8.8.3: no escapes), of visible
// characters other than '"'.
func ifMatch(r *http.Request) (condition, error) {
	v := strings.Trim(strings.Join(r.Header.Values("If-Match"), ","), " \t")
	switch v {
	case "":
		return condition{}, nil
	case "*":
		return condition{sent: true, any: true}, nil
	}
	c := condition{}
	for rest := v; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		weak := strings.HasPrefix(rest, "W/")
		if weak {
			rest = rest[2:]
		}
		u, ok := strings.CutPrefix(rest, `"`)
		end := strings.IndexByte(u, '"')
		if !ok || end < 0 || strings.ContainsFunc(u[:end], func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			c.sent = false
			break
		}
		if !weak {
			c.tags = append(c.tags, u[:end])
		}
		c.sent = true
		if rest = strings.TrimLeft(u[end+1:], " \t"); rest != "" && rest[0] != ',' {
			c.sent = false
			break
		}
	}
	if !c.sent { // no tag, or a malformed one
		return condition{}, playback.Errorf(playback.CodeInvalid, "if_match_invalid",
			"If-Match must be * or a list of quoted ETags as GET returned them, got %s", v)
	}
	return c, nil
}

func requireIfMatch(r *http.Request) (condition, error) {
	c, err := ifMatch(r)
	if err == nil && !c.sent {
		err = playback.Errorf(playback.CodeInvalid, "if_match_required",
			"send If-Match with the ETag of the record as read (or * to overwrite whatever is stored)")
	}
	return c, err
}

func pageArgs(r *http.Request) (string, int, error) {
	q := r.URL.Query()
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			e := playback.Errorf(playback.CodeInvalid, "limit_invalid", "limit must be an integer from 1 to %d, got %q", MaxLimit, v)
			e.Details = map[string]string{"field": "limit"}
			return "", 0, e
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}

func validID(kind playback.Kind, id string) error {
	if !playback.ValidRecordID(id) {
		e := playback.Errorf(playback.CodeInvalid, "id_invalid", "%s id %q %s", kind, id, playback.RecordIDRule)
		e.Details = map[string]string{"field": "id"}
		return e
	}
	return nil
}

// ReasonValidation is the CodeUnprocessable reason of a record or file
// that breaks its rules; Details are Problems.
const ReasonValidation = "validation_failed"

// Problems is the Details of a validation error: every problem, each
// naming its field by JSON pointer.
type Problems struct {
	Problems []catalogfile.Problem `json:"problems"`
}

func invalid(what string, ps []catalogfile.Problem) error {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.String()
	}
	e := playback.Errorf(playback.CodeUnprocessable, ReasonValidation, "%s: %s", what, strings.Join(msgs, "; "))
	e.Details = Problems{Problems: ps}
	return e
}

func problem(pointer, format string, args ...any) catalogfile.Problem {
	return catalogfile.Problem{Pointer: pointer, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ auth.Identity, kind playback.Kind) error {
	cursor, limit, err := pageArgs(r)
	if err != nil {
		return err
	}
	page, err := s.deps.Store.ListRecords(r.Context(), kind, cursor, limit)
	if err != nil {
		return err
	}
	if page.Records == nil {
		page.Records = []playback.Record{}
	}
	httpx.WriteJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, _ auth.Identity, kind playback.Kind) error {
	id := r.PathValue("id")
	if err := validID(kind, id); err != nil {
		return err
	}
	rec, err := s.deps.Store.GetRecord(r.Context(), kind, id)
	if err != nil {
		return err
	}
	writeRecord(w, http.StatusOK, rec.Version, rec.Doc)
	return nil
}

func writeRecord(w http.ResponseWriter, status int, version string, doc json.RawMessage) {
	w.Header().Set("ETag", etag(version))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(doc)
	_, _ = w.Write([]byte("\n"))
}

// readRecord reads and checks the body of a write of kind: well-formed
// JSON, then the catalogue file's rules for the record. It answers the
// record as read (catalogfile.ReadRecord).
func (s *Server) readRecord(r *http.Request, kind playback.Kind) ([]byte, error) {
	if err := httpx.CheckJSONContentType(r); err != nil {
		return nil, err
	}
	body, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if len(body) == 0 {
		return nil, playback.Errorf(playback.CodeInvalid, playback.ReasonBodyEmpty, "the body must be a JSON %s", kind)
	}
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "the body must be a JSON object: %v", err)
	}
	// The rules of every other JSON body, which encoding/json lets
	// through: no name twice (it keeps the last), valid UTF-8.
	if err := httpx.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	rec, ps, err := catalogfile.ReadRecord(kind, body)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return nil, invalid(string(kind), ps)
	}
	return rec, nil
}

// build turns a checked body into the stored document, over the stored
// record (nil when there is none): edges keep their health and accounts
// their devices and subscriptions, as an import keeps them.
func (s *Server) build(ctx context.Context, kind playback.Kind, body []byte, stored json.RawMessage) (json.RawMessage, error) {
	var v any
	switch kind {
	case playback.KindPlan:
		var p playback.Plan
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		v = p
	case playback.KindTitle:
		var t playback.Title
		if err := json.Unmarshal(body, &t); err != nil {
			return nil, err
		}
		for i := range t.Windows {
			t.Windows[i].Start, t.Windows[i].End = t.Windows[i].Start.UTC(), t.Windows[i].End.UTC()
		}
		v = t
	case playback.KindEdge:
		var e catalogfile.Edge
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, err
		}
		// A new edge, never heard from, is stale: steering skips it until
		// its first health report (Traffic Monitor holds a cache
		// unavailable until its first poll), whatever Healthy starts as.
		have := playback.Edge{Healthy: true}
		if stored != nil {
			if err := json.Unmarshal(stored, &have); err != nil {
				return nil, fmt.Errorf("admin: stored edge %q: %w", e.ID, err)
			}
		}
		v = e.Apply(have)
	case playback.KindAccount:
		var a catalogfile.Account
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, err
		}
		// "" (catalogfile: a linked account) waits for its customer's events.
		if a.PlanID != "" {
			if _, err := s.deps.Store.GetRecord(ctx, playback.KindPlan, a.PlanID); playback.IsCode(err, playback.CodeNotFound) {
				return nil, invalid("account", []catalogfile.Problem{problem("/plan_id", "plan %q does not exist", a.PlanID)})
			} else if err != nil {
				return nil, err
			}
		}
		if ps := a.DateProblems("", s.deps.Now()); len(ps) > 0 {
			return nil, invalid("account", ps)
		}
		var have playback.Account
		if stored != nil {
			if err := json.Unmarshal(stored, &have); err != nil {
				return nil, fmt.Errorf("admin: stored account %q: %w", a.ID, err)
			}
		}
		if owned := a.PaymentOwned(have); len(owned) > 0 {
			e := playback.Errorf(playback.CodeConflict, playback.ReasonManagedInStripe,
				"account %q is billed by Stripe customer %q, whose next event would set %s back: change the subscription in Stripe, or hold the account (POST .../suspend)",
				a.ID, have.CustomerID, strings.Join(owned, " and "))
			e.Details = ManagedInStripe{CustomerID: have.CustomerID, Fields: owned}
			return nil, e
		}
		v = a.Apply(have, s.deps.Now())
	}
	return json.Marshal(v)
}

// ManagedInStripe is the Details of a 409 managed_in_stripe: the fields
// (JSON pointers) of the write that Stripe decides on this account, and
// its customer, where to change them.
type ManagedInStripe struct {
	CustomerID string   `json:"customer_id,omitempty"`
	Fields     []string `json:"fields"`
}

func bodyID(body []byte) string {
	var x struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &x)
	return x.ID
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, who auth.Identity, kind playback.Kind) error {
	body, err := s.readRecord(r, kind)
	if err != nil {
		return err
	}
	id := bodyID(body)
	doc, err := s.build(r.Context(), kind, body, nil)
	if err != nil {
		return err
	}
	var rec playback.Record
	exists := false
	err = s.creating(r.Context(), kind, id, func() error {
		var err error
		rec, err = s.apply(r.Context(), who, playback.Change{Kind: kind, ID: id, Doc: doc, IfAbsent: true}, nil)
		if exists = playback.IsCode(err, playback.CodePrecondition); exists {
			return nil // what waits for it is woken all the same
		}
		return err
	})
	if exists && err == nil {
		if err := s.afterCreated(r.Context(), kind, id, doc); err != nil {
			return err
		}
		e := playback.Errorf(playback.CodeConflict, "already_exists", "%s %q exists; PUT it with If-Match to change it", kind, id)
		e.Details = map[string]string{"kind": string(kind), "id": id}
		return e
	}
	if err != nil {
		return err
	}
	if err := s.afterWrite(r.Context(), kind, doc); err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path+"/"+url.PathEscape(id))
	writeRecord(w, http.StatusCreated, rec.Version, rec.Doc)
	return nil
}

// creating runs create, which writes record id of kind if absent; for an
// account it wakes the payment events parked waiting for the account to
// exist (an event whose checkout or metadata.account_id names it) with
// events.CreateStripeAccount, which hands them to the payment sweeper
// before the write and announces them after it: without the bus, or
// should the process die between, the sweeper applies them after its
// first backoff. create returns nil when the account exists already (a
// retried create whose wake failed wakes them again).
func (s *Server) creating(ctx context.Context, kind playback.Kind, id string, create func() error) error {
	if kind != playback.KindAccount {
		return create()
	}
	written := false
	woken, err := events.CreateStripeAccount(ctx, s.deps.Store, s.deps.Bus, id, events.WakePage, s.deps.Now, func() error {
		err := create()
		written = err == nil
		return err
	})
	if err != nil && written {
		return playback.Unavailable(err, "admin: account %q is written, announcing the payment events parked for it failed after %d (retry the request)",
			id, woken)
	}
	if err != nil {
		return err
	}
	if woken > 0 {
		httpx.Logger(ctx).InfoContext(ctx, "parked stripe events woken by an account's creation", "account_id", id, "count", woken)
	}
	return nil
}

// afterCreated does what creating record id as doc implies (afterWrite)
// when the stored record is an account with doc's customer: a create
// retried after its link failed, or after the runner was killed before
// the link, finds the account written and answers 409, yet is the only
// call that would make the link.
func (s *Server) afterCreated(ctx context.Context, kind playback.Kind, id string, doc json.RawMessage) error {
	if kind != playback.KindAccount {
		return nil
	}
	cur, err := s.deps.Store.GetRecord(ctx, kind, id)
	if playback.IsCode(err, playback.CodeNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	var stored, sent playback.Account
	if err := json.Unmarshal(cur.Doc, &stored); err != nil {
		return fmt.Errorf("admin: stored account %q: %w", id, err)
	}
	if err := json.Unmarshal(doc, &sent); err != nil {
		return fmt.Errorf("admin: account %q as sent: %w", id, err)
	}
	if stored.CustomerID == "" || stored.CustomerID != sent.CustomerID {
		return nil
	}
	return s.afterWrite(ctx, kind, cur.Doc)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, who auth.Identity, kind playback.Kind) error {
	id := r.PathValue("id")
	if err := validID(kind, id); err != nil {
		return err
	}
	match, err := requireIfMatch(r)
	if err != nil {
		return err
	}
	body, err := s.readRecord(r, kind)
	if err != nil {
		return err
	}
	return s.rewrite(w, r, who, kind, id, match, func(playback.Record) ([]byte, error) { return body, nil })
}

// rereads is how many times a write reads the record again when another
// write lands between its read and its own: If-Match * (or a list) may
// still hold on what landed, and a PATCH merges over it.
const rereads = 3

// rewrite writes over record id the body bodyOf builds from the record as
// read, when match holds on it, and answers it. When another write lands
// between the read and this one, it reads again (up to rereads times): the
// condition is checked again, and bodyOf built again, on what landed.
func (s *Server) rewrite(w http.ResponseWriter, r *http.Request, who auth.Identity, kind playback.Kind, id string, match condition, bodyOf func(cur playback.Record) ([]byte, error)) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.deps.Store.GetRecord(r.Context(), kind, id)
		if err != nil {
			return err
		}
		if !match.holds(cur.Version) {
			if s.applied(r.Context(), kind, id, cur, bodyOf) {
				// A state-changing request whose change is in place may be
				// answered 2xx (RFC 9110 section 13.1.1): a retry whose
				// first answer was lost (a runner killed after the write)
				// then does what the write implies, as nothing else would.
				return s.replaced(w, r, kind, cur, cur.Doc)
			}
			return playback.ErrPrecondition(kind, id, cur.Version)
		}
		body, err := bodyOf(cur)
		if err != nil {
			return err
		}
		rec, doc, err := s.replace(r, who, kind, id, cur, body)
		if playback.IsCode(err, playback.CodePrecondition) && attempt < rereads {
			continue
		}
		if err != nil {
			return err
		}
		return s.replaced(w, r, kind, rec, doc)
	}
}

// applied reports whether the body bodyOf builds from cur, the record as
// read, is cur as stored: the request's change is in place already.
func (s *Server) applied(ctx context.Context, kind playback.Kind, id string, cur playback.Record, bodyOf func(cur playback.Record) ([]byte, error)) bool {
	body, err := bodyOf(cur)
	if err != nil {
		return false
	}
	doc, err := s.built(ctx, kind, id, cur, body)
	return err == nil && bytes.Equal(doc, cur.Doc)
}

// built is the document body, a record of id, makes over cur, the record
// as read.
func (s *Server) built(ctx context.Context, kind playback.Kind, id string, cur playback.Record, body []byte) (json.RawMessage, error) {
	if got := bodyID(body); got != id {
		return nil, invalid(string(kind), []catalogfile.Problem{problem("/id", "the body's id %q is not the path's %q", got, id)})
	}
	return s.build(ctx, kind, body, cur.Doc)
}

// replace writes body, a checked record, over cur, the record as read,
// and answers the record written and the document built.
func (s *Server) replace(r *http.Request, who auth.Identity, kind playback.Kind, id string, cur playback.Record, body []byte) (playback.Record, json.RawMessage, error) {
	doc, err := s.built(r.Context(), kind, id, cur, body)
	if err != nil {
		return playback.Record{}, nil, err
	}
	rec, err := s.apply(r.Context(), who, playback.Change{Kind: kind, ID: id, Doc: doc, IfMatch: cur.Version}, cur.Doc)
	return rec, doc, err
}

// replaced does what a replace implies beyond the record and answers it.
func (s *Server) replaced(w http.ResponseWriter, r *http.Request, kind playback.Kind, rec playback.Record, doc json.RawMessage) error {
	// Both run whatever the other did: the write is done, and a retry
	// needs the new version, so neither may wait for one.
	var ended error
	if kind == playback.KindAccount {
		ended = s.endIfMayNotPlay(r.Context(), rec.Doc)
	}
	if err := errors.Join(ended, s.afterWrite(r.Context(), kind, doc)); err != nil {
		return err
	}
	writeRecord(w, http.StatusOK, rec.Version, rec.Doc)
	return nil
}

// MergePatchType is the media type of PATCH bodies (RFC 7396).
const MergePatchType = "application/merge-patch+json"

// patchAccount is PATCH /v1/admin/accounts/{id}: a JSON merge patch
// (RFC 7396) of the account's settings as GET answers them — members set
// replace, null removes (back to the default), members left out stay — so
// a client changes one setting without sending, or knowing, the others.
// The result is checked and written as a PUT of it would be.
func (s *Server) patchAccount(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	const kind = playback.KindAccount
	id := r.PathValue("id")
	if err := validID(kind, id); err != nil {
		return err
	}
	match, err := requireIfMatch(r)
	if err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != MergePatchType {
		w.Header().Set("Accept-Patch", MergePatchType) // RFC 5789 section 2.2
		return playback.Errorf(playback.CodeUnsupportedMediaType, httpx.ReasonContentType,
			"Content-Type must be %s, got %q", MergePatchType, r.Header.Get("Content-Type"))
	}
	patch, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(patch, &obj); err != nil || obj == nil {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "the body must be a JSON merge patch object: %v", err)
	}
	if err := httpx.Unmarshal(patch, &obj); err != nil {
		return err // as readRecord: no name twice, valid UTF-8
	}
	return s.rewrite(w, r, who, kind, id, match, func(cur playback.Record) ([]byte, error) {
		return s.patched(id, cur, obj, patch)
	})
}

// patched is account id's settings as stored in cur with the merge patch patch
// (obj, its members) applied, checked as a PUT body.
func (s *Server) patched(id string, cur playback.Record, obj map[string]json.RawMessage, patch []byte) ([]byte, error) {
	const kind = playback.KindAccount
	var stored playback.Account
	if err := json.Unmarshal(cur.Doc, &stored); err != nil {
		return nil, fmt.Errorf("admin: stored account %q: %w", id, err)
	}
	have := catalogfile.AccountOf(stored)
	if _, dated := obj["past_due_since"]; !dated {
		// The stored date is the stored status's: a patch of the status
		// alone gets the date the write leaves (Account.Apply), not one
		// refused beside another status.
		if _, ok := obj["status"]; ok {
			have.PastDueSince = time.Time{}
		}
	}
	settings, err := json.Marshal(have)
	if err != nil {
		return nil, err
	}
	body, err := mergePatch(settings, patch)
	if err != nil {
		return nil, err
	}
	rec, ps, err := catalogfile.ReadRecord(kind, body)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return nil, invalid(string(kind), ps)
	}
	return rec, nil
}

// mergePatch applies the JSON merge patch patch to the JSON object doc
// (RFC 7396, section 2). Numbers keep their literals, so the result is
// checked as a PUT of it would be: a float64 would lose digits, and fail
// on a number beyond its range before any check could name the field.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var target, p any
	if err := decodeNumbers(doc, &target); err != nil {
		return nil, err
	}
	if err := decodeNumbers(patch, &p); err != nil {
		return nil, err
	}
	return json.Marshal(mergeValue(target, p))
}

func decodeNumbers(data []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergeValue(t[k], v)
		}
	}
	return t
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, who auth.Identity, kind playback.Kind) error {
	id := r.PathValue("id")
	if err := validID(kind, id); err != nil {
		return err
	}
	match, err := requireIfMatch(r)
	if err != nil {
		return err
	}
	tag, one := match.one()
	account := kind == playback.KindAccount
	for attempt := 1; ; attempt++ {
		c := playback.Change{Kind: kind, ID: id, IfMatch: tag}
		var before json.RawMessage // the account as read: its customer is freed
		if !one || account {
			cur, err := s.deps.Store.GetRecord(r.Context(), kind, id)
			if account && playback.IsCode(err, playback.CodeNotFound) {
				// A DELETE retried after the account went, whose sessions did
				// not all end then (below), ends them now.
				if err := s.endDeleted(r.Context(), id, "is deleted"); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			if account {
				if err := s.settleLink(r.Context(), cur); err != nil {
					return err
				}
				before = cur.Doc
			}
			if !one {
				if !match.holds(cur.Version) {
					return playback.ErrPrecondition(kind, id, cur.Version)
				}
				c.IfMatch = cur.Version
			}
		}
		_, err := s.apply(r.Context(), who, c, before)
		if playback.IsCode(err, playback.CodePrecondition) {
			// A delete of a record that is gone is a 404, not a stale
			// version: say which.
			if _, gerr := s.deps.Store.GetRecord(r.Context(), kind, id); playback.IsCode(gerr, playback.CodeNotFound) {
				return gerr
			}
			if !one && attempt < rereads {
				continue // the condition is checked again on what landed
			}
		}
		if err != nil {
			return err
		}
		break
	}
	if account {
		// The sessions and lease slots of an account outlive its record on
		// every store, and heartbeats would renew them with no account
		// left for the entitlement consumer to act on. They end after the
		// delete, not before: a delete refused (412, a write landed first)
		// leaves its streams playing. A failure here is repaired by the
		// retried DELETE (above).
		if err := s.endDeleted(r.Context(), id, "is deleted"); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// settleLink makes plain the link of the customer account cur names
// where it is still the account's pending claim on a version the record
// no longer has (a request that wrote the account and died before making
// it plain). Such a link is as plain as any while the record exists, but
// one pending on "" (a create's) would read as held again once the
// record is deleted, since a missing record has version "" too: the
// customer would stay refused, customer_linked_elsewhere naming an
// account that is gone, until someone created that account again.
func (s *Server) settleLink(ctx context.Context, cur playback.Record) error {
	var a struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(cur.Doc, &a); err != nil {
		return fmt.Errorf("admin: stored account %q: %w", cur.ID, err)
	}
	if a.CustomerID == "" {
		return nil
	}
	l, err := s.deps.Store.CustomerLink(ctx, a.CustomerID)
	if playback.IsCode(err, playback.CodeNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.AccountID != cur.ID || !l.Pending || l.Before == cur.Version {
		return nil
	}
	if _, err := s.deps.Store.SwapCustomerLink(ctx, a.CustomerID, l, playback.CustomerLink{AccountID: cur.ID}); err != nil {
		return playback.Unavailable(err, "admin: account %q: making customer %q's link plain before the delete failed (retry the request)", cur.ID, a.CustomerID)
	}
	return nil
}

// endDeleted ends the running sessions of account id, which is being or
// has been deleted (state says which, for the error): an account that is
// gone may not play, and it ends them through the call a lost entitlement
// makes.
func (s *Server) endDeleted(ctx context.Context, id, state string) error {
	if err := playback.EndLostEntitlement(ctx, s.deps.Store, id, s.deps.Now()); err != nil {
		return fmt.Errorf("admin: account %q %s, ending its sessions failed (DELETE it again to retry: the 404 ends them): %w", id, state, err)
	}
	return nil
}

// apply writes one change with its audit record and returns the record as
// written. A change naming on an account a customer that before, the
// record as read (nil: none), does not name claims the customer first
// (claimFor): a customer another account holds is refused, writing
// nothing.
//
// A change that frees a customer before names (a delete of the account,
// or another customer_id or none) wakes the Stripe events parked while
// this account held that customer (freeing): a checkout of it for
// another account waits for this.
func (s *Server) apply(ctx context.Context, who auth.Identity, c playback.Change, before json.RawMessage) (playback.Record, error) {
	customer, err := customerNamed(c, before)
	if err != nil {
		return playback.Record{}, err
	}
	freed, err := customerFreed(c, before)
	if err != nil {
		return playback.Record{}, err
	}
	write := func(ctx context.Context) (playback.Record, error) { return s.write(ctx, who, c) }
	if freed != "" {
		write = s.freeing(freed, c.ID, write)
	}
	if customer == "" {
		return write(ctx)
	}
	// The account the customer's link names holds its subscriptions (its
	// events went there): this one adopts them in its write, read once the
	// claim routes the customer's events here.
	holder, err := playback.CustomerHolder(ctx, s.deps.Store, customer, c.ID)
	if err != nil {
		return playback.Record{}, err
	}
	if holder != "" {
		plain := write
		write = func(ctx context.Context) (playback.Record, error) {
			from, err := playback.StoredAccount(ctx, s.deps.Store, holder)
			if err == nil {
				c.Doc, _, err = playback.AdoptInto(c.Doc, from, customer)
			}
			if err != nil {
				return playback.Record{}, err
			}
			return plain(ctx)
		}
	}
	return s.claimFor(ctx, customer, c, write)
}

// customerFreed is the customer before, the account as read (nil: none),
// names that change c leaves it naming no longer ("" when none).
func customerFreed(c playback.Change, before json.RawMessage) (string, error) {
	if c.Kind != playback.KindAccount || before == nil {
		return "", nil
	}
	var after, was struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(before, &was); err != nil {
		return "", fmt.Errorf("admin: stored account %q: %w", c.ID, err)
	}
	if !c.Delete() {
		if err := json.Unmarshal(c.Doc, &after); err != nil {
			return "", fmt.Errorf("admin: account %q to write: %w", c.ID, err)
		}
	}
	if after.CustomerID == was.CustomerID {
		return "", nil
	}
	return was.CustomerID, nil
}

// freeing is write, which frees customer from account, with the Stripe
// events parked while account held customer woken around it
// (events.FreeStripeCustomer, which lists that customer's held key
// alone): a checkout of the customer for another account waits there
// while this one holds it, and its retry would come
// at the sweeper's backoff, hours into a long wait, with the viewer paid
// and not entitled. They are handed to the sweeper before the write, so
// the answer to the request needs no more: an announcement that fails
// after the write is logged, and the sweeper announces them after its
// first backoff.
func (s *Server) freeing(customer, account string, write func(context.Context) (playback.Record, error)) func(context.Context) (playback.Record, error) {
	return func(ctx context.Context) (playback.Record, error) {
		var rec playback.Record
		written := false
		woken, err := events.FreeStripeCustomer(ctx, s.deps.Store, s.deps.Bus, customer, events.WakePage, s.deps.Now, func() error {
			var err error
			rec, err = write(ctx)
			written = err == nil
			return err
		})
		switch {
		case err != nil && written:
			httpx.Logger(ctx).WarnContext(ctx, "announcing the stripe events parked for a freed customer failed; the sweeper will",
				"customer", customer, "account_id", account, "woken", woken, "err", err)
			return rec, nil
		case err != nil:
			return rec, err
		case woken > 0:
			httpx.Logger(ctx).InfoContext(ctx, "parked stripe events woken by an operator freeing their customer",
				"customer", customer, "account_id", account, "count", woken)
		}
		return rec, nil
	}
}

// customerNamed is the customer account change c names that before, the
// record as read, does not ("" when none).
func customerNamed(c playback.Change, before json.RawMessage) (string, error) {
	if c.Kind != playback.KindAccount || c.Delete() {
		return "", nil
	}
	var after, was struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(c.Doc, &after); err != nil {
		return "", fmt.Errorf("admin: account %q to write: %w", c.ID, err)
	}
	if before != nil {
		if err := json.Unmarshal(before, &was); err != nil {
			return "", fmt.Errorf("admin: stored account %q: %w", c.ID, err)
		}
	}
	if after.CustomerID == was.CustomerID {
		return "", nil
	}
	return after.CustomerID, nil
}

// claimFor runs write, account change c naming customer, holding the
// customer's link: claimed first as pending on the version c is
// conditioned on (playback.ClaimCustomer), so that of operators linking
// one customer to several accounts at once one wins and the others are
// refused before they write anything, and so that the link, written
// before the account names the customer, is not taken meanwhile as one
// its account no longer names. A write refused for good gives the link
// back; one that may have landed (a retryable failure) keeps it, and
// its retry claims it again. Once written the link is plain (best effort:
// the written version already frees it but for a record deleted since).
// The payment events parked for the customer are handed to the sweeper
// before the claim and announced after (events.ClaimStripeCustomer).
func (s *Server) claimFor(ctx context.Context, customer string, c playback.Change, write func(context.Context) (playback.Record, error)) (playback.Record, error) {
	now := s.deps.Now()
	var rec playback.Record
	written := false
	woken, err := events.ClaimStripeCustomer(ctx, s.deps.Store, s.deps.Bus, customer, events.WakePage, s.deps.Now, func() error {
		// The write is not sent once the claim may be taken as stale
		// (playback.PendingClaimWrite): a request this runtime goes on
		// with past its timeout.
		out, err := playback.WriteClaimed(ctx, s.deps.Store, customer, c.ID, c.IfMatch, now, s.deps.Now, func(wctx context.Context) (err error) {
			rec, err = write(wctx)
			return err
		})
		written = out.Written
		switch {
		case out.LinkErr != nil && written:
			httpx.Logger(ctx).WarnContext(ctx, "customer link left pending", "customer", customer, "account_id", c.ID, "err", out.LinkErr)
		case out.LinkErr != nil:
			httpx.Logger(ctx).WarnContext(ctx, "customer link claim not given back", "customer", customer, "account_id", c.ID, "err", out.LinkErr)
		}
		return err
	})
	if err != nil && written {
		return rec, playback.Unavailable(err, "admin: account %q is written, announcing the payment events parked for customer %q failed after %d (retry the request)",
			c.ID, customer, woken)
	}
	return rec, err
}

// write writes one change with its audit record and returns the record as
// written.
func (s *Server) write(ctx context.Context, who auth.Identity, c playback.Change) (playback.Record, error) {
	ar, err := s.deps.Store.ApplyChanges(ctx, playback.ChangeSet{Actor: actor(who), At: s.deps.Now(), Changes: []playback.Change{c}})
	if err != nil {
		return playback.Record{}, err
	}
	if len(ar.Changes) == 0 {
		return playback.Record{}, fmt.Errorf("admin: the store's audit record lists no change")
	}
	ch := ar.Changes[0]
	return playback.Record{Kind: c.Kind, ID: c.ID, Version: ch.Version, Doc: ch.After}, nil
}

// afterWrite does what a record write implies beyond the record: an
// account's payment customer is linked to it, and the payment events
// parked waiting for that link are announced to the payment consumer,
// which applies them now rather than at the next reconciliation (which
// needs the Stripe API). Both are idempotent (a link the account has is
// left as it is, the consumer skips processed events and parks again
// what still cannot apply), so a retried request repairs whatever a
// failure left undone.
func (s *Server) afterWrite(ctx context.Context, kind playback.Kind, doc json.RawMessage) error {
	if kind != playback.KindAccount {
		return nil
	}
	var a playback.Account
	if err := json.Unmarshal(doc, &a); err != nil {
		return fmt.Errorf("admin: account as written: %w", err)
	}
	if a.CustomerID == "" {
		return nil
	}
	// A retry finding the write in place (or a create finding the
	// account) links what its first attempt may not have; a link left by
	// an account that no longer names the customer is taken.
	woken, err := events.ClaimStripeCustomer(ctx, s.deps.Store, s.deps.Bus, a.CustomerID, events.WakePage, s.deps.Now, func() error {
		_, err := playback.ClaimCustomer(ctx, s.deps.Store, a.CustomerID, playback.CustomerLink{AccountID: a.ID}, s.deps.Now())
		return err
	})
	if playback.IsCode(err, playback.CodeConflict) {
		return err
	}
	if err != nil {
		return playback.Unavailable(err, "admin: account %q is written, linking customer %q and announcing its parked payment events failed after %d (retry the request)",
			a.ID, a.CustomerID, woken)
	}
	if woken > 0 {
		httpx.Logger(ctx).InfoContext(ctx, "parked stripe events woken by an operator's link", "customer", a.CustomerID,
			"account_id", a.ID, "count", woken)
	}
	return nil
}

// modify changes an account with fn, conditioned on If-Match when sent and
// otherwise on the version it read (retrying if someone else wrote in
// between, since fn changes only its own field). fn reporting false means
// nothing to change: the record is answered as it is.
func (s *Server) modify(r *http.Request, who auth.Identity, id string, fn func(*playback.Account) bool) (playback.Record, error) {
	match, err := ifMatch(r)
	if err != nil {
		return playback.Record{}, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.deps.Store.GetRecord(r.Context(), playback.KindAccount, id)
		if err != nil {
			return cur, err
		}
		var a playback.Account
		if err := json.Unmarshal(cur.Doc, &a); err != nil {
			return cur, fmt.Errorf("admin: stored account %q: %w", id, err)
		}
		// Nothing to change is the change in place, whatever the version:
		// a retry whose first answer was lost is answered as rewrite
		// answers one (RFC 9110 section 13.1.1), and its caller does
		// what the write implies.
		if !fn(&a) {
			return cur, nil
		}
		if match.sent && !match.holds(cur.Version) {
			return cur, playback.ErrPrecondition(playback.KindAccount, id, cur.Version)
		}
		doc, err := json.Marshal(a)
		if err != nil {
			return cur, err
		}
		rec, err := s.apply(r.Context(), who, playback.Change{Kind: playback.KindAccount, ID: id, Doc: doc, IfMatch: cur.Version}, cur.Doc)
		if playback.IsCode(err, playback.CodePrecondition) && (!match.sent || match.any) && attempt < rereads {
			continue
		}
		return rec, err
	}
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request, who auth.Identity, suspended bool) error {
	id := r.PathValue("id")
	if err := validID(playback.KindAccount, id); err != nil {
		return err
	}
	rec, err := s.modify(r, who, id, func(a *playback.Account) bool {
		if a.Suspended == suspended {
			return false
		}
		a.Suspended = suspended
		return true
	})
	if err != nil {
		return err
	}
	if err := s.endIfMayNotPlay(r.Context(), rec.Doc); err != nil {
		return err
	}
	writeRecord(w, http.StatusOK, rec.Version, rec.Doc)
	return nil
}

// endIfMayNotPlay ends the running sessions of the account written as doc
// when it may not play whatever the grace (playback.MayNeverPlay), as a
// lost entitlement from the payment provider does, and through the same
// call. It runs after every write of an account, changed or not, so a
// retried request (or a suspension) ends what a failed attempt left
// running.
func (s *Server) endIfMayNotPlay(ctx context.Context, doc json.RawMessage) error {
	var a playback.Account
	if err := json.Unmarshal(doc, &a); err != nil {
		return fmt.Errorf("admin: account as written: %w", err)
	}
	if err := playback.EndIfMayNeverPlay(ctx, s.deps.Store, a, s.deps.Now()); err != nil {
		return fmt.Errorf("admin: account %q is written and may not play, ending its sessions failed (GET it and write it again, or suspend it, to retry): %w", a.ID, err)
	}
	return nil
}

// CustomerLink is the body of PUT /v1/admin/accounts/{id}/customer.
type CustomerLink struct {
	CustomerID string `json:"customer_id"`
}

func (s *Server) linkCustomer(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	id := r.PathValue("id")
	if err := validID(playback.KindAccount, id); err != nil {
		return err
	}
	var body CustomerLink
	if err := httpx.DecodeJSON(r, &body, s.cfg.MaxBody); err != nil {
		return err
	}
	if !playback.ValidCustomerID(body.CustomerID) {
		return invalid("customer link", []catalogfile.Problem{problem("/customer_id", playback.CustomerIDRule)})
	}
	now := s.deps.Now()
	rec, err := s.modify(r, who, id, func(a *playback.Account) bool {
		if a.CustomerID == body.CustomerID {
			return false
		}
		a.NameCustomer(body.CustomerID, now)
		return true
	})
	if err != nil {
		return err
	}
	if err := s.afterWrite(r.Context(), playback.KindAccount, rec.Doc); err != nil {
		return err
	}
	writeRecord(w, http.StatusOK, rec.Version, rec.Doc)
	return nil
}

// Devices is the answer of GET /v1/admin/accounts/{id}/devices.
type Devices struct {
	AccountID string            `json:"account_id"`
	Devices   []playback.Device `json:"devices"`
}

func (s *Server) devices(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	id := r.PathValue("id")
	if err := validID(playback.KindAccount, id); err != nil {
		return err
	}
	rec, err := s.deps.Store.GetRecord(r.Context(), playback.KindAccount, id)
	if err != nil {
		return err
	}
	var a playback.Account
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return fmt.Errorf("admin: stored account %q: %w", id, err)
	}
	out := Devices{AccountID: id, Devices: a.Devices}
	if out.Devices == nil {
		out.Devices = []playback.Device{}
	}
	w.Header().Set("ETag", etag(rec.Version))
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// Coverage zone files are answered as they were uploaded; their version
// is the ETag and also X-Coverage-Zones-Version.
const HeaderZonesVersion = "X-Coverage-Zones-Version"

func (s *Server) getZones(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	var v int64
	if raw := r.PathValue("version"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			e := playback.Errorf(playback.CodeInvalid, "version_invalid", "version must be a positive integer, got %q", raw)
			e.Details = map[string]string{"field": "version"}
			return e
		}
		v = n
	}
	cz, err := s.deps.Store.GetCoverageZones(r.Context(), v)
	if err != nil {
		return err
	}
	w.Header().Set(HeaderZonesVersion, strconv.FormatInt(cz.Version, 10))
	w.Header().Set("ETag", etag(strconv.FormatInt(cz.Version, 10)))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(cz.Data)
	return nil
}

func (s *Server) putZones(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	for _, tag := range match.tags {
		n, err := strconv.ParseInt(tag, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != tag { // the tag as ETag spells it
			return playback.Errorf(playback.CodeInvalid, "if_match_invalid", "If-Match must be the ETag of a coverage zone version, got %q", tag)
		}
	}
	var ifVersion int64
	if tag, one := match.one(); one {
		ifVersion, _ = strconv.ParseInt(tag, 10, 64)
	} else if match.sent {
		// Several tags, weak ones only, or "*": each holds on a stored
		// file only (GET answers 404 while there is none, and "*" is false
		// without a current representation, RFC 9110 section 13.1.1). A
		// list conditions the upload on the latest version, if it names
		// it; "*" on nothing more, as files are never deleted.
		var latest int64
		cz, err := s.deps.Store.GetCoverageZones(r.Context(), 0)
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return err
		}
		latest = cz.Version
		if latest == 0 || !match.holds(strconv.FormatInt(latest, 10)) {
			return playback.ErrPrecondition(playback.KindCoverageZones, "latest", strconv.FormatInt(latest, 10))
		}
		if !match.any {
			ifVersion = latest
		}
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return err
	}
	data, err := httpx.ReadBody(r, playback.MaxCoverageZonesBytes)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonBodyEmpty, "the body must be a coverage zone file")
	}
	if ps := catalogfile.CoverageZonesProblems(data); len(ps) > 0 {
		return invalid("coverage zone file", ps)
	}
	cz, err := catalogfile.UploadCoverageZones(r.Context(), s.deps.Store, data, actor(who), s.deps.Now(), ifVersion)
	if err != nil {
		return err
	}
	w.Header().Set(HeaderZonesVersion, strconv.FormatInt(cz.Version, 10))
	w.Header().Set("ETag", etag(strconv.FormatInt(cz.Version, 10)))
	httpx.WriteJSON(w, http.StatusCreated, cz)
	return nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, who auth.Identity) error {
	cursor, limit, err := pageArgs(r)
	if err != nil {
		return err
	}
	page, err := s.deps.Store.ListAudit(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	if page.Records == nil {
		page.Records = []playback.AuditRecord{}
	}
	httpx.WriteJSON(w, http.StatusOK, page)
	return nil
}

// UnknownEdges is the answer of GET /v1/admin/unknown-edges: edges whose
// health reports verified (EDGE_HMAC_KEYS holds their key) while the edge
// table held no edge of their id, most recently heard from first, at most
// Max of them. Create the edge (or remove its key) to act on one; an
// entry stays until pushed out, its last_report_at telling whether the
// edge still reports unknown.
type UnknownEdges struct {
	Edges []playback.UnknownEdge `json:"edges"`
	Max   int                    `json:"max"`
}

func (s *Server) unknownEdges(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	list, err := s.deps.Store.ListUnknownEdges(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []playback.UnknownEdge{}
	}
	httpx.WriteJSON(w, http.StatusOK, UnknownEdges{Edges: list, Max: playback.MaxUnknownEdges})
	return nil
}
