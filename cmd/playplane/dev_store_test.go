package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestDevRoutesReadTheStore: the player page picks its account from
// /dev/demo, so it lists the demo accounts as the store holds them (a
// Stripe cancellation, an operator's plan change), and none that is not
// stored; /dev/token mints no token for a demo account that is not stored
// (SEED=false), a typed 404 instead.
func TestDevRoutesReadTheStore(t *testing.T) {
	t.Parallel()
	type listed struct {
		ID     string `json:"id"`
		PlanID string `json:"plan_id"`
		Status string `json:"status"`
	}
	get := func(t *testing.T, url string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	accounts := func(t *testing.T, r *localRun) map[string]listed {
		t.Helper()
		code, raw := get(t, r.srv.URL+"/dev/demo")
		var out struct {
			Accounts []listed `json:"accounts"`
		}
		if code != http.StatusOK || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("/dev/demo: %d %s", code, raw)
		}
		// The player page iterates both lists: null, it throws.
		var lists map[string]json.RawMessage
		if err := json.Unmarshal(raw, &lists); err != nil || !strings.HasPrefix(string(lists["accounts"]), "[") ||
			!strings.HasPrefix(string(lists["titles"]), "[") {
			t.Fatalf("/dev/demo: %s, want accounts and titles as lists (%v)", raw, err)
		}
		byID := map[string]listed{}
		for _, a := range out.Accounts {
			byID[a.ID] = a
		}
		return byID
	}
	tests := []struct {
		name  string
		seed  bool
		setup func(t *testing.T, s playback.Store)
		want  map[string]listed // the accounts /dev/demo must list as given
		gone  []string          // the demo accounts it must not list, and /dev/token refuses
	}{
		{name: "changed after the seed", seed: true,
			setup: func(t *testing.T, s playback.Store) {
				ctx := context.Background()
				if _, err := s.UpdateAccount(ctx, demo.AccountFamily, func(a *playback.Account) error { a.Status = playback.StatusCanceled; return nil }); err != nil {
					t.Fatal(err)
				}
				if _, err := s.UpdateAccount(ctx, demo.AccountSolo, func(a *playback.Account) error { a.PlanID = "premium"; return nil }); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]listed{
				demo.AccountFamily: {ID: demo.AccountFamily, PlanID: "standard", Status: string(playback.StatusCanceled)},
				demo.AccountSolo:   {ID: demo.AccountSolo, PlanID: "premium", Status: string(playback.StatusActive)},
			}},
		{name: "SEED=false", seed: false, gone: []string{demo.AccountFamily, demo.AccountSolo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startLocalConfig(t, t.TempDir(), func(cfg *Config) { cfg.Seed = new(tt.seed); cfg.DevEndpoints = true })
			if tt.setup != nil {
				tt.setup(t, r.app.store)
			}
			got := accounts(t, r)
			for id, want := range tt.want {
				if got[id] != want {
					t.Errorf("/dev/demo lists %+v, the store holds %+v", got[id], want)
				}
			}
			for _, id := range tt.gone {
				if a, ok := got[id]; ok {
					t.Errorf("/dev/demo lists %+v, which is not stored", a)
				}
				code, raw := get(t, r.srv.URL+"/dev/token?account="+id)
				if code != http.StatusNotFound || !strings.Contains(string(raw), `"reason":"account_not_found"`) {
					t.Errorf("/dev/token for %s, not stored: %d %s, want 404 account_not_found", id, code, raw)
				}
			}
		})
	}
}
