// Package steering chooses CDN edges for a playback: it locates the client
// (coverage zone file, then GeoIP, then a default), ranks the edges of a
// health-report snapshot for that client and title, and writes the ranking as
// HLS and DASH content steering manifests. It does no I/O besides reading the
// files handed to it.
package steering

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Upper bounds of the ranking's shape, which let Pick keep its working set
// in fixed-size arrays on the stack. The number of CDNs is not bounded.
const (
	MaxPoPsPerCDN  = 4
	MaxEdgesPerPoP = 8
	MaxResults     = 32
)

// Config tunes ranking. Costs are in kilometre-equivalents: a penalty of
// 1000 makes a PoP rank as if it were 1000 km further from the client, so
// every term trades off against distance in one unit. The env tags let a
// function embed Config with a prefix of its choosing.
type Config struct {
	// Staleness drops edges whose last health report was received longer
	// ago than this (playback.Edge.LastHeard: server time, not the edge's).
	Staleness time.Duration `env:"STALENESS, default=30s"`
	// TTL is how long a client may keep a ranking; DegradedTTL (capped at
	// TTL) replaces it when a PoP nearer than the chosen one, the coverage
	// zone's or the deep coverage zone's edges are down, so clients come
	// back soon and move home when it recovers. A PoP the
	// operator drained (every edge Disabled), or configured not to serve
	// the client's IP version (Edge.NoIPv4, NoIPv6), is not down: no
	// recovery is coming to move to.
	TTL         time.Duration `env:"TTL, default=300s"`
	DegradedTTL time.Duration `env:"DEGRADED_TTL, default=30s"`
	// RetryAfter is the hint sent with "no healthy edge".
	RetryAfter time.Duration `env:"RETRY_AFTER, default=10s"`

	// Shape of the ranked list: the chosen PoP's best EdgesPerPoP edges,
	// then the next PoPs of that CDN, then other CDNs by weight, each with
	// up to PoPsPerCDN PoPs, MaxResults entries at most.
	MaxResults  int `env:"MAX_RESULTS, default=8"`
	EdgesPerPoP int `env:"EDGES_PER_POP, default=2"`
	PoPsPerCDN  int `env:"POPS_PER_CDN, default=2"`

	// CDNWeights orders fallback CDNs, heaviest first (unlisted CDNs weigh
	// 1). A weight of zero or less drains a CDN: its edges are never picked.
	CDNWeights map[string]float64 `env:"CDN_WEIGHTS"`

	// LoadPenaltyKm is added in proportion to a PoP's utilisation. Traffic
	// Router has no such term (it only skips unavailable caches), so the
	// default, 0, keeps its order; this deviation is opt-in.
	LoadPenaltyKm float64 `env:"LOAD_PENALTY_KM, default=0"`
	// ASNBonusKm is subtracted for PoPs embedded in the client's ISP when
	// the client was located by GeoIP (a coverage zone hit stays final, as
	// in Traffic Router). Traffic Router has no such term: the default, 0,
	// turns this deviation off; 40000 (more than the Earth's diameter)
	// puts embedded caches first.
	ASNBonusKm float64 `env:"ASN_BONUS_KM, default=0"`
	// HotTitleBoost multiplies the rendezvous weight of an edge that
	// reports the title as hot: it already has the bytes.
	HotTitleBoost float64 `env:"HOT_TITLE_BOOST, default=4"`

	// QoE enables the quality-of-experience term fed by heartbeats: an
	// edge's QoE factor is 1/(1+rebuffer/RebufferScale), scaled down further
	// when its measured throughput is under MinThroughputKbps. It divides
	// the edge's rendezvous weight and adds QoEPenaltyKm×(1−factor) to its
	// PoP's cost.
	QoE               bool    `env:"QOE, default=false"`
	QoEPenaltyKm      float64 `env:"QOE_PENALTY_KM, default=2000"`
	RebufferScale     float64 `env:"REBUFFER_SCALE, default=0.01"`
	MinThroughputKbps float64 `env:"MIN_THROUGHPUT_KBPS, default=3000"`

	// CacheGroups holds Traffic Router's per cache group settings by PoP
	// name: backups, fallbackToClosest, localization methods. A PoP not in
	// it behaves like a Traffic Router cache group without those settings.
	CacheGroups map[string]CacheGroup
}

// withDefaults fills zero fields, so a Config literal in Go behaves like one
// loaded from an empty environment.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	deff := func(f *float64, v float64) {
		if *f == 0 {
			*f = v
		}
	}
	defi := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	def(&c.Staleness, 30*time.Second)
	def(&c.TTL, 300*time.Second)
	def(&c.DegradedTTL, 30*time.Second)
	def(&c.RetryAfter, 10*time.Second)
	defi(&c.MaxResults, 8)
	defi(&c.EdgesPerPoP, 2)
	defi(&c.PoPsPerCDN, 2)
	deff(&c.HotTitleBoost, 4)
	deff(&c.QoEPenaltyKm, 2000)
	deff(&c.RebufferScale, 0.01)
	deff(&c.MinThroughputKbps, 3000)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Staleness < 0 || c.TTL < time.Second || c.DegradedTTL < time.Second || c.RetryAfter < time.Second:
		return errors.New("durations must be positive, TTLs and RetryAfter at least 1s")
	case c.MaxResults < 1 || c.MaxResults > MaxResults:
		return fmt.Errorf("MaxResults %d not in [1,%d]", c.MaxResults, MaxResults)
	case c.EdgesPerPoP < 1 || c.EdgesPerPoP > MaxEdgesPerPoP:
		return fmt.Errorf("EdgesPerPoP %d not in [1,%d]", c.EdgesPerPoP, MaxEdgesPerPoP)
	case c.PoPsPerCDN < 1 || c.PoPsPerCDN > MaxPoPsPerCDN:
		return fmt.Errorf("PoPsPerCDN %d not in [1,%d]", c.PoPsPerCDN, MaxPoPsPerCDN)
	case c.HotTitleBoost < 1 || c.RebufferScale <= 0 || c.MinThroughputKbps < 0:
		return errors.New("HotTitleBoost must be ≥ 1, RebufferScale > 0, MinThroughputKbps ≥ 0")
	}
	// Bonuses only ever lower a PoP's cost: Pick applies them after the
	// scan and moves PoPs towards the front only.
	for _, f := range []float64{c.LoadPenaltyKm, c.ASNBonusKm, c.QoEPenaltyKm, c.HotTitleBoost, c.RebufferScale, c.MinThroughputKbps} {
		if !(f >= 0) || math.IsInf(f, 1) {
			return errors.New("penalties, bonuses and QoE settings must be finite and non-negative")
		}
	}
	for cdn, w := range c.CDNWeights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("CDN weight of %q must be finite", cdn)
		}
	}
	return nil
}

func (c *Config) qoeFactor(rebufferRatio, throughputKbps float64) float64 {
	f := 1 / (1 + rebufferRatio/c.RebufferScale)
	if throughputKbps > 0 && throughputKbps < c.MinThroughputKbps {
		f *= throughputKbps / c.MinThroughputKbps
	}
	return max(f, 1e-3)
}

// ErrNoHealthyEdge is the cause of the error Pick returns when no edge is
// usable. That error is a *playback.Error with CodeUnavailable (HTTP 503)
// and RetryAfter set from Config.RetryAfter.
var ErrNoHealthyEdge = errors.New("steering: no healthy edge")

// ValidPathwayID reports whether s has the syntax HLS and DASH content
// steering allow for Pathway IDs, ^[A-Za-z0-9._-]+$; CDN names become
// Pathway IDs, and players silently ignore bad ones. A loop, not a regexp
// compiled at package init, which every cold start of authorizeplay and
// pickedge would pay (TestValidPathwayIDIsTheRegexp).
func ValidPathwayID(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return s != ""
}

// Index is an immutable ranking structure built from one snapshot of the
// edge table; build a new one when the table changes and swap it in (an
// atomic.Pointer suits). Pick is safe for concurrent use.
//
// Pick chooses the first PoP as Traffic Router chooses a cache group
// (TrafficRouter.selectCaches and getCoverageZoneCacheLocation): the
// client's deep coverage zone caches; else its coverage zone's group, that
// group's backups in order, or (unless the group forbids it) the group
// closest to the zone's coordinates; else the group closest to where GeoIP
// puts the client. Groups count only for the localization method in play
// and only with a usable edge for the client's IP version. The rest of the
// list follows those rules CDN by CDN, the chosen CDN first, then the
// others by weight: each lists the PoPs the rules send the client to on
// that CDN when the ones above are down.
type Index struct {
	cfg  Config
	cdns []cdnInfo // fallback order: weight descending, then name
	// Per PoP, in three parallel slices by how often Pick reads them: the
	// position of every PoP, the state of those near enough to rank, the
	// rest for the PoPs that make the list.
	vecs  []vec3
	scan  []popScan
	pops  []popInfo
	edges []edgeInfo
	// PoPs that may earn a bonus or be named, so the scan over every PoP
	// need not look at ASNs or names.
	asnPoPs map[uint32][]int32 // ASN → PoPs with a usable edge embedded in it
	named   map[string][]int32 // PoP name → its PoPs, one per CDN, in CDN fallback order
	edgeIDs map[string]int32   // edge id → edge, for deep coverage zones
	hot     map[string][]int32 // title → sorted indexes of edges reporting it hot

	// geoNotCZ: some CDN's geoNotCZ, so that a client a coverage zone
	// places may be ranked on to GEO PoPs.
	geoNotCZ bool

	// bests holds Pick's per-CDN scratch when there are more CDNs than fit
	// on its stack.
	bests sync.Pool

	// Rejected lists edges left out of the index because their
	// configuration is invalid, for the caller to log.
	Rejected []error
}

type cdnInfo struct {
	name       string
	weight     float64
	first, end int32 // its PoPs: pops[first:end]
	// geoNotCZ: some PoP allows GEO but not CZ, so a CDN whose CZ-enabled
	// PoPs are all listed may go on to GEO ones.
	geoNotCZ bool
}

type popScan struct {
	// base is the load and QoE part of the PoP's cost, valid while all its
	// usable edges are fresh.
	base float64
	// freshMin and freshMax are the oldest and newest LastHeard (Unix ns)
	// of its usable edges; with none usable, freshMax is MinInt64.
	freshMin, freshMax int64
	cdn                int32
	methods            Methods
	// families has familyV4 and/or familyV6 set when some usable edge
	// serves clients of that IP version; shared those every usable edge
	// serves, so that with both set base holds for clients of either.
	families, shared uint8
	// serves has familyV4 and/or familyV6 set when some edge not Disabled
	// is configured to serve clients of that IP version, healthy or not:
	// only for those is the PoP down rather than drained.
	serves uint8
}

const (
	familyV4 uint8 = 1 << iota
	familyV6
)

type popInfo struct {
	load, capacity float64
	qoe            float64 // capacity-weighted QoE factor of usable edges
	first, end     int32   // edges[first:end]
	asns           []uint32
	name           string
}

type edgeInfo struct {
	reported       int64
	seed           uint64
	weight         float64 // rendezvous weight: capacity, times the QoE factor when enabled
	qoe            float64
	load, capacity float64
	usable         bool  // healthy and within capacity; freshness is checked per Pick
	families       uint8 // IP versions it serves
	disabled       bool
	serves         uint8 // IP versions it is configured to serve, up or down
	pop            int32
	v              vec3
	id, baseURL    string
	asns           []uint32
}

// NewIndex builds an Index from a snapshot of the edge table.
func NewIndex(cfg Config, edges []playback.Edge) (*Index, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("steering.NewIndex: %w", err)
	}
	// The degraded TTL is to bring clients back sooner: under a TTL set
	// below its default it would keep them away longer.
	cfg.DegradedTTL = min(cfg.DegradedTTL, cfg.TTL)
	ix := &Index{cfg: cfg, hot: map[string][]int32{}, asnPoPs: map[uint32][]int32{},
		named: map[string][]int32{}, edgeIDs: map[string]int32{}}

	weight := func(cdn string) float64 {
		if w, ok := cfg.CDNWeights[cdn]; ok {
			return w
		}
		return 1
	}
	seen := make(map[string]bool, len(edges))
	kept := make([]*playback.Edge, 0, len(edges))
	for i := range edges {
		e := &edges[i]
		switch err := e.Validate(); {
		case err != nil:
			ix.Rejected = append(ix.Rejected, err)
		case !ValidPathwayID(e.CDN):
			ix.Rejected = append(ix.Rejected, fmt.Errorf("edge %q: cdn %q is not a valid pathway id", e.ID, e.CDN))
		case seen[e.ID]:
			ix.Rejected = append(ix.Rejected, fmt.Errorf("edge %q: duplicate id", e.ID))
		case weight(e.CDN) > 0:
			seen[e.ID] = true
			kept = append(kept, e)
		}
	}
	// CDN indexes follow the fallback order, and PoPs are grouped by CDN in
	// that order, so a PoP index sorts like its CDN.
	order := map[string]float64{}
	for _, e := range kept {
		order[e.CDN] = weight(e.CDN)
	}
	for name, w := range order {
		ix.cdns = append(ix.cdns, cdnInfo{name: name, weight: w})
	}
	slices.SortFunc(ix.cdns, func(a, b cdnInfo) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(a.name, b.name))
	})
	cdnIndex := make(map[string]int32, len(ix.cdns))
	for i, c := range ix.cdns {
		cdnIndex[c.name] = int32(i)
	}
	slices.SortFunc(kept, func(a, b *playback.Edge) int {
		return cmp.Or(cmp.Compare(cdnIndex[a.CDN], cdnIndex[b.CDN]), cmp.Compare(a.PoP, b.PoP), cmp.Compare(a.ID, b.ID))
	})

	ix.edges = make([]edgeInfo, len(kept))
	for i, e := range kept {
		q := cfg.qoeFactor(e.RebufferRatio, e.ThroughputKbps)
		capacity := e.EffectiveCapacity()
		w := capacity
		if e.Weight > 0 {
			w *= e.Weight
		}
		if cfg.QoE {
			w *= q
		}
		var serves, fam uint8
		if !e.NoIPv4 {
			serves |= familyV4
			if !e.IPv4Down {
				fam |= familyV4
			}
		}
		if !e.NoIPv6 {
			serves |= familyV6
			if !e.IPv6Down {
				fam |= familyV6
			}
		}
		ix.edges[i] = edgeInfo{
			reported: e.LastHeard().UnixNano(),
			seed:     hashString(e.ID),
			weight:   w,
			qoe:      q,
			load:     e.Load,
			capacity: capacity,
			usable:   !e.Disabled && e.Healthy && withinCapacity(e.Load, capacity) && fam != 0,
			disabled: e.Disabled,
			serves:   serves,
			families: fam,
			v:        unitVector(e.Lat, e.Lon),
			id:       e.ID,
			baseURL:  e.BaseURL,
			asns:     slices.Clone(e.ASNs),
		}
		ix.edgeIDs[e.ID] = int32(i)
		for _, t := range e.HotTitles {
			ix.hot[t] = append(ix.hot[t], int32(i))
		}
	}
	for start := 0; start < len(kept); {
		end := start + 1
		for end < len(kept) && kept[end].CDN == kept[start].CDN && kept[end].PoP == kept[start].PoP {
			end++
		}
		ix.addPoP(kept[start].PoP, cdnIndex[kept[start].CDN], start, end)
		start = end
	}
	n := len(ix.cdns)
	ix.bests.New = func() any { b := make([]topPoPs, n); return &b }
	return ix, nil
}

func (ix *Index) addPoP(name string, cdn int32, first, end int) {
	i := int32(len(ix.pops))
	p := popInfo{name: name, first: int32(first), end: int32(end)}
	s := popScan{cdn: cdn, freshMin: math.MaxInt64, freshMax: math.MinInt64, methods: AllMethods, shared: familyV4 | familyV6}
	if g, ok := ix.cfg.CacheGroups[name]; ok && g.Methods != 0 {
		s.methods = g.Methods
	}
	c := &ix.cdns[cdn]
	if c.end == 0 {
		c.first = i
	}
	c.end = i + 1
	c.geoNotCZ = c.geoNotCZ || s.methods&(MethodGeo|MethodCZ) == MethodGeo
	ix.geoNotCZ = ix.geoNotCZ || c.geoNotCZ
	var sum vec3
	for j := first; j < end; j++ {
		e := &ix.edges[j]
		e.pop = i
		sum.x, sum.y, sum.z = sum.x+e.v.x, sum.y+e.v.y, sum.z+e.v.z
		if !e.disabled {
			s.serves |= e.serves
		}
		if !e.usable {
			continue
		}
		p.load += e.load
		p.capacity += e.capacity
		p.qoe += e.qoe * e.capacity
		s.families |= e.families
		s.shared &= e.families
		s.freshMin, s.freshMax = min(s.freshMin, e.reported), max(s.freshMax, e.reported)
		for _, a := range e.asns {
			if !slices.Contains(p.asns, a) {
				p.asns = append(p.asns, a)
				ix.asnPoPs[a] = append(ix.asnPoPs[a], i)
			}
		}
	}
	if p.capacity > 0 {
		p.qoe /= p.capacity
		s.base = ix.cfg.penalties(p.load, p.capacity, p.qoe)
	}
	// A PoP sits at the centroid of its edges, normally all at one site.
	v := ix.edges[first].v
	if n := math.Sqrt(sum.dot(sum)); n > 0 {
		v = vec3{sum.x / n, sum.y / n, sum.z / n}
	}
	ix.vecs = append(ix.vecs, v)
	ix.pops = append(ix.pops, p)
	ix.scan = append(ix.scan, s)
	ix.named[name] = append(ix.named[name], i)
}

// withinCapacity is Traffic Monitor's bandwidth rule: a cache is marked
// unavailable only once its load exceeds its limit ("maximum bandwidth
// exceeded" when maxBandwidth < kbpsOut, traffic_monitor/health/cache.go
// EvalInterface), so one exactly at its limit still serves. An edge with
// no capacity at all (neither configured nor reported) serves nothing:
// its rendezvous weight is 0.
func withinCapacity(load, capacity float64) bool { return capacity > 0 && load <= capacity }

// penalties is the load and QoE part of a PoP's cost.
func (c *Config) penalties(load, capacity, qoe float64) float64 {
	cost := c.LoadPenaltyKm * load / capacity
	if c.QoE {
		cost += c.QoEPenaltyKm * (1 - qoe)
	}
	return cost
}

// Query is one ranking request.
type Query struct {
	Location Location
	Title    string
	Now      time.Time
}

// Choice is one ranked edge.
type Choice struct {
	EdgeID  string `json:"edge_id"`
	CDN     string `json:"cdn"`
	PoP     string `json:"pop"`
	BaseURL string `json:"base_url"`
	// Score is the negated cost of the edge's PoP in kilometre-equivalents
	// (higher is better); edges of one PoP share it.
	Score float64 `json:"score"`
	// DistanceKm is the straight-line distance from the client to the PoP.
	DistanceKm float64 `json:"distance_km"`
	// Affinity is the title's rendezvous score on this edge, which orders
	// edges within a PoP.
	Affinity float64 `json:"affinity"`
}

// How Pick chose the first PoP, after Traffic Router's result types.
const (
	ResultDeepCZ   = "DEEP_CZ"   // an edge of the client's deep coverage zone
	ResultCZ       = "CZ"        // the coverage zone's own PoP
	ResultCZBackup = "CZ_BACKUP" // a backup of the zone's PoP, or the PoP closest to the zone
	ResultGeo      = "GEO"       // the PoP closest to the GeoIP (or default) location
)

// Ranking is Pick's answer.
type Ranking struct {
	Choices []Choice
	// TTL is how long the client may use the ranking.
	TTL time.Duration
	// Degraded reports that the edges of the client's deep coverage zone,
	// the PoP its zone names, or a PoP nearer than the chosen one, are
	// unusable, and not because the operator drained them or configured
	// them off for the client's IP version (Config.TTL). PoPs too far to
	// rank in their CDN are not looked at.
	Degraded bool
	// Result says how the first PoP was chosen (ResultCZ, ...).
	Result string

	primary int32
	method  Methods  // by which any PoP of another CDN may serve the client
	zone    string   // the client's coverage zone, when its group and backups may serve it
	deep    []string // the client's deep caches, when one is usable
	family  uint8
	cut     int64
	index   *Index
}

// AppendPathways appends the CDN names with a usable edge, best first: the
// Pathway (HLS) or service location (DASH) priority.
func (r *Ranking) AppendPathways(dst []string) []string {
	ix := r.index
	if ix == nil {
		return dst
	}
	dst = append(dst, ix.cdns[r.primary].name)
	for c := range ix.cdns {
		if int32(c) != r.primary && (ix.cdnUsable(c, r.method, r.family, r.cut) || r.zoneOn(c) || r.deepOn(c)) {
			dst = append(dst, ix.cdns[c].name)
		}
	}
	return dst
}

// zoneOn reports whether CDN c has a usable PoP of the client's coverage
// zone group or of one of its backups, which serve by CZ.
func (r *Ranking) zoneOn(c int) bool {
	if r.zone == "" {
		return false
	}
	if r.namedOn(r.zone, c) {
		return true
	}
	for _, b := range r.index.cfg.CacheGroups[r.zone].Backups {
		if r.namedOn(b, c) {
			return true
		}
	}
	return false
}

// namedOn reports whether CDN c's PoP named name may serve the client by
// CZ.
func (r *Ranking) namedOn(name string, c int) bool {
	ix := r.index
	for _, i := range ix.named[name] {
		if int(ix.scan[i].cdn) == c && ix.popEligible(i, MethodCZ, r.family, r.cut) {
			return true
		}
	}
	return false
}

// deepOn reports whether CDN c has a usable edge among the client's deep
// caches: Traffic Router sends the client there whatever the localization
// methods of the edge's own group allow.
func (r *Ranking) deepOn(c int) bool {
	ix := r.index
	for _, id := range r.deep {
		if i, ok := ix.edgeIDs[id]; ok && int(ix.scan[ix.edges[i].pop].cdn) == c {
			if _, ok := ix.edgePick(i, r.cut, 0, nil, 0, r.family); ok {
				return true
			}
		}
	}
	return false
}

// cdnUsable reports whether CDN c has a PoP that Pick could rank.
func (ix *Index) cdnUsable(c int, method Methods, family uint8, cut int64) bool {
	for i := ix.cdns[c].first; i < ix.cdns[c].end; i++ {
		if ix.popEligible(i, method, family, cut) {
			return true
		}
	}
	return false
}

func (ix *Index) popEligible(i int32, method Methods, family uint8, cut int64) bool {
	s := &ix.scan[i]
	if s.methods&method == 0 || s.families&family == 0 || s.freshMax < cut {
		return false
	}
	if s.freshMin >= cut {
		return true
	}
	_, ok := ix.popCost(i, 0, cut, 0, family)
	return ok
}

type popPick struct {
	cost float64
	dot  float64
	pop  int32
}

// topPoPs keeps a CDN's k cheapest PoPs, cheapest first, after the fixed
// ones: PoPs Traffic Router's rules try before any by distance, or that
// an earlier localization method listed.
type topPoPs struct {
	n, fixed int
	pick     [MaxPoPsPerCDN]popPick
}

// offer inserts c if it is among the k cheapest; ties keep the earlier PoP.
func (t *topPoPs) offer(c popPick, k int) {
	n := t.n
	if n == k {
		if n == t.fixed || c.cost >= t.pick[n-1].cost {
			return
		}
	} else {
		n++
		t.n = n
	}
	t.bubble(c, n-1)
}

// lower lowers the cost of a PoP already offered, or offers it.
func (t *topPoPs) lower(c popPick, k int) {
	for j := range t.n {
		if t.pick[j].pop == c.pop {
			if j >= t.fixed {
				t.bubble(c, j)
			}
			return
		}
	}
	t.offer(c, k)
}

// fix appends c after the fixed PoPs, whatever its cost.
func (t *topPoPs) fix(c popPick) {
	t.pick[t.n] = c
	t.n++
	t.fixed = t.n
}

// holds reports whether PoP i is among the fixed ones.
func (t *topPoPs) holds(i int32) bool {
	for _, p := range t.pick[:t.fixed] {
		if p.pop == i {
			return true
		}
	}
	return false
}

func (t *topPoPs) bubble(c popPick, j int) {
	for ; j > t.fixed && t.pick[j-1].cost > c.cost; j-- {
		t.pick[j] = t.pick[j-1]
	}
	t.pick[j] = c
}

type edgePick struct {
	tier     int8 // 1 when embedded in the client's ISP
	affinity float64
	edge     int32
}

// ErrNoEdgeForClient is the cause of the error Pick returns when Traffic
// Router's rules leave the client without a cache group: its zone's group
// does not allow coverage zone routing, or its backups failed and it does
// not fall back to the closest group. That error is a *playback.Error with
// CodeUnavailable and reason "no_edge_for_client".
var ErrNoEdgeForClient = errors.New("steering: no edge may serve this client")

// Pick ranks edges for q, appending up to Config.MaxResults choices to
// dst[:0]; with a dst of that capacity it allocates nothing. When no edge is
// usable it returns an error wrapping ErrNoHealthyEdge.
func (ix *Index) Pick(q Query, dst []Choice) (Ranking, error) {
	loc := &q.Location
	if q.Now.IsZero() || !validCoordinates(loc.Lat, loc.Lon) {
		return Ranking{}, fmt.Errorf("steering.Pick: query needs a time and valid coordinates")
	}
	cfg := &ix.cfg
	cut := q.Now.UnixNano() - int64(cfg.Staleness)
	family := familyV4
	if loc.IPv6 {
		family = familyV6
	}

	// A usable deep coverage zone edge is Traffic Router's answer before
	// the coverage zone is looked at, so the zone's refusals do not count.
	// With none usable, one that is down (not drained, and configured for
	// the client's IP version) is the client's home to come back to.
	deepUsable, deepDown := false, false
	for _, id := range loc.DeepCaches {
		if i, ok := ix.edgeIDs[id]; ok {
			if _, ok := ix.edgePick(i, cut, 0, nil, 0, family); ok {
				deepUsable = true
				break
			}
			deepDown = deepDown || (!ix.edges[i].disabled && ix.edges[i].serves&family != 0)
		}
	}
	// The coverage zone's own group, then its backups
	// (TrafficRouter.getCoverageZoneCacheLocation).
	// After that, per CDN, the list goes where the rules send the client
	// when the PoPs above are down: the zone's group and backups by name
	// (named), then, unless the group forbids it (byDistance false), the
	// groups closest to the zone for CZ, and GEO only past the last of
	// them (selectCachesByGeo).
	anchor, result, degraded := int32(-1), ResultGeo, false
	method, at := MethodGeo, unitVector(loc.Lat, loc.Lon)
	var group CacheGroup
	var pops []int32 // the zone's group's, on each CDN
	named, byDistance := false, true
	if loc.Zone != "" {
		var configured, known bool
		group, configured = cfg.CacheGroups[loc.Zone]
		pops, known = ix.named[loc.Zone]
		// A PoP configured for the client's IP version, not usable, is down.
		servesClient := func(i int32) bool { return ix.scan[i].serves&family != 0 }
		if (known || configured) && !group.allows(MethodCZ) {
			if !deepUsable {
				return Ranking{}, noEdgeForClient(cfg, "the coverage zone's cache group %q does not allow coverage zone routing", loc.Zone)
			}
			// Past its deep caches Traffic Router has nothing for it.
			byDistance = false
		} else {
			named = true
			byDistance = group.Backups == nil || group.FallbackToClosest
			if byDistance && loc.Source == SourceCoverageZone {
				// The groups closest to the zone's coordinates.
				method = MethodCZ
			}
			if anchor = ix.firstUsable(pops, MethodCZ, family, cut); anchor >= 0 {
				result = ResultCZ
				// The zone's PoP on a heavier CDN, down, is where the client
				// goes back to when it recovers.
				degraded = slices.ContainsFunc(pops[:slices.Index(pops, anchor)], servesClient)
			} else {
				degraded = slices.ContainsFunc(pops, servesClient)
				for _, b := range group.Backups {
					if anchor = ix.firstUsable(ix.named[b], MethodCZ, family, cut); anchor >= 0 {
						result = ResultCZBackup
						break
					}
				}
				switch {
				case anchor >= 0:
				case !byDistance:
					if !deepUsable {
						return Ranking{}, noEdgeForClient(cfg, "the coverage zone's cache group %q and its backups have no usable edge", loc.Zone)
					}
				case method == MethodCZ:
					result = ResultCZBackup
				}
			}
		}
	}

	var stack [16]topPoPs
	var best []topPoPs
	if n := len(ix.cdns); n <= len(stack) {
		best = stack[:n]
	} else {
		p := ix.bests.Get().(*[]topPoPs)
		defer ix.bests.Put(p)
		best = *p
		clear(best)
	}
	r := Ranking{TTL: cfg.TTL, index: ix, family: family, cut: cut, Result: result}
	th := hashString(q.Title)
	hot := ix.hot[q.Title]
	// The deep edges listed first are down when the client gets past
	// them: a PoP left with no other usable edge takes no place.
	var deepTop [MaxEdgesPerPoP]edgePick
	var spentPoPs [MaxEdgesPerPoP]int32
	var spent []int32
	nDeep := 0
	if deepUsable {
		nDeep = ix.topDeep(&deepTop, loc, cut, th, hot, family)
		spent = ix.spent(spentPoPs[:0], deepTop[:nDeep], cut, family)
	}
	primary, nearestDown, client := -1, -2.0, at
	if named {
		ix.fixNamed(best, pops, at, family, cut, spent)
		for _, b := range group.Backups {
			ix.fixNamed(best, ix.named[b], at, family, cut, spent)
		}
	}
	if anchor >= 0 {
		primary = int(ix.scan[anchor].cdn)
	}
	if byDistance {
		nearestDown = ix.rank(best, at, method, family, cut, loc.ASN, anchor < 0, false, spent)
		if primary < 0 {
			primary = cheapest(best)
		}
		if method == MethodCZ {
			// Where GeoIP puts the client, read only when a ranking needs it
			// (unitVector's sines and cosines cost as much as a PoP scan).
			geoAt := func() vec3 {
				if loc.GeoSource != "" {
					return unitVector(loc.GeoLat, loc.GeoLon)
				}
				return at
			}
			if primary < 0 {
				// No group allows coverage zone routing near the zone:
				// Traffic Router goes on to GeoIP.
				r.Result, client = ResultGeo, geoAt()
				nearestDown = ix.rank(best, client, MethodGeo, family, cut, loc.ASN, true, false, spent)
				primary = cheapest(best)
			} else if ix.geoNotCZ {
				// A CDN whose CZ-enabled PoPs are all listed goes on to
				// those allowing GEO.
				for c := range best {
					best[c].fixed = best[c].n
				}
				ix.rank(best, geoAt(), MethodGeo, family, cut, 0, false, true, spent)
			}
		}
	}
	// Deep caches are Traffic Router's answer whatever the localization
	// methods of their own group allow: a DEEP_CZ-only group serves them.
	if primary < 0 && !deepUsable {
		return Ranking{}, &playback.Error{
			Code: playback.CodeUnavailable, Reason: "no_healthy_edge",
			Message: "no CDN edge is healthy and within capacity", RetryAfter: cfg.RetryAfter, Err: ErrNoHealthyEdge,
		}
	}
	r.primary = int32(primary)
	// The pathways name every CDN Pick would send the client to were the
	// ones before it down, and no other: players fail over between listed
	// pathways only. By Traffic Router's rules a client its zone places
	// goes to its zone's group and backups, then (unless the group
	// forbids falling back) to the CZ-enabled group closest to the zone's
	// coordinates, then to groups that allow GEO; one whose group forbids
	// CZ goes nowhere but its deep caches.
	// Those are the rules the list above followed (named, byDistance,
	// method).
	if named {
		r.zone = loc.Zone
	}
	if byDistance {
		r.method = MethodGeo | method
	}
	if degraded || (deepDown && !deepUsable) || (anchor < 0 && primary >= 0 && nearestDown > best[primary].pick[0].dot) {
		r.Degraded, r.TTL = true, cfg.DegradedTTL
	}

	out := dst[:0]
	deep := false
	if deepUsable {
		r.deep = loc.DeepCaches
		out, deep = ix.appendDeep(out, loc, deepTop[:nDeep], client)
		if deep {
			// The deep edge's CDN leads the pathways.
			r.Result = ResultDeepCZ
			r.primary = ix.scan[ix.edges[ix.edgeIDs[out[0].EdgeID]].pop].cdn
		}
	}
	for pass := -1; pass < len(ix.cdns); pass++ {
		c := pass
		if pass < 0 {
			c = primary
		} else if pass == primary {
			continue
		}
		if c < 0 || best[c].n == 0 {
			continue
		}
		for _, pp := range best[c].pick[:best[c].n] {
			if len(out) < cfg.MaxResults {
				out = ix.appendEdges(out, pp, cut, th, hot, loc.ASN, family, deep)
			}
		}
	}
	r.Choices = out
	return r, nil
}

func noEdgeForClient(cfg *Config, format string, args ...any) error {
	return &playback.Error{
		Code: playback.CodeUnavailable, Reason: "no_edge_for_client",
		Message: fmt.Sprintf(format, args...), RetryAfter: cfg.RetryAfter, Err: ErrNoEdgeForClient,
	}
}

// firstUsable is the first of pops (one per CDN, in fallback order) with a
// usable edge for method and family, or -1.
func (ix *Index) firstUsable(pops []int32, method Methods, family uint8, cut int64) int32 {
	for _, i := range pops {
		if ix.popEligible(i, method, family, cut) {
			return i
		}
	}
	return -1
}

// fixNamed appends each of a group's PoPs (ix.named's) to its CDN's fixed
// PoPs when it may serve the client by CZ and is neither listed yet nor
// spent.
func (ix *Index) fixNamed(best []topPoPs, pops []int32, client vec3, family uint8, cut int64, spent []int32) {
	for _, i := range pops {
		t := &best[ix.scan[i].cdn]
		if t.n == ix.cfg.PoPsPerCDN || t.holds(i) || slices.Contains(spent, i) || !ix.popEligible(i, MethodCZ, family, cut) {
			continue
		}
		dot := ix.vecs[i].dot(client)
		cost, _ := ix.popCost(i, dot, cut, 0, family)
		t.fix(popPick{cost: cost, dot: dot, pop: i})
	}
}

// cheapest is the CDN whose first PoP costs least, the earlier on a tie, or
// -1 when no CDN has one.
func cheapest(best []topPoPs) int {
	primary := -1
	for c := range best {
		if best[c].n > 0 && (primary < 0 || best[c].pick[0].cost < best[primary].pick[0].cost) {
			primary = c
		}
	}
	return primary
}

// rank offers each CDN's cheapest PoPs for a client at client, among PoPs
// allowing method with an edge for family, neither fixed already nor
// spent, until the CDN has k; with geoFill only to CDNs that have PoPs
// allowing GEO but not CZ. With bonus, PoPs embedded in asn earn
// Config.ASNBonusKm. It returns the largest dot product among unusable
// PoPs.
func (ix *Index) rank(best []topPoPs, client vec3, method Methods, family uint8, cut int64, asn uint32, bonus, geoFill bool, spent []int32) float64 {
	cfg := &ix.cfg
	k := cfg.PoPsPerCDN
	nearestDown := -2.0
	// Every PoP at its cost without bonuses, CDN by CDN. Once a CDN has k
	// PoPs, a PoP farther than the k-th one's cost cannot rank (penalties
	// are never negative), which the squared chord length tells without
	// reading the PoP's state or taking a square root. So the scan reads
	// little more than a slice of vectors.
	const r2 = earthRadiusKm * earthRadiusKm
	for c := range ix.cdns {
		t := &best[c]
		if t.fixed == k || (geoFill && !ix.cdns[c].geoNotCZ) {
			continue
		}
		for i := ix.cdns[c].first; i < ix.cdns[c].end; i++ {
			dot := ix.vecs[i].dot(client)
			var limit float64
			if t.n == k {
				limit = t.pick[k-1].cost
				if r2*(2-2*dot) >= limit*limit {
					continue
				}
			}
			s := &ix.scan[i]
			if s.methods&method == 0 {
				continue
			}
			if s.freshMax < cut || s.families&family == 0 {
				if s.serves&family != 0 {
					nearestDown = max(nearestDown, dot)
				}
				continue
			}
			var cost float64
			if s.freshMin >= cut && s.shared == familyV4|familyV6 {
				if t.n == k {
					if room := limit - s.base; room <= 0 || r2*(2-2*dot) >= room*room {
						continue
					}
				}
				cost = chordKm(dot) + s.base
			} else {
				var ok bool
				if cost, ok = ix.popCost(i, dot, cut, 0, family); !ok {
					nearestDown = max(nearestDown, dot)
					continue
				}
			}
			if (t.fixed > 0 && t.holds(i)) || (len(spent) > 0 && slices.Contains(spent, i)) {
				continue
			}
			t.offer(popPick{cost: cost, dot: dot, pop: i}, k)
		}
	}
	// The few PoPs embedded in the client's ISP, at their full cost, when
	// that deviation is on and the client's coverage zone decides nothing
	// (neither its PoP, a backup, nor the PoP closest to the zone).
	if bonus && asn != 0 && cfg.ASNBonusKm > 0 && method == MethodGeo {
		for _, i := range ix.asnPoPs[asn] {
			s := &ix.scan[i]
			if s.methods&method == 0 || slices.Contains(spent, i) {
				continue
			}
			dot := ix.vecs[i].dot(client)
			if cost, ok := ix.popCost(i, dot, cut, asn, family); ok {
				best[s.cdn].lower(popPick{cost: cost, dot: dot, pop: i}, k)
			}
		}
	}
	return nearestDown
}

// popCost is PoP i's cost for a client at dot, counting only edges fresh at
// cut that serve family, with the bonus for asn (pass 0 for none). It
// reports false when the PoP has no such usable edge.
func (ix *Index) popCost(i int32, dot float64, cut int64, asn uint32, family uint8) (float64, bool) {
	s, p := &ix.scan[i], &ix.pops[i]
	if s.freshMax < cut || s.families&family == 0 {
		return 0, false
	}
	base := s.base
	embedded := asn != 0 && slices.Contains(p.asns, asn)
	if s.freshMin < cut || s.shared != familyV4|familyV6 {
		// Some usable edges went stale after the index was built, or
		// some serve only one IP version.
		var load, capacity, qoe float64
		embedded = false
		for j := p.first; j < p.end; j++ {
			e := &ix.edges[j]
			if !e.usable || e.reported < cut || e.families&family == 0 {
				continue
			}
			load += e.load
			capacity += e.capacity
			qoe += e.qoe * e.capacity
			embedded = embedded || (asn != 0 && slices.Contains(e.asns, asn))
		}
		if capacity == 0 {
			return 0, false
		}
		base = ix.cfg.penalties(load, capacity, qoe/capacity)
	}
	cost := chordKm(dot) + base
	if embedded {
		cost -= ix.cfg.ASNBonusKm
	}
	return cost, true
}

// topDeep keeps in top the usable edges the client's deep coverage zone
// names, best for the title first, as many as a PoP lists, and returns how
// many.
func (ix *Index) topDeep(top *[MaxEdgesPerPoP]edgePick, loc *Location, cut int64, titleHash uint64, hot []int32, family uint8) int {
	k := min(ix.cfg.EdgesPerPoP, ix.cfg.MaxResults)
	n := 0
	for _, id := range loc.DeepCaches {
		i, ok := ix.edgeIDs[id]
		if !ok {
			continue
		}
		if c, ok := ix.edgePick(i, cut, titleHash, hot, 0, family); ok {
			n = insertEdge(top, n, k, c)
		}
	}
	return n
}

// spent appends to dst the PoPs of the deep picks that have no usable edge
// besides them.
func (ix *Index) spent(dst []int32, picks []edgePick, cut int64, family uint8) []int32 {
	for _, c := range picks {
		p := ix.edges[c.edge].pop
		if slices.Contains(dst, p) {
			continue
		}
		other := false
		for j := ix.pops[p].first; j < ix.pops[p].end && !other; j++ {
			if _, ok := ix.edgePick(j, cut, 0, nil, 0, family); ok {
				other = !slices.ContainsFunc(picks, func(d edgePick) bool { return d.edge == j })
			}
		}
		if !other {
			dst = append(dst, p)
		}
	}
	return dst
}

// appendDeep appends the deep picks as Traffic Router's DEEP_CZ answer.
func (ix *Index) appendDeep(out []Choice, loc *Location, picks []edgePick, client vec3) ([]Choice, bool) {
	for _, c := range picks {
		e := &ix.edges[c.edge]
		dot := e.v.dot(client)
		out = append(out, Choice{
			EdgeID: e.id, CDN: ix.cdns[ix.scan[e.pop].cdn].name, PoP: "deep." + loc.DeepZone, BaseURL: e.baseURL,
			Score: score(chordKm(dot)), DistanceKm: chordKm(dot), Affinity: c.affinity,
		})
	}
	return out, len(picks) > 0
}

// edgePick scores edge i for the title, or reports false when it cannot
// serve now.
func (ix *Index) edgePick(i int32, cut int64, titleHash uint64, hot []int32, asn uint32, family uint8) (edgePick, bool) {
	e := &ix.edges[i]
	if !e.usable || e.reported < cut || e.families&family == 0 {
		return edgePick{}, false
	}
	w := e.weight
	if len(hot) > 0 {
		if _, found := slices.BinarySearch(hot, i); found {
			w *= ix.cfg.HotTitleBoost
		}
	}
	c := edgePick{affinity: rendezvousScore(titleHash, e.seed, w), edge: i}
	if asn != 0 && ix.cfg.ASNBonusKm > 0 && len(e.asns) > 0 && slices.Contains(e.asns, asn) {
		c.tier = 1
	}
	return c, true
}

// insertEdge keeps the best k edge picks in top[:n], best first.
func insertEdge(top *[MaxEdgesPerPoP]edgePick, n, k int, c edgePick) int {
	if n == k {
		if !c.better(top[n-1]) {
			return n
		}
	} else {
		n++
	}
	j := n - 1
	for ; j > 0 && c.better(top[j-1]); j-- {
		top[j] = top[j-1]
	}
	top[j] = c
	return n
}

// appendEdges appends a PoP's best edges for the title: embedded edges
// first, then by weighted rendezvous score. With skipListed, edges already
// in out (from a deep coverage zone) are not repeated.
func (ix *Index) appendEdges(out []Choice, pp popPick, cut int64, titleHash uint64, hot []int32, asn uint32, family uint8, skipListed bool) []Choice {
	cfg := &ix.cfg
	p := &ix.pops[pp.pop]
	k := min(cfg.EdgesPerPoP, cfg.MaxResults-len(out))
	var top [MaxEdgesPerPoP]edgePick
	n := 0
	for i := p.first; i < p.end; i++ {
		if skipListed && slices.ContainsFunc(out, func(c Choice) bool { return c.EdgeID == ix.edges[i].id }) {
			continue
		}
		if c, ok := ix.edgePick(i, cut, titleHash, hot, asn, family); ok {
			n = insertEdge(&top, n, k, c)
		}
	}
	cdn := ix.cdns[ix.scan[pp.pop].cdn].name
	for _, c := range top[:n] {
		e := &ix.edges[c.edge]
		out = append(out, Choice{
			EdgeID: e.id, CDN: cdn, PoP: p.name, BaseURL: e.baseURL,
			Score: score(pp.cost), DistanceKm: chordKm(pp.dot), Affinity: c.affinity,
		})
	}
	return out
}

// score is a cost negated, with no negative zero: a PoP at the client costs
// 0, and -0 would reach pickedge's answer as "score":-0.
func score(cost float64) float64 {
	if cost == 0 {
		return 0
	}
	return -cost
}

func (a edgePick) better(b edgePick) bool {
	if a.tier != b.tier {
		return a.tier > b.tier
	}
	if a.affinity != b.affinity {
		return a.affinity > b.affinity
	}
	return a.edge < b.edge
}
