package dialtest

import (
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestDials(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if !Dials(addr) || !AcceptedEvery(addr, 2) {
		t.Fatalf("%s listens but was not dialled", addr)
	}
	ln.Close()
	if AcceptedEvery(addr, 3) {
		t.Fatalf("%s is closed but accepted every dial", addr)
	}
}

// TestOnlyTestsImportIt: the emulators' production packages do not import
// test support.
func TestOnlyTestsImportIt(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/playplane/playplane/shared/emulators/internal/dialtest"
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if slices.Contains(strings.Fields(imports), self) {
			t.Errorf("%s imports %s outside its tests", pkg, self)
		}
	}
}
