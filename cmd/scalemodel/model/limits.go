package model

import (
	"math"
	"slices"
)

// Limit is a quota or per-key ceiling and the concurrency at which the
// deployment's access pattern reaches it.
type Limit struct {
	Cloud, Name string
	// Ceiling is the limit in its unit, per second (or concurrent).
	Ceiling float64
	Unit    string
	// PerViewer is what one concurrent viewer uses of it (at the premiere
	// for the premiere rows).
	PerViewer float64
	// Viewers is Ceiling/PerViewer: where the limit is reached; +Inf
	// when the pattern does not grow with viewers.
	Viewers float64
	// Design is what the code does about it, Source where the limit is
	// documented.
	Design, Source string
}

// Limits lists the limits in the order they are reached.
func (d Deployment) Limits() []Limit {
	one := d
	one.Viewers = 1
	_, _, r := one.Cost()
	units := StoreUnits(d.Sizes)
	w := d.Workload
	perStart := func(op string) float64 { // per session, calls of op
		return Sum(w.PerSession()).Store[op]
	}
	var awsConc, wruS, rruS float64
	for _, c := range r.Functions {
		awsConc += c
	}
	for op, n := range r.Store {
		wruS += n * units[op].WRU
		rruS += n * units[op].RRU
	}
	gcpFn, gcpWorst := "", 0.0
	for fn, c := range r.Instances {
		if c > gcpWorst {
			gcpFn, gcpWorst = fn, c
		}
	}
	// The plan item: the plan caches' misses, each warm authorizeplay and
	// signurl instance reading each plan once per PlanCacheTTL (per
	// viewer: the instances one viewer keeps busy).
	planReads := (r.ByFunc["authorizeplay"] + r.ByFunc["signurl"]) * d.PlanShare * rruOf(d.Sizes.Plan)
	if w.PlanCacheTTL > 0 {
		planReads = (r.Functions["authorizeplay"] + r.Functions["signurl"]) / w.PlanCacheTTL.Seconds() * rruOf(d.Sizes.Plan)
	}
	// The premiere title: its viewers' starts arrive within the window
	// (each start reads the title in play, urls and every manifest), on
	// top of their refreshes.
	sessionSeconds := w.MeanSession.Seconds()
	titleAtStart := units["GetTitle"].RRU * (perStart("GetTitle") - w.Repeats(w.GrantRefresh()))
	titleRefresh := units["GetTitle"].RRU * w.Repeats(w.GrantRefresh()) / sessionSeconds
	premiere := d.PremiereShare * (titleAtStart/d.PremiereWindow.Seconds() + titleRefresh)
	// Firestore collections whose documents carry a monotonically
	// increasing indexed field (expire_at, the lease end, is indexed by
	// default: infra/stack sets only TTL policies, no exemption).
	sessionsWrites := r.Store["ExtendLease"] + r.Store[RenewLeaseWritten] + r.Store["EndSession"] + r.Store["AcquireLease"]
	qoeWrites := r.Store["SaveSessionQoE"]

	ls := []Limit{
		{Cloud: "AWS", Name: "API Gateway throttle, account and region", Ceiling: 10000, Unit: "requests/s", PerViewer: r.HTTP,
			Design: "nothing in code: a support-raised quota; the heartbeat interval and grant lifetime set the rate",
			Source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"},
		{Cloud: "AWS", Name: "Lambda concurrent executions, account and region", Ceiling: 1000, Unit: "concurrent", PerViewer: awsConc,
			Design: "heartbeat answers after one RenewLease (a read and a transaction) and queues the rest (SQS, consumer batches of 10); raise the quota",
			Source: "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html"},
		{Cloud: "AWS", Name: "DynamoDB table write throughput (on demand)", Ceiling: 40000, Unit: "WRU/s", PerViewer: wruS,
			Design: "lease-write slack skips writes only when beats come faster than the slack; transactions cost 2 WRU per KB",
			Source: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html"},
		{Cloud: "AWS", Name: "DynamoDB table read throughput (on demand)", Ceiling: 40000, Unit: "RRU/s", PerViewer: rruS,
			Design: "every GetItem is strongly consistent (1 RRU instead of 0.5)",
			Source: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html"},
		{Cloud: "AWS", Name: "DynamoDB partition: the most popular plan's item", Ceiling: 3000, Unit: "RRU/s", PerViewer: planReads,
			Design: "authorizeplay and signurl read plans through a per-instance cache (PLAN_CACHE_TTL 30 s): one read per warm instance per TTL",
			Source: "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"},
		{Cloud: "AWS", Name: "DynamoDB partition: the premiere title's item", Ceiling: 3000, Unit: "RRU/s", PerViewer: premiere,
			Design: "nothing: the title is read by play, urls and every manifest, uncached and strongly consistent",
			Source: "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"},
		{Cloud: "AWS", Name: "DynamoDB partition: edge table shards (health reports)", Ceiling: 1000, Unit: "WRU/s",
			PerViewer: 0, Design: "edges are written across 8 shards (EDGES#0-7): 1,000 WRU/s each",
			Source: "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"},
		{Cloud: "AWS", Name: "DynamoDB partition: one account (ACCT#id)", Ceiling: 1000, Unit: "WRU/s", PerViewer: 0,
			Design: "a household writes its slots and progress once per beat per stream: a few WRU/s at most",
			Source: "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"},
		{Cloud: "GCP", Name: "Cloud Functions instances: " + gcpFn + " (MaxInstanceCount 100, concurrency 1)", Ceiling: 100, Unit: "instances",
			PerViewer: gcpWorst,
			Design:    "infra/gcpfn deploys every function with 100 instances at 1 request each; nothing else",
			Source:    "https://cloud.google.com/functions/docs/configuring/max-instances"},
		{Cloud: "GCP", Name: "Firestore: sessions collection, sequential indexed field (expire_at)", Ceiling: 500, Unit: "writes/s",
			PerViewer: sessionsWrites,
			Design:    "nothing: expire_at (the TTL field, a lease end) is indexed; exempting it lifts the limit",
			Source:    "https://firebase.google.com/docs/firestore/solutions/shard-timestamp"},
		{Cloud: "GCP", Name: "Firestore: session_qoe collection, sequential indexed field (expire_at)", Ceiling: 500, Unit: "writes/s",
			PerViewer: qoeWrites, Design: "as sessions",
			Source: "https://firebase.google.com/docs/firestore/solutions/shard-timestamp"},
		{Cloud: "GCP", Name: "Firestore: one document's sustained writes", Ceiling: 1, Unit: "writes/s", PerViewer: 0,
			Design: "the most written documents (a session, its slot) take one write per lease write, every 30 s",
			Source: "https://cloud.google.com/firestore/quotas"},
	}
	for i := range ls {
		if ls[i].PerViewer > 0 {
			ls[i].Viewers = ls[i].Ceiling / ls[i].PerViewer
		} else {
			ls[i].Viewers = math.Inf(1)
		}
	}
	slices.SortStableFunc(ls, func(a, b Limit) int { return cmpFloat(a.Viewers, b.Viewers) })
	return ls
}
