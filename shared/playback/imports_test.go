package playback_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// transportViolations lists what pkg depends on, directly or not, that a
// domain package must not: a transport (net/http and below, net/url, net
// itself) or anything outside the standard library but pkg itself. It
// reads the import graph from `go list -deps -json`, as the build sees it.
func transportViolations(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.Bytes())
	}
	var bad []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Standard   bool
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		transport := p.ImportPath == "net" || p.ImportPath == "net/url" || p.ImportPath == "net/http" ||
			strings.HasPrefix(p.ImportPath, "net/http/")
		if transport || (!p.Standard && p.ImportPath != pkg) {
			bad = append(bad, p.ImportPath)
		}
	}
	if len(bad) == 0 && !bytes.Contains(out, []byte(`"`+pkg+`"`)) {
		t.Fatalf("go list -deps %s did not list the package itself:\n%s", pkg, out)
	}
	return bad
}

// TestDomainKnowsNoTransport holds the domain to its rule: types, ports
// and error codes, no HTTP. Status mapping, request URLs and cookies live
// in httpx and the adapters. The second case proves the check sees an
// HTTP dependency when there is one.
func TestDomainKnowsNoTransport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pkg string
		want      string // a dependency that must be reported; "" for none at all
	}{
		{name: "domain", pkg: "github.com/playplane/playplane/shared/playback"},
		{name: "http edge", pkg: "github.com/playplane/playplane/shared/httpx", want: "net/http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := transportViolations(t, tc.pkg)
			switch {
			case tc.want == "" && len(bad) > 0:
				t.Fatalf("%s depends on %v; keep transports and adapters out of the domain", tc.pkg, bad)
			case tc.want != "" && !slices.Contains(bad, tc.want):
				t.Fatalf("%s: violations %v, want %s among them", tc.pkg, bad, tc.want)
			}
		})
	}
}
