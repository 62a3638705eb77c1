package roundtrips_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestHeartbeatWithoutTheTokenLease: with PLAYBACK_TOKEN_LEASE=false
// (the first deploy of an upgrade, README) the playback token carries no
// lease block and a cold heartbeat renews read-first (RenewLease: the
// session read, then the write) where the default renews on the token's
// lease in one conditional transaction (TestRoundTrips).
func TestHeartbeatWithoutTheTokenLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		setting  string
		renew    string
		wantRPCs int
		hasLease bool
	}{
		{name: "off", setting: "false", renew: "RenewLease", wantRPCs: 2},
		{name: "on", setting: "true", renew: "RenewHeldLease", wantRPCs: 1, hasLease: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dynamoCloud(t)
			r := newRigWith(t, c, map[string]string{"PLAYBACK_TOKEN_LEASE": tc.setting})
			p, _ := r.mustPlay(account, playback.NewID("dev"))
			claims, err := r.tokens.Verify(p.PlaybackToken, r.clock.now())
			if err != nil {
				t.Fatal(err)
			}
			if (claims.Lease != "") != tc.hasLease {
				t.Fatalf("playback token lease %q, want one: %v", claims.Lease, tc.hasLease)
			}
			r.clock.add(r.beat.LeaseRenewSlack + time.Second)
			rec, op := r.coldHeartbeat(p)
			if rec.Code != http.StatusOK {
				t.Fatalf("heartbeat: %d %s", rec.Code, rec.Body)
			}
			if got := op.Names("store"); got != tc.renew {
				t.Fatalf("heartbeat called %q, want %q", got, tc.renew)
			}
			if got := op.Count(layerStore); got.Total != tc.wantRPCs {
				t.Fatalf("heartbeat cost %v store RPCs (%s), want %d", got, op.Names(layerStore), tc.wantRPCs)
			}
		})
	}
}
