package openapi_test

import (
	"slices"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// runnerOperations are the documented operations only the local runners
// serve (tag runner); no cloud routes them, so they are no catalogue
// routes. What else the runner mounts (the player page, /dev/*, the CDN
// stand-in) is not API and not documented: cmd/playplane's
// TestRunnerServesTheDocumentedRoutes holds the runner's mux to the
// document and that list.
var runnerOperations = []string{"GET /healthz", "GET " + openapi.Path}

// catalogueSecurity is the security requirement each catalogue Auth kind
// is documented with (an operation may offer more alternatives, such as
// steering's token in the query).
var catalogueSecurity = map[catalog.Auth][]string{
	catalog.AuthJWT:                {"callerJWT"},
	catalog.AuthPlaybackToken:      {"playbackToken"},
	catalog.AuthManifestCredential: {"manifestCredential"},
	catalog.AuthCMCDCredential:     {}, // in the path, which no security scheme can name
	catalog.AuthStripeSignature:    {"stripeSignature"},
	catalog.AuthEdgeHMAC:           {"edgeID", "edgeSignature"},
	catalog.AuthAdminJWT:           {"adminJWT"},
}

// TestDocumentCoversEveryRoute keeps the document and the catalogue, the
// table the clouds' routes are built from, in step: the operations are
// exactly the catalogue's routes and the runner's own operations (those
// marked x-lands-with, described before their branch is merged, aside);
// each
// catalogue route is documented with the security scheme of its Auth kind,
// each runner operation is tagged runner and no catalogue route is. That
// each function mounts its catalogue routes is cmd/playplane's
// TestFunctionsServeWhatTheCatalogueDeploys; that the runner serves every
// operation and nothing undocumented besides its pages is
// TestRunnerMountsEveryOperation and TestRunnerServesTheDocumentedRoutes.
func TestDocumentCoversEveryRoute(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]*openapitest.Operation{}
	pending := map[string]string{}
	var documented []string
	for _, o := range spec.Operations() {
		if b := o.LandsWith(); b != "" {
			pending[o.Key()] = b
			continue
		}
		ops[o.Key()] = o
		documented = append(documented, o.Key())
	}
	slices.Sort(documented)

	want := slices.Clone(runnerOperations)
	for _, fn := range catalog.Functions {
		for _, r := range fn.Routes {
			if b, ok := pending[r.Key()]; ok {
				t.Errorf("%s is in the catalogue: drop its x-lands-with %q mark", r.Key(), b)
			}
			want = append(want, r.Key())
			op, ok := ops[r.Key()]
			if !ok {
				continue // reported below
			}
			if slices.Contains(op.Tags(), "runner") {
				t.Errorf("%s (%s) is tagged runner, but the catalogue deploys it", r.Key(), fn.Name)
			}
			scheme, ok := catalogueSecurity[r.Auth]
			if !ok {
				t.Errorf("%s: catalogue Auth %q has no security scheme in this test's table", r.Key(), r.Auth)
				continue
			}
			if !slices.ContainsFunc(op.Security(), func(names []string) bool { return slices.Equal(names, scheme) }) {
				t.Errorf("%s: the catalogue says %s, the document's security is %q, want one requirement of %q", r.Key(), r.Auth, op.Security(), scheme)
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(documented, want) {
		t.Errorf("the document has\n  %q\nthe catalogue routes and the runner's operations are\n  %q", documented, want)
	}
	for _, key := range runnerOperations {
		if op, ok := ops[key]; ok && !slices.Contains(op.Tags(), "runner") {
			t.Errorf("%s is the runner's own, but not tagged runner", key)
		}
	}
}
