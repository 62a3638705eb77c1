package signurl_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
)

// fixedSteering ranks every request alike, and remembers what it was
// asked.
type fixedSteering struct {
	ranked []string
	err    error
	mu     sync.Mutex
	titles []string
	closed bool
}

func (f *fixedSteering) Pathways(_ *http.Request, titleID string, _ time.Time) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.titles = append(f.titles, titleID)
	return slices.Clone(f.ranked), f.err
}

func (f *fixedSteering) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// TestSessionStartsOnTheSteeringChoice: a session whose request names no
// CDN starts on the steering server's first choice, in every form a player
// starts from: the urls answer (its cdn, cookies and manifests), the
// manifests of the play answer (no cdn in their URL), the multivariant
// playlist's default PATHWAY-ID and the MPD's defaultServiceLocation (and
// the one pathway of a query-grant MPD). A CDN the request names wins;
// without a usable ranking the default CDN is the start.
func TestSessionStartsOnTheSteeringChoice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		ranked    []string
		err       error
		cdn       string // named by the request
		want      string
		unchanged bool // no ranking asked for
	}{
		{name: "first choice", ranked: []string{cdnCDN, cdnCFECDSA, cdnCFRSA}, want: cdnCDN},
		{name: "the default when it ranks first", ranked: []string{cdnCFECDSA, cdnCDN}, want: cdnCFECDSA},
		{name: "first configured choice", ranked: []string{"akamai", cdnCFRSA, cdnCDN}, want: cdnCFRSA},
		{name: "named CDN wins", ranked: []string{cdnCDN}, cdn: cdnCFRSA, want: cdnCFRSA, unchanged: true},
		{name: "ranking failed", err: errors.New("edge table unavailable"), want: cdnCFECDSA},
		{name: "no configured CDN ranked", ranked: []string{"akamai"}, want: cdnCFECDSA},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			steer := &fixedSteering{ranked: tt.ranked, err: tt.err}
			m := newSteeredManifestHarness(t, 3, "", steer)
			sess, token := m.session(demo.AccountKids, ladderTitle, time.Hour)
			body := ""
			if tt.cdn != "" {
				body = `{"cdn":"` + tt.cdn + `"}`
			}
			rec := m.sign(sess.ID, token, body)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			if g.CDN != tt.want {
				t.Errorf("urls answer cdn %q, want %q", g.CDN, tt.want)
			}
			// The urls answer's own manifests, and those of the play answer
			// (functions/authorizeplay names no cdn).
			cred, err := m.tokens.IssueManifest(auth.PlaybackClaims{SessionID: sess.ID, AccountID: sess.AccountID, TitleID: ladderTitle,
				DeviceID: sess.DeviceID, IssuedAt: m.clock.now(), ExpiresAt: m.clock.now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			play := playurl.PersonalizedManifests(m.api.URL, sess.ID, cred, tt.cdn, "")
			for _, src := range []struct{ name, hls, dash string }{
				{"urls answer", g.Manifests.HLS, g.Manifests.DASH},
				{"play answer", play.HLS, play.DASH},
			} {
				hls := m.get(src.hls, nil)
				if hls.status != http.StatusOK {
					t.Fatalf("%s HLS: %d %s", src.name, hls.status, hls.reason)
				}
				steering, variants := parseMaster(t, hls.body)
				if got := attrValue(steering, "PATHWAY-ID"); got != tt.want {
					t.Errorf("%s: multivariant playlist starts on %q (%s), want %q", src.name, got, steering, tt.want)
				}
				if len(variants) == 0 || attrValue(variants[0].attrs, "PATHWAY-ID") != tt.want {
					t.Errorf("%s: first variant %+v, want pathway %q", src.name, variants, tt.want)
				}
				for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
					u, err := url.Parse(src.dash)
					if err != nil {
						t.Fatal(err)
					}
					q := u.Query()
					q.Set("grant", grant)
					u.RawQuery = q.Encode()
					dash := m.get(u.String(), nil)
					if dash.status != http.StatusOK {
						t.Fatalf("%s DASH %s: %d %s", src.name, grant, dash.status, dash.reason)
					}
					var doc mpd
					if err := xml.Unmarshal(dash.body, &doc); err != nil {
						t.Fatal(err)
					}
					if doc.Steering.Default != tt.want || len(doc.BaseURLs) == 0 || doc.BaseURLs[0].ServiceLocation != tt.want {
						t.Errorf("%s: %s MPD starts on %q with BaseURLs %+v, want %q first", src.name, grant, doc.Steering.Default, doc.BaseURLs, tt.want)
					}
				}
			}
			steer.mu.Lock()
			defer steer.mu.Unlock()
			if tt.unchanged != (len(steer.titles) == 0) || slices.ContainsFunc(steer.titles, func(s string) bool { return s != ladderTitle }) {
				t.Errorf("the ranking was asked for titles %q (want none: %v)", steer.titles, tt.unchanged)
			}
		})
	}
}

// meeting is where a ranking and a session read wait for each other: each
// arrives, then waits (at most meetWait) for the other. Both meet only if
// they run at the same time.
type meeting struct {
	mu                         sync.Mutex
	store, rank                chan struct{}
	storeSawRank, rankSawStore bool
}

const meetWait = 5 * time.Second

func newMeeting() *meeting {
	return &meeting{store: make(chan struct{}), rank: make(chan struct{})}
}

// arrive closes mine and waits for theirs; it says whether they came.
func (m *meeting) arrive(ctx context.Context, mine, theirs chan struct{}) bool {
	close(mine)
	select {
	case <-theirs:
		return true
	case <-ctx.Done():
	case <-time.After(meetWait):
	}
	return false
}

// meetingSteering ranks once it has met the session read.
type meetingSteering struct {
	fixedSteering
	meet *meeting
}

func (s *meetingSteering) Pathways(r *http.Request, titleID string, now time.Time) ([]string, error) {
	met := s.meet.arrive(r.Context(), s.meet.rank, s.meet.store)
	s.meet.mu.Lock()
	s.meet.rankSawStore = met
	s.meet.mu.Unlock()
	return s.fixedSteering.Pathways(r, titleID, now)
}

// meetingStore reads a session once it has met the ranking.
type meetingStore struct {
	signurl.Store
	meet *meeting
}

func (s meetingStore) GetSession(ctx context.Context, id string) (playback.Session, error) {
	met := s.meet.arrive(ctx, s.meet.store, s.meet.rank)
	s.meet.mu.Lock()
	s.meet.storeSawRank = met
	s.meet.mu.Unlock()
	return s.Store.GetSession(ctx, id)
}

// TestRankingRunsBesideTheSessionRead: the start pathway is ranked while
// the session is read, not after it (a second round trip of latency), for
// the urls answer and for a manifest a player starts from. The ranking
// and the session read each wait for the other: run one after the other,
// neither sees the other arrive.
func TestRankingRunsBesideTheSessionRead(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"urls", "hls"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			meet := newMeeting()
			steer := &meetingSteering{fixedSteering: fixedSteering{ranked: []string{cdnCDN, cdnCFECDSA}}, meet: meet}
			m := newSteeredManifestHarnessOver(t, 1, "", steer, func(s signurl.Store) signurl.Store { return meetingStore{Store: s, meet: meet} })
			sess, token := m.session(demo.AccountKids, ladderTitle, time.Hour)
			if route == "urls" {
				rec := m.sign(sess.ID, token, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("urls: %d %s", rec.Code, rec.Body)
				}
			} else {
				cred, err := m.tokens.IssueManifest(auth.PlaybackClaims{SessionID: sess.ID, AccountID: sess.AccountID, TitleID: ladderTitle,
					DeviceID: sess.DeviceID, IssuedAt: m.clock.now(), ExpiresAt: m.clock.now().Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				if got := m.get(playurl.PersonalizedManifests(m.api.URL, sess.ID, cred, "", "").HLS, nil); got.status != http.StatusOK {
					t.Fatalf("hls: %d %s", got.status, got.reason)
				}
			}
			meet.mu.Lock()
			defer meet.mu.Unlock()
			if !meet.storeSawRank || !meet.rankSawStore {
				t.Errorf("the session read saw the ranking arrive: %v; the ranking saw the session read: %v; want both", meet.storeSawRank, meet.rankSawStore)
			}
		})
	}
}

// patientSteering ranks only once its request's context is done, and
// then says it has returned and why its context ended: at startPathway's
// rankTimeout (deadline exceeded) or with the request (canceled).
type patientSteering struct {
	mu       sync.Mutex
	returned bool
	err      error
	done     chan struct{}
}

func (s *patientSteering) Pathways(r *http.Request, _ string, _ time.Time) ([]string, error) {
	<-r.Context().Done()
	s.mu.Lock()
	s.returned, s.err = true, r.Context().Err()
	s.mu.Unlock()
	close(s.done)
	return nil, s.err
}

// forgetfulStore has forgotten every session (an ended one past its TTL).
type forgetfulStore struct{ signurl.Store }

func (forgetfulStore) GetSession(context.Context, string) (playback.Session, error) {
	return playback.Session{}, playback.Errorf(playback.CodeNotFound, "session_not_found", "no such session")
}

// TestRankingEndsBeforeAnErrorAnswer: a request the store refuses is
// answered only once the ranking it started has returned, so the ranking
// never outlives its request (sessionLadder waits on every path, not only
// on the one that uses the pathway).
func TestRankingEndsBeforeAnErrorAnswer(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"urls", "hls"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			steer := &patientSteering{done: make(chan struct{})}
			m := newSteeredManifestHarnessOver(t, 1, "", steer, func(s signurl.Store) signurl.Store { return forgetfulStore{s} })
			sess, token := m.session(demo.AccountKids, ladderTitle, time.Hour)
			status := 0
			if route == "urls" {
				status = m.sign(sess.ID, token, "").Code
			} else {
				cred, err := m.tokens.IssueManifest(auth.PlaybackClaims{SessionID: sess.ID, AccountID: sess.AccountID, TitleID: ladderTitle,
					DeviceID: sess.DeviceID, IssuedAt: m.clock.now(), ExpiresAt: m.clock.now().Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				status = m.get(playurl.PersonalizedManifests(m.api.URL, sess.ID, cred, "", "").HLS, nil).status
			}
			if status != http.StatusGone {
				t.Fatalf("%s of a forgotten session: %d, want 410", route, status)
			}
			steer.mu.Lock()
			returned := steer.returned
			steer.mu.Unlock()
			if !returned {
				t.Error("the answer came before the ranking it started had returned")
			}
			// Over HTTP the request's end cancels the ranking, which may
			// then return before the client reads the answer: a ranking
			// the handler waited for ran to its own deadline instead.
			<-steer.done
			if !errors.Is(steer.err, context.DeadlineExceeded) {
				t.Errorf("the ranking's context ended with %v, want its deadline: the request ended first", steer.err)
			}
		})
	}
}

// TestCloseClosesTheRanking: the server owns its ranking (Build opens its
// GeoIP databases).
func TestCloseClosesTheRanking(t *testing.T) {
	t.Parallel()
	steer := &fixedSteering{ranked: []string{cdnCDN}}
	m := newSteeredManifestHarness(t, 1, "", steer)
	if err := m.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if !steer.closed {
		t.Error("Close left the ranking open")
	}
}
