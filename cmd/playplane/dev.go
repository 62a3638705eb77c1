package main

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/web"
)

// devTokenTTL is how long a token from /dev/token lives, as `make token`'s.
const devTokenTTL = 24 * time.Hour

// mountWeb serves the player page (web/) at /player/, the QoE dashboard at
// /dashboard/ (it calls the admin API with a token the operator pastes) and, when
// DEV_ENDPOINTS is on, the runner-only development routes it uses to pick a
// demo account: GET /dev/demo and GET /dev/token.
//
// DEVELOPMENT ONLY: /dev/token mints a caller token for any stored demo
// account to whoever can reach the runner, which is what `make token` does from a
// shell. No cloud entry point has these routes; they are registered here,
// in the local runner, and nowhere else. They answer only requests
// addressed to the runner's own name (devCORS).
func (a *App) mountWeb(cdns []string) {
	page := web.Handler()
	a.mux.Handle("GET /player/", page)
	a.mux.Handle("GET /dashboard/", page)
	a.mux.Handle("GET /vendor/", page)
	a.mux.Handle("GET /{$}", http.RedirectHandler("/player/", http.StatusFound))
	if !a.cfg.DevEndpoints {
		return
	}
	slices.Sort(cdns)
	a.mux.Handle("GET /dev/demo", a.devCORS(httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		type account struct {
			ID        string `json:"id"`
			PlanID    string `json:"plan_id"`
			Territory string `json:"territory"`
			Status    string `json:"status"`
		}
		type title struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Rating *int   `json:"rating"`
		}
		out := struct {
			Accounts []account `json:"accounts"`
			Titles   []title   `json:"titles"`
			CDNs     []string  `json:"cdns"`
		}{Accounts: []account{}, Titles: []title{}, CDNs: cdns} // lists, never null: the player iterates them
		// The demo records as stored: Stripe, operators and SEED=false
		// change them from what demo seeds.
		ctx, now := r.Context(), a.now()
		for _, ac := range demo.Accounts(now) {
			stored, ok, err := a.storedAccount(ctx, ac.ID)
			if err != nil {
				return err
			}
			if ok {
				out.Accounts = append(out.Accounts, account{stored.ID, stored.PlanID, stored.Territory, string(stored.Status)})
			}
		}
		for _, t := range demo.Titles(now) {
			stored, err := a.store.GetTitle(ctx, t.ID)
			if playback.IsCode(err, playback.CodeNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out.Titles = append(out.Titles, title{stored.ID, stored.Name, stored.Rating})
		}
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	})))
	a.mux.Handle("GET /dev/token", a.devCORS(httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := r.URL.Query().Get("account")
		if !slices.ContainsFunc(demo.Accounts(a.now()), func(ac playback.Account) bool { return ac.ID == id }) {
			return playback.Errorf(playback.CodeInvalid, "account_not_demo", "account %q is not a demo account", id)
		}
		if _, ok, err := a.storedAccount(r.Context(), id); err != nil {
			return err
		} else if !ok {
			return playback.NotFound("account", id)
		}
		tok, err := a.DevToken(id, devTokenTTL)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"account_id": id, "token": tok, "expires_at": a.now().Add(devTokenTTL).UTC()})
		return nil
	})))
}

// devCORS lets the pages CORS_ALLOWED_ORIGINS allows read the dev routes
// too (simple GETs, so no preflight), so the player page works from a dev
// server on another port as it does from the runner. A request whose Host
// is not one of the runner's names is refused: a page that rebinds its own
// name to 127.0.0.1 is same-origin with itself and needs no CORS to read
// what the runner answers it.
func (a *App) devCORS(h http.Handler) http.Handler {
	own := runnerHost(a.cfg.PublicURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !own(r.Host) {
			httpx.WriteError(w, r, playback.Errorf(playback.CodeForbidden, "dev_host",
				"the development routes answer only requests to the runner's own host (PUBLIC_URL's, localhost or a loopback address)"))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			a.cors.AnswerHeaders(origin, w.Header())
		}
		h.ServeHTTP(w, r)
	})
}

// runnerHost reports whether a request's Host (with or without a port)
// names the runner at publicURL: publicURL's host, localhost or a
// loopback address. These are names no other site can make a browser
// send; a DNS name that resolves to 127.0.0.1 is not one of them.
func runnerHost(publicURL string) func(host string) bool {
	public := ""
	if u, err := url.Parse(publicURL); err == nil {
		public = u.Hostname()
	}
	return func(host string) bool {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		if ip := net.ParseIP(host); ip != nil {
			return ip.IsLoopback() || ip.Equal(net.ParseIP(public))
		}
		return host != "" && (strings.EqualFold(host, "localhost") || strings.EqualFold(host, public))
	}
}
