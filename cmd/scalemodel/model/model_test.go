package model

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestLeaseWriteEvery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		interval, slack time.Duration
		want            int
	}{
		{"no slack writes every beat", 30 * time.Second, 0, 1},
		{"slack below the interval skips nothing", 30 * time.Second, 20 * time.Second, 1},
		{"slack equal to the interval skips every other", 30 * time.Second, 30 * time.Second, 2},
		{"slack of two intervals at 10 s writes every third", 10 * time.Second, 20 * time.Second, 3},
		{"slack of 45 s at 30 s writes every other", 30 * time.Second, 45 * time.Second, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := Defaults()
			w.HeartbeatInterval, w.LeaseRenewSlack = tc.interval, tc.slack
			if got := w.LeaseWriteEvery(); got != tc.want {
				t.Errorf("LeaseWriteEvery = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRepeatsIsTheMeanCountOfReloadsInsideASession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		mean, period time.Duration
		want         float64
	}{
		// Uniform on [22.5, 67.5] min; ceil(L/30s)-1 averages mean/period - 1/2.
		{"heartbeats", 45 * time.Minute, 30 * time.Second, 89.5},
		{"steering", 45 * time.Minute, 5 * time.Minute, 8.5},
		// A period longer than every session: no reload.
		{"longer than any session", 10 * time.Minute, time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := Defaults()
			w.MeanSession = tc.mean
			if got := w.Repeats(tc.period); math.Abs(got-tc.want) > 0.01 {
				t.Errorf("Repeats = %.3f, want %.3f", got, tc.want)
			}
		})
	}
}

func TestGrantRefreshFollowsTheLease(t *testing.T) {
	t.Parallel()
	w := Defaults()
	// Grant ends at lease end + 30 s grace; the lease was written up to
	// one beat (30 s) before signing; the player asks 15 s early.
	if got, want := w.GrantRefresh(), 105*time.Second; got != want {
		t.Errorf("GrantRefresh = %s, want %s", got, want)
	}
	w.LeaseTTL = time.Hour
	if got, want := w.GrantRefresh(), 10*time.Minute-15*time.Second; got != want {
		t.Errorf("GrantRefresh with a long lease = %s, want the SIGNURL_MAX_TTL cap less the margin, %s", got, want)
	}
}

func TestRecordsFitOneUnit(t *testing.T) {
	t.Parallel()
	// The per-beat items must stay under 1 KB (one WRU, two in a
	// transaction) and everything read under 4 KB: the unit table
	// assumes so when it is read as "per call".
	s := Sizes()
	for name, size := range map[string]int{"session": s.Session, "slot": s.Slot, "progress": s.Progress, "qoe": s.QoE} {
		if size > 1024 || size < 100 {
			t.Errorf("%s item is %d bytes", name, size)
		}
	}
	u := StoreUnits(s)
	// Priced on the instance that wrote the lease last: no read.
	if got := u["ExtendLease"]; got.RRU != 0 || got.WRU != 4 {
		t.Errorf("ExtendLease costs %+v, want no read (the adapter's lease memo) and 4 WRU (two items in a transaction)", got)
	}
}

func TestCostLinesAddUpAndScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		viewers float64
	}{
		{"10k", 1e4}, {"100k", 1e5}, {"1M", 1e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			aws, gcp, r := DefaultDeployment(tc.viewers).Cost()
			for _, lines := range [][]Line{aws, gcp} {
				for i, l := range lines {
					if l.PerHour <= 0 {
						t.Errorf("%s %s costs %g", l.Cloud, l.Name, l.PerHour)
					}
					if i > 0 && l.PerHour > lines[i-1].PerHour {
						t.Errorf("%s lines are not most expensive first", l.Cloud)
					}
				}
			}
			// Heartbeats are the bulk of the calls: 91.5 per 45-minute
			// session, about 2 a minute per viewer.
			perViewerMinute := r.ByFunc["heartbeat"] * 60 / tc.viewers
			if perViewerMinute < 1.9 || perViewerMinute > 2.1 {
				t.Errorf("heartbeat calls per viewer-minute %.2f", perViewerMinute)
			}
		})
	}
	// Free tiers and fixed costs weigh less the more viewers there are.
	small, _, _ := DefaultDeployment(1e4).Cost()
	large, _, _ := DefaultDeployment(1e6).Cost()
	if Total(small)/1e4 < Total(large)/1e6 {
		t.Errorf("AWS per viewer at 10k (%g) is below 1M's (%g)", Total(small)/1e4, Total(large)/1e6)
	}
}

func TestLimitsAreOrdered(t *testing.T) {
	t.Parallel()
	ls := DefaultDeployment(1e6).Limits()
	for i := 1; i < len(ls); i++ {
		if ls[i].Viewers < ls[i-1].Viewers {
			t.Fatalf("limit %q (%g) listed after %q (%g)", ls[i].Name, ls[i].Viewers, ls[i-1].Name, ls[i-1].Viewers)
		}
	}
	for _, l := range ls {
		if l.Source == "" || l.Design == "" {
			t.Errorf("limit %q lacks its source or design note", l.Name)
		}
	}
}

// TestSampleAccountSetsEveryDeviceField holds the account Sizes measures
// to what a household's account item holds: every playback.Device field
// set, as its stored JSON decodes, so that a field the domain adds to a
// device is counted in the account's read and write units.
func TestSampleAccountSetsEveryDeviceField(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sampleAccount("acct_x", time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	var acct playback.Account
	if err := json.Unmarshal(b, &acct); err != nil {
		t.Fatal(err)
	}
	if len(acct.Devices) == 0 {
		t.Fatal("the sample account has no devices")
	}
	for _, d := range acct.Devices {
		v := reflect.ValueOf(d)
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("device %q: %s is not set in the sample account", d.ID, v.Type().Field(i).Name)
			}
		}
	}
}
