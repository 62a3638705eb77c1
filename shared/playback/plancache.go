package playback

import (
	"context"
	"sync"
	"time"
)

// PlanReader reads plans.
type PlanReader interface {
	GetPlan(ctx context.Context, id string) (Plan, error)
}

// PlanCache reads plans through a cache of bounded staleness, so that the
// hot paths (authorize play, sign URLs) spend no round trip on a record
// operators change a few times a year. Which plan an account is on is
// never cached (it is on the account, read fresh), so a downgrade applies
// at once; an edit of a plan's own limits applies within the TTL. A TTL of
// zero reads through.
type PlanCache struct {
	src PlanReader
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	plans map[string]cachedPlan
}

// cachedPlan holds a Plan, a plain value: the cache hands out copies.
type cachedPlan struct {
	plan Plan
	at   time.Time
}

// NewPlanCache caches src's plans for ttl, timed by now (time.Now if nil).
func NewPlanCache(src PlanReader, ttl time.Duration, now func() time.Time) *PlanCache {
	if now == nil {
		now = time.Now
	}
	return &PlanCache{src: src, ttl: ttl, now: now, plans: map[string]cachedPlan{}}
}

// GetPlan returns the plan, from the cache while it is younger than the
// TTL. Errors are not cached.
func (c *PlanCache) GetPlan(ctx context.Context, id string) (Plan, error) {
	if c.ttl <= 0 {
		return c.src.GetPlan(ctx, id)
	}
	now := c.now()
	c.mu.Lock()
	cp, ok := c.plans[id]
	c.mu.Unlock()
	if ok && now.Sub(cp.at) < c.ttl && !now.Before(cp.at) {
		return cp.plan, nil
	}
	p, err := c.src.GetPlan(ctx, id)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	c.plans[id] = cachedPlan{plan: p, at: now}
	c.mu.Unlock()
	return p, nil
}
