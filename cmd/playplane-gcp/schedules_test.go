package main

import (
	"slices"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp"
)

// Every catalogue job is scheduled against an entry point the deploy unit
// serves, with the catalogue's payload; reconcile only when there is a
// Stripe API key to read with.
func TestSchedulesRunTheCatalogueJobs(t *testing.T) {
	t.Parallel()
	var all, keyless []string
	for _, fn := range catalog.Functions {
		for _, j := range fn.Jobs {
			all = append(all, fn.GCPJobsEntryPoint+" "+j.Name)
			if j.Name != "reconcile" {
				keyless = append(keyless, fn.GCPJobsEntryPoint+" "+j.Name)
			}
		}
	}
	if len(keyless) == 0 || len(keyless) == len(all) {
		t.Fatalf("catalogue jobs %v: expected a sweep and a reconcile", all)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{name: "no Stripe key", env: map[string]string{}, want: keyless},
		{name: "Stripe key", env: map[string]string{catalog.SecretStripeAPIKey: "sk_test"}, want: all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, s := range schedules(func(k string) string { return tc.env[k] }) {
				got = append(got, s.name)
				if _, ok := gcp.Set().HTTPHandler(s.entryPoint); !ok {
					t.Errorf("%s: entry point %s is not served", s.name, s.entryPoint)
				}
				if s.every <= 0 || s.payload == "" {
					t.Errorf("%s: every %s, payload %q", s.name, s.every, s.payload)
				}
			}
			if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
				t.Errorf("schedules %v, want %v", got, tc.want)
			}
		})
	}
}
