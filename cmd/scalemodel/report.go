package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/playplane/playplane/cmd/scalemodel/model"
)

// scales are the concurrencies the cost table is priced at.
var scales = []float64{10_000, 100_000, 1_000_000}

// report writes the markdown tables docs/scale.md embeds.
func report(w io.Writer) error {
	var b strings.Builder
	base := model.DefaultDeployment(1)
	wl := base.Workload

	b.WriteString("### Per session (mean 45 min)\n\n| step | route | per session | store methods |\n|---|---|---:|---|\n")
	for _, c := range wl.PerSession() {
		route := "`" + c.Step.Route + "`"
		switch {
		case c.Step.Name == model.StepConsume.Name:
			route = "heartbeats topic"
		case c.Step.Route == "":
			route = "(inside play)"
		}
		ops := make([]string, len(c.Step.Store))
		for i, op := range c.Step.Store {
			ops[i] = model.MethodOf(op)
			if op != ops[i] {
				ops[i] += " (writes)"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s |\n", c.Step.Name, route, c.N, strings.Join(ops, ", "))
	}
	s := base.Sizes
	fmt.Fprintf(&b, "\nDynamoDB item sizes (bytes): session %d, slot %d, device lock %d, progress %d, QoE %d, account %d, plan %d, title %d, edge %d.\n",
		s.Session, s.Slot, s.DeviceLock, s.Progress, s.QoE, s.Account, s.Plan, s.Title, s.Edge)
	fmt.Fprintf(&b, "Plans are read through each authorizeplay and signurl instance's cache: %d plans every %s per warm instance, priced with the fixed costs.\n",
		base.Plans, wl.PlanCacheTTL)

	b.WriteString("\n### Cost per 1,000 viewer-hours (USD, list prices, us-east-1 / us-central1)\n\n")
	b.WriteString("| cloud | line |")
	for _, v := range scales {
		fmt.Fprintf(&b, " %s viewers |", short(v))
	}
	b.WriteString("\n|---|---|")
	for range scales {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	type priced struct{ aws, gcp []model.Line }
	var all []priced
	for _, v := range scales {
		aws, gcp, _ := model.DefaultDeployment(v).Cost()
		all = append(all, priced{aws, gcp})
	}
	for cloud := range 2 {
		lines := all[len(all)-1].aws
		if cloud == 1 {
			lines = all[len(all)-1].gcp
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "| %s | %s |", l.Cloud, l.Name)
			for i, v := range scales {
				set := all[i].aws
				if cloud == 1 {
					set = all[i].gcp
				}
				for _, m := range set {
					if m.Name == l.Name {
						fmt.Fprintf(&b, " %.4f |", m.PerThousandViewerHours(v))
					}
				}
			}
			b.WriteString("\n")
		}
		name := "AWS"
		if cloud == 1 {
			name = "GCP"
		}
		fmt.Fprintf(&b, "| **%s** | **total** |", name)
		for i, v := range scales {
			set := all[i].aws
			if cloud == 1 {
				set = all[i].gcp
			}
			fmt.Fprintf(&b, " **%.3f** |", model.Total(set)/(v/1000))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nDominant line:")
	for i, v := range scales {
		fmt.Fprintf(&b, " %s — AWS %s (%.0f%%), GCP %s (%.0f%%);", short(v),
			all[i].aws[0].Name, 100*all[i].aws[0].PerHour/model.Total(all[i].aws),
			all[i].gcp[0].Name, 100*all[i].gcp[0].PerHour/model.Total(all[i].gcp))
	}
	b.WriteString("\n")

	b.WriteString("\n### Limits, in the order the default deployment reaches them\n\n| cloud | limit | ceiling | per viewer | reached at (concurrent viewers) | what the design does |\n|---|---|---:|---:|---:|---|\n")
	for _, l := range model.DefaultDeployment(1_000_000).Limits() {
		fmt.Fprintf(&b, "| %s | %s | %s %s | %.5f | %s | %s ([source](%s)) |\n", l.Cloud, l.Name, short(l.Ceiling), l.Unit, l.PerViewer, viewers(l.Viewers), l.Design, l.Source)
	}

	b.WriteString("\n### Knobs with their price (1M concurrent viewers)\n\n| knob | value | AWS $/1k vh | GCP $/1k vh | first AWS limit at | first GCP limit at | what it trades |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, k := range knobs() {
		d := model.DefaultDeployment(1_000_000)
		k.set(&d)
		aws, gcp, _ := d.Cost()
		fa, fg := firstLimit(d, "AWS"), firstLimit(d, "GCP")
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %s | %s | %s |\n", k.name, k.value, model.Total(aws)/1000, model.Total(gcp)/1000, viewers(fa), viewers(fg), k.trade)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type knob struct {
	name, value, trade string
	set                func(*model.Deployment)
}

func knobs() []knob {
	sec := func(d time.Duration) string { return fmt.Sprintf("%g s", d.Seconds()) }
	var out []knob
	for _, iv := range []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second} {
		trade := "resume position and QoE at most this stale; a killed player holds its slot up to LEASE_TTL"
		if iv == 30*time.Second {
			trade = "default; " + trade
		}
		out = append(out, knob{"HEARTBEAT_INTERVAL", sec(iv), trade, func(d *model.Deployment) { d.Workload.HeartbeatInterval = iv }})
	}
	for _, sl := range []time.Duration{0, 20 * time.Second, 30 * time.Second, 45 * time.Second} {
		trade := "a skipped write leaves last_seen_at up to the slack old"
		switch sl {
		case 0:
			trade = "every beat writes (ExtendLease: the same read and transaction), the start beats too"
		case 20 * time.Second:
			trade = "default; at a 30 s interval every periodic beat writes (warm renewals skip the session read)"
		case 30 * time.Second:
			trade = "every other write skipped only if beats arrive exactly on time (jitter defeats it)"
		case 45 * time.Second:
			trade = "recommended: every other beat writes, robust to 15 s of jitter; the lease stays >= 75 s ahead"
		}
		out = append(out, knob{"HEARTBEAT_LEASE_RENEW_SLACK", sec(sl), trade, func(d *model.Deployment) { d.Workload.LeaseRenewSlack = sl }})
	}
	for _, b := range []int{10, 100} {
		trade := "SQS event source batch (template.yaml); GCP push delivers one message regardless"
		out = append(out, knob{"heartbeat consumer BatchSize (AWS)", fmt.Sprint(b), trade, func(d *model.Deployment) { d.Workload.ConsumerBatch = b }})
	}
	for _, t := range []time.Duration{60 * time.Second, 300 * time.Second, 900 * time.Second} {
		trade := "how long a player keeps a ranking before steering can move it"
		if t == 300*time.Second {
			trade = "default; " + trade
		}
		out = append(out, knob{"STEERING_TTL", sec(t), trade, func(d *model.Deployment) { d.Workload.SteeringTTL = t }})
	}
	for _, l := range []time.Duration{2 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
		trade := "URL lifetime follows the lease: a stopped or revoked session's CDN grant lives up to LEASE_TTL + SIGNURL_GRACE"
		if l == 2*time.Minute {
			trade = "default; " + trade
		}
		out = append(out, knob{"LEASE_TTL (and so grant lifetime)", sec(l), trade, func(d *model.Deployment) { d.Workload.LeaseTTL = l }})
	}
	return out
}

func firstLimit(d model.Deployment, cloud string) float64 {
	for _, l := range d.Limits() {
		if l.Cloud == cloud {
			return l.Viewers
		}
	}
	return math.Inf(1)
}

func short(v float64) string {
	switch {
	case v >= 1e6 && math.Mod(v, 1e6) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3 && math.Mod(v, 1e3) == 0:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func viewers(v float64) string {
	if math.IsInf(v, 1) {
		return "not with viewers"
	}
	return fmt.Sprintf("%.0f", math.Round(v/100)*100)
}
