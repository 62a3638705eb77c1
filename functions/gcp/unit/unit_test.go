package unit

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpfn"
)

// A catalogue function without a builder, or a builder without a
// catalogue function, is refused by name.
func TestSpecsPairEveryFunctionWithABuilder(t *testing.T) {
	t.Parallel()
	build := func(context.Context, fnenv.Env) (gcpfn.Function, error) { return nil, nil }
	one := []catalog.Function{{Name: "one", GCPEntryPoint: "One"}}
	for _, tc := range []struct {
		name     string
		builders map[string]gcpfn.Builder
		want     string
	}{
		{name: "paired", builders: map[string]gcpfn.Builder{"one": build}},
		{name: "no builder", builders: map[string]gcpfn.Builder{}, want: "catalogue function one has no builder"},
		{name: "no function", builders: map[string]gcpfn.Builder{"one": build, "two": build}, want: "builder two has no catalogue function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			specs, err := Specs(one, tc.builders)
			switch {
			case tc.want == "" && (err != nil || len(specs) != 1 || specs[0].HTTP != "One"):
				t.Errorf("Specs = %+v, %v", specs, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Specs error %v, want %q", err, tc.want)
			}
		})
	}
}

// A unit of one function deploys that function's catalogue entry, with
// all its entry points (HTTP, consumers, jobs), and no other.
func TestDeployedIsTheBuildersCatalogueEntries(t *testing.T) {
	t.Parallel()
	build := func(context.Context, fnenv.Env) (gcpfn.Function, error) { return nil, nil }
	for _, tc := range []struct {
		name     string
		builders []string
	}{
		{name: "one function", builders: []string{"paymentwebhook"}},
		{name: "two, not in catalogue order", builders: []string{"admin", "authorizeplay"}},
		{name: "an unknown builder is left to Specs", builders: []string{"heartbeat", "drm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			builders := map[string]gcpfn.Builder{}
			for _, n := range tc.builders {
				builders[n] = build
			}
			var got, want []string
			for _, fn := range Deployed(builders) {
				got = append(got, fn.Name)
			}
			for _, fn := range catalog.Functions {
				if slices.Contains(tc.builders, fn.Name) {
					want = append(want, fn.Name)
				}
			}
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("Deployed(%v) = %v, want %v", tc.builders, got, want)
			}
			specs, err := Specs(Deployed(builders), builders)
			if unknown := len(want) < len(tc.builders); unknown != (err != nil) {
				t.Errorf("Specs error %v with builders %v", err, tc.builders)
			}
			if err == nil {
				if _, err := gcpfn.NewSet(gcpfn.NewResources(gcpfn.Options{}), specs...); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
