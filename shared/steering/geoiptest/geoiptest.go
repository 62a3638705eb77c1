// Package geoiptest builds MaxMind DB files for tests, so GeoIP lookups are
// tested against the real reader on data the test makes itself (no database
// can be downloaded here).
package geoiptest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Build returns a MaxMind DB of dbType (e.g. "GeoLite2-City") holding
// records by CIDR, in the layout the caller gives them.
func Build(tb testing.TB, dbType string, records map[string]mmdbtype.Map) []byte {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: true})
	if err != nil {
		tb.Fatal(err)
	}
	for cidr, rec := range records {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Insert(network, rec); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Write builds the database and writes it to dir/<dbType>.mmdb, returning
// the path.
func Write(tb testing.TB, dir, dbType string, records map[string]mmdbtype.Map) string {
	tb.Helper()
	path := filepath.Join(dir, dbType+".mmdb")
	if err := os.WriteFile(path, Build(tb, dbType, records), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
