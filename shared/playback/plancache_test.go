package playback

import (
	"context"
	"errors"
	"testing"
	"time"
)

type countingPlans struct {
	reads int
	plan  Plan
	err   error
}

func (c *countingPlans) GetPlan(_ context.Context, id string) (Plan, error) {
	c.reads++
	p := c.plan
	p.ID = id
	return p, c.err
}

func TestPlanCache(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name      string
		ttl       time.Duration
		after     time.Duration // time of the second read
		err       error
		wantReads int
	}{
		{name: "within the ttl", ttl: time.Minute, after: 59 * time.Second, wantReads: 1},
		{name: "at the ttl", ttl: time.Minute, after: time.Minute, wantReads: 2},
		{name: "clock went back", ttl: time.Minute, after: -time.Second, wantReads: 2},
		{name: "zero ttl reads through", after: 0, wantReads: 2},
		{name: "errors are not cached", ttl: time.Minute, err: errors.New("down"), wantReads: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &countingPlans{plan: Plan{MaxStreams: 2}, err: tt.err}
			now := t0
			c := NewPlanCache(src, tt.ttl, func() time.Time { return now })
			if _, err := c.GetPlan(context.Background(), "basic"); err != tt.err {
				t.Fatal(err)
			}
			now = t0.Add(tt.after)
			p, err := c.GetPlan(context.Background(), "basic")
			if err != tt.err || (err == nil && (p.ID != "basic" || p.MaxStreams != 2)) {
				t.Fatalf("GetPlan = %+v, %v", p, err)
			}
			if src.reads != tt.wantReads {
				t.Errorf("%d reads of the store, want %d", src.reads, tt.wantReads)
			}
		})
	}
}
