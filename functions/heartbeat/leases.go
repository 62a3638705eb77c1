package heartbeat

import (
	"context"
	"errors"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// JobLeases is the scheduled job that reports the active leases.
const JobLeases = "leases"

// Jobs returns the scheduled tasks by name: leases counts the leases the
// store holds for the playplane.leases.active gauge.
func (s *Server) Jobs() map[string]playback.Job {
	return map[string]playback.Job{JobLeases: playback.JobOf(s.CountLeases)}
}

// CanRun says whether job can run as configured: leases needs Deps.Leases,
// which the local runner leaves unset (it counts at each scrape).
func (s *Server) CanRun(job string) bool { return job != JobLeases || s.deps.Leases != nil }

// CountLeases counts the leases held now and records the figure as the
// playplane.leases.active gauge, flushed with the job's invocation (EMF on
// Lambda, Cloud Monitoring on GCP). One schedule runs it for the whole
// deployment, once a minute: one count query, whatever the traffic, and
// no request pays for it. A count of what the store holds cannot drift
// the way admissions minus ends would as leases lapse unrenewed, and it
// reports 0 when no heartbeat arrives at all.
func (s *Server) CountLeases(ctx context.Context) (int, error) {
	if s.deps.Leases == nil {
		return 0, errors.New("heartbeat: the leases job needs Deps.Leases")
	}
	n, err := s.deps.Leases.CountActiveLeases(ctx, s.deps.Now())
	if err != nil {
		return 0, err
	}
	return n, telemetry.LeasesActive(ctx, n)
}
