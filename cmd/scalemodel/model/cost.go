package model

import (
	"math"
	"slices"
	"time"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/demo"
)

// HoursPerMonth turns a steady hourly rate into the monthly volume that
// tiers and free tiers apply to.
const HoursPerMonth = 730

// Deployment is a workload at a concurrency on both clouds, with the
// assumptions the prices need.
type Deployment struct {
	// Viewers is the concurrency, held around the clock for the month.
	Viewers  float64
	Workload Workload
	Prices   Prices
	Sizes    ItemSizes
	// Latency of one database or queue call from a function in the same
	// region (assumed, not measured here: no cloud account).
	DynamoRTT, SQSRTT, FirestoreRTT, PubSubRTT time.Duration
	// CPUPerCall is a handler's CPU on a whole core (the simulator's
	// in-process replay takes about 0.26 ms of wall time per call on a
	// loaded 2-core machine, bbolt included); a function with less than a
	// core stretches it.
	CPUPerCall time.Duration
	// LogBytesPerRequest is our slog output per HTTP request (access line
	// and any other line), measured by the simulator.
	LogBytesPerRequest float64
	// LambdaPlatformLogBytes is Lambda's START, END and REPORT lines per
	// invocation; RunRequestLogBytes Cloud Run's request log entry per
	// request (estimates).
	LambdaPlatformLogBytes, RunRequestLogBytes float64
	// HTTPBytes is a request and its answer through the load balancer.
	HTTPBytes float64
	// HeartbeatMessageBytes is a heartbeat on the bus (events.Heartbeat
	// JSON).
	HeartbeatMessageBytes float64
	// Edges report health every EdgeReportEvery; pickedge reloads the
	// edge table every EdgeRefresh (PICKEDGE_REFRESH) per warm instance.
	Edges           int
	EdgeReportEvery time.Duration
	EdgeRefresh     time.Duration
	// PlanShare is the share of viewers on the most popular plan (its
	// item is read by every urls call and manifest of theirs);
	// PremiereShare of the viewers start one title within PremiereWindow.
	PlanShare      float64
	PremiereShare  float64
	PremiereWindow time.Duration
	// Plans is how many plans the instances' caches hold (demo.Plans).
	Plans int
}

// DefaultDeployment is viewers on the shipped settings.
func DefaultDeployment(viewers float64) Deployment {
	return Deployment{
		Viewers: viewers, Workload: Defaults(), Prices: ListPrices(), Sizes: Sizes(),
		DynamoRTT: 6 * time.Millisecond, SQSRTT: 8 * time.Millisecond,
		FirestoreRTT: 12 * time.Millisecond, PubSubRTT: 10 * time.Millisecond,
		CPUPerCall:             500 * time.Microsecond,
		LogBytesPerRequest:     MeasuredLogBytesPerRequest,
		LambdaPlatformLogBytes: 330, RunRequestLogBytes: 900,
		HTTPBytes: 2500, HeartbeatMessageBytes: 420,
		Edges: 200, EdgeReportEvery: 10 * time.Second, EdgeRefresh: 5 * time.Second,
		PlanShare: 0.5, PremiereShare: 0.2, PremiereWindow: 5 * time.Minute,
		Plans: len(demo.Plans),
	}
}

// MeasuredLogBytesPerRequest is the simulator's log bytes per HTTP request
// at LOG_LEVEL=info (TestDayMatchesTheModel checks it).
const MeasuredLogBytesPerRequest = 211

// Line is one priced item.
type Line struct {
	Cloud, Name string
	PerHour     float64 // USD per hour at the deployment's concurrency
}

// PerThousandViewerHours is the line's cost per 1,000 viewer-hours.
func (l Line) PerThousandViewerHours(viewers float64) float64 { return l.PerHour / (viewers / 1000) }

// Rates are per-second rates of a deployment.
type Rates struct {
	HTTP      float64            // HTTP requests through the API
	ByFunc    map[string]float64 // HTTP requests by function
	Messages  float64            // heartbeat messages
	Store     map[string]float64 // store methods
	Sessions  float64            // session starts
	Functions map[string]float64 // concurrency (rate x duration) on AWS, HTTP and consumer
	Instances map[string]float64 // concurrency on GCP (concurrency 1: instances)
	// PlanLoads is the plan reads a second of the plan caches' misses,
	// per cloud (warm instances × plans / PlanCacheTTL).
	PlanLoads struct{ AWS, GCP float64 }
}

// PlanLoadsPerInstance is the most plan reads a second one warm
// authorizeplay or signurl instance makes: each plan once per
// PlanCacheTTL (every call reads through when the TTL is zero).
func (d Deployment) PlanLoadsPerInstance() float64 {
	if d.Workload.PlanCacheTTL <= 0 {
		return math.Inf(1)
	}
	return float64(d.Plans) / d.Workload.PlanCacheTTL.Seconds()
}

// planLoads prices the plan caches' misses on warm instances; without a
// cache every play, urls call and manifest reads the plan.
func (d Deployment) planLoads(r Rates) (out struct{ AWS, GCP float64 }) {
	if d.Workload.PlanCacheTTL <= 0 {
		calls := r.ByFunc["authorizeplay"] + r.ByFunc["signurl"]
		out.AWS, out.GCP = calls, calls
		return out
	}
	per := d.PlanLoadsPerInstance()
	for _, fn := range []string{"authorizeplay", "signurl"} {
		out.AWS += max(1, math.Ceil(r.Functions[fn])) * per
		out.GCP += max(1, math.Ceil(r.Instances[fn])) * per
	}
	return out
}

func memOf(fn string) float64 {
	f, ok := catalog.FunctionByName(fn)
	if !ok {
		return 256
	}
	return float64(f.MemoryMB)
}

// vcpuOf is Cloud Functions gen2's CPU for a memory size.
func vcpuOf(mb float64) float64 {
	switch {
	case mb <= 128:
		return 0.083
	case mb <= 256:
		return 0.167
	case mb <= 512:
		return 0.333
	case mb <= 1024:
		return 0.583
	}
	return 1
}

type stepDur struct {
	aws, gcp time.Duration
}

func (d Deployment) duration(st Step, units map[string]Units, messages int) stepDur {
	var dt, ft float64
	for _, op := range st.Store {
		dt += units[op].DynamoTrips
		ft += units[op].FirestoreTrips
	}
	dt -= st.Overlap
	ft -= st.Overlap
	cpu := d.CPUPerCall.Seconds() * float64(max(messages, 1))
	mem := memOf(st.Function)
	awsCPU := cpu * 1769 / mem // Lambda: a full vCPU at 1,769 MB
	gcpCPU := cpu / vcpuOf(mem)
	aws := dt*d.DynamoRTT.Seconds() + float64(st.Publishes)*d.SQSRTT.Seconds() + awsCPU
	gcp := ft*d.FirestoreRTT.Seconds() + float64(st.Publishes)*d.PubSubRTT.Seconds() + gcpCPU
	return stepDur{time.Duration(aws * float64(time.Second)), time.Duration(gcp * float64(time.Second))}
}

// Cost prices the deployment: lines per cloud, most expensive first.
func (d Deployment) Cost() (aws, gcp []Line, r Rates) {
	w := d.Workload
	units := StoreUnits(d.Sizes)
	perSec := d.Viewers * w.SessionsPerViewerHour() / 3600 // sessions a second
	r = Rates{ByFunc: map[string]float64{}, Store: map[string]float64{}, Functions: map[string]float64{}, Instances: map[string]float64{}, Sessions: perSec}
	p := d.Prices
	var (
		apiReq, lambdaReq, lambdaGBs, sqsReq, rru, wruN, cwBytes            float64
		runReq, runVCPUs, runGiBs, fsR, fsW, fsD, psBytes, lbBytes, clBytes float64
	)
	batch := float64(max(w.ConsumerBatch, 1))
	for _, c := range w.PerSession() {
		n := c.N * perSec // a second
		st := c.Step
		for _, op := range st.Store {
			r.Store[op] += n
			u := units[op]
			rru += n * u.RRU
			wruN += n * u.WRU
			fsR += n * u.Reads
			fsW += n * u.Writes
			fsD += n * (u.Deletes + u.Guards)
		}
		mem := memOf(st.Function)
		switch {
		case st.Route != "":
			dur := d.duration(st, units, 1)
			r.HTTP += n
			r.ByFunc[st.Function] += n
			apiReq += n
			lambdaReq += n
			lambdaGBs += n * mem / 1024 * math.Ceil(dur.aws.Seconds()*1000) / 1000
			r.Functions[st.Function] += n * dur.aws.Seconds()
			sqsReq += n * float64(st.Publishes)
			cwBytes += n * (d.LogBytesPerRequest + d.LambdaPlatformLogBytes)
			runReq += n
			billed := math.Ceil(dur.gcp.Seconds()*10) / 10 // 100 ms
			runVCPUs += n * vcpuOf(mem) * billed
			runGiBs += n * mem / 1024 * billed
			r.Instances[st.Function] += n * dur.gcp.Seconds()
			psBytes += n * float64(st.Publishes) * max(p.PubSubMinRequestBytes, d.HeartbeatMessageBytes)
			lbBytes += n * d.HTTPBytes
			clBytes += n * (d.LogBytesPerRequest + d.RunRequestLogBytes)
		case st.Name == StepConsume.Name:
			r.Messages += n
			// AWS: one invocation per SQS batch; its sessions are written
			// ConsumerParallelism at a time.
			batches := n / batch
			waves := math.Ceil(batch / float64(max(w.ConsumerParallelism, 1)))
			one := d.duration(st, units, int(batch))
			awsDur := waves*(one.aws.Seconds()-d.CPUPerCall.Seconds()*batch*1769/mem) + d.CPUPerCall.Seconds()*batch*1769/mem
			lambdaReq += batches
			lambdaGBs += batches * mem / 1024 * math.Ceil(awsDur*1000) / 1000
			r.Functions[st.Function+" consumer"] += batches * awsDur
			sqsReq += batches * 2 // ReceiveMessage + DeleteMessageBatch
			cwBytes += batches * d.LambdaPlatformLogBytes
			// GCP: one push request per message.
			g := d.duration(st, units, 1)
			billed := math.Ceil(g.gcp.Seconds()*10) / 10
			runReq += n
			runVCPUs += n * vcpuOf(mem) * billed
			runGiBs += n * mem / 1024 * billed
			r.Instances[st.Function+" consumer"] += n * g.gcp.Seconds()
			psBytes += n * max(p.PubSubMinRequestBytes, d.HeartbeatMessageBytes)
			clBytes += n * d.RunRequestLogBytes
		}
	}

	// Fixed: edge health reports (route, publish, consumer UpdateEdge) and
	// the edge table reloads of every warm pickedge instance.
	reports := float64(d.Edges) / d.EdgeReportEvery.Seconds()
	edgeRRU, edgeWRU := rruOf(d.Sizes.Edge), wruOf(d.Sizes.Edge)
	apiReq += reports
	lambdaReq += 2 * reports
	lambdaGBs += 2 * reports * memOf("pickedge") / 1024 * 0.02
	sqsReq += 3 * reports
	rru += reports * edgeRRU
	wruN += reports * edgeWRU
	fsR += reports
	fsW += 2 * reports
	fsD += reports
	runReq += 2 * reports
	runVCPUs += 2 * reports * vcpuOf(memOf("pickedge")) * 0.1
	runGiBs += 2 * reports * memOf("pickedge") / 1024 * 0.1
	psBytes += 2 * reports * p.PubSubMinRequestBytes
	lbBytes += reports * d.HTTPBytes
	clBytes += reports * (d.LogBytesPerRequest + d.RunRequestLogBytes)
	cwBytes += reports * (d.LogBytesPerRequest + 2*d.LambdaPlatformLogBytes)
	refreshes := 1 / d.EdgeRefresh.Seconds()
	awsPick := max(1, math.Ceil(r.Functions["pickedge"]))
	gcpPick := max(1, math.Ceil(r.Instances["pickedge"]))
	shardBytes := float64(d.Edges) * float64(d.Sizes.Edge) / 8
	rru += awsPick * refreshes * 8 * max(0.5, math.Ceil(shardBytes/4096)/2) // eventually consistent queries
	fsR += gcpPick * refreshes * float64(d.Edges)
	// Plan cache misses: every warm authorizeplay and signurl instance
	// reads each plan once per PlanCacheTTL at most.
	r.PlanLoads = d.planLoads(r)
	rru += r.PlanLoads.AWS * rruOf(d.Sizes.Plan)
	fsR += r.PlanLoads.GCP

	month := func(perSec float64) float64 { return perSec * 3600 * HoursPerMonth }
	hourly := func(monthly float64) float64 { return monthly / HoursPerMonth }
	free := func(v, f float64) float64 { return max(0, v-f) }

	apiM := month(apiReq)
	apiCost := min(apiM, 300e6)/1e6*p.HTTPAPIPerMillion + max(0, apiM-300e6)/1e6*p.HTTPAPIPerMillionOver300M
	gbs := free(month(lambdaGBs), p.LambdaFreeGBSeconds)
	lambdaDur := min(gbs, 7.5e9)*p.LambdaGBSecond + min(max(0, gbs-7.5e9), 11.25e9)*p.LambdaGBSecond2 + max(0, gbs-18.75e9)*p.LambdaGBSecond3
	aws = []Line{
		{"AWS", "API Gateway HTTP API requests", hourly(apiCost)},
		{"AWS", "Lambda requests", hourly(free(month(lambdaReq), p.LambdaFreeRequests) / 1e6 * p.LambdaRequestPerMillion)},
		{"AWS", "Lambda duration (GB-s)", hourly(lambdaDur)},
		{"AWS", "SQS requests", hourly(free(month(sqsReq), p.SQSFreeRequests) / 1e6 * p.SQSPerMillion)},
		{"AWS", "DynamoDB read request units", hourly(month(rru) / 1e6 * p.DynamoRRUPerMillion)},
		{"AWS", "DynamoDB write request units", hourly(month(wruN) / 1e6 * p.DynamoWRUPerMillion)},
		{"AWS", "CloudWatch Logs ingestion", hourly(free(month(cwBytes)/1e9, p.CloudWatchLogsFreeGB) * p.CloudWatchLogsPerGB)},
	}
	const gib = 1 << 30
	days := float64(HoursPerMonth) / 24
	gcp = []Line{
		{"GCP", "Load balancer (rule + data processed)", p.LBForwardingRuleHour + hourly(month(lbBytes)/gib*p.LBPerGiBProcessed)},
		{"GCP", "Cloud Functions requests", hourly(free(month(runReq), p.RunFreeRequests) / 1e6 * p.RunRequestPerMillion)},
		{"GCP", "Cloud Functions CPU (vCPU-s)", hourly(free(month(runVCPUs), p.RunFreeVCPUSeconds) * p.RunVCPUSecond)},
		{"GCP", "Cloud Functions memory (GiB-s)", hourly(free(month(runGiBs), p.RunFreeGiBSeconds) * p.RunGiBSecond)},
		{"GCP", "Firestore document reads", hourly(free(month(fsR), p.FirestoreFreeReadsDay*days) / 1e5 * p.FirestoreReadPer100k)},
		{"GCP", "Firestore document writes", hourly(free(month(fsW), p.FirestoreFreeWritesDay*days) / 1e5 * p.FirestoreWritePer100k)},
		{"GCP", "Firestore deletes (guard TTL)", hourly(free(month(fsD), p.FirestoreFreeDeletesDay*days) / 1e5 * p.FirestoreDeletePer100k)},
		{"GCP", "Pub/Sub throughput", hourly(free(month(psBytes)/gib, p.PubSubFreeGiB) / 1024 * p.PubSubPerTiB)},
		{"GCP", "Cloud Logging ingestion", hourly(free(month(clBytes)/gib, p.CloudLoggingFreeGiB) * p.CloudLoggingPerGiB)},
	}
	byCost := func(a, b Line) int { return -cmpFloat(a.PerHour, b.PerHour) }
	slices.SortStableFunc(aws, byCost)
	slices.SortStableFunc(gcp, byCost)
	return aws, gcp, r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Total adds lines up.
func Total(lines []Line) float64 {
	var t float64
	for _, l := range lines {
		t += l.PerHour
	}
	return t
}
