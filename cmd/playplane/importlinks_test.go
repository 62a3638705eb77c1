package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// linkStops is a store that stops, as a killed import does, at its first
// plain customer link (the import claims the customer pending, writes the
// account naming it, then makes the link plain: SwapCustomerLink): after
// every account was written.
type linkStops struct{ *bolt.Store }

func (s linkStops) SwapCustomerLink(ctx context.Context, customer string, from, to playback.CustomerLink) (bool, error) {
	if to.Pending {
		return s.Store.SwapCustomerLink(ctx, customer, from, to)
	}
	return false, errStopped
}

// TestImportAgainLinksWhatAStoppedImportDidNot: an import writes the
// accounts, then links their payment customers. One stopped in between
// (killed, or its store failed) says that importing again resumes; the
// file's records are then all as written, yet the links must still be
// made, or the customer's payment events never find the account.
func TestImportAgainLinksWhatAStoppedImportDidNot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	const file = `{
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "HD"}],
  "accounts": [{"id": "acct_billed", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_Billed01"}]
}
`
	f, err := catalogfile.Parse("catalogue.json", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := catalogfile.Diff(ctx, store, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalogfile.Apply(ctx, linkStops{store}, plan, "cli:test", time.Now); !errors.Is(err, errStopped) {
		t.Fatalf("the import stopped before its links: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	if out, err := run(t, Config{DataDir: dir, Sync: true}, "import", "--store=bolt", writeFile(t, "catalogue.json", file)); err != nil {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	store, err = bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if id, err := store.AccountIDByCustomer(ctx, "cus_Billed01"); err != nil || id != "acct_billed" {
		t.Errorf("customer cus_Billed01 after importing again: %q, %v; want acct_billed", id, err)
	}
}
