package catalogfile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestImportLinksACustomerToOneAccount: a file linking a customer that a
// stored account the file leaves out names is refused at that account's
// customer_id, naming the other account and
// playback.ReasonCustomerLinkedElsewhere, and nothing is planned (a dry
// run shows the problem): before, Apply overwrote the customer's link,
// and the stored account kept customer_id, managed_in_stripe and deaf to
// the customer's events. A file naming the customer on the account that
// has it, or moving it between the file's own accounts, imports.
func TestImportLinksACustomerToOneAccount(t *testing.T) {
	t.Parallel()
	const stored = `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`
	for _, tc := range []struct {
		name     string
		accounts string // replaces acct_a in goodJSON
		refused  bool
		linked   string // the account cus_a resolves to after the import
	}{
		{name: "another account", accounts: `{"id": "acct_b", "plan_id": "basic", "territory": "DE", "customer_id": "cus_a"}`, refused: true},
		{name: "the same account", accounts: stored, linked: "acct_a"},
		{name: "moved within the file",
			accounts: `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "customer_id": "cus_z"}, {"id": "acct_b", "plan_id": "basic", "territory": "DE", "customer_id": "cus_a"}`,
			linked:   "acct_b"},
		{name: "moved within the file, the taker first",
			accounts: `{"id": "acct_b", "plan_id": "basic", "territory": "DE", "customer_id": "cus_a"}, {"id": "acct_a", "plan_id": "basic", "territory": "DE", "customer_id": "cus_z"}`,
			linked:   "acct_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openBolt(t)
			f, err := Parse("c.json", []byte(goodJSON))
			if err != nil {
				t.Fatal(err)
			}
			importFile(t, s, f) // acct_a: cus_a
			g, err := Parse("c.json", []byte(strings.Replace(goodJSON, stored, tc.accounts, 1)))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Diff(ctx, s, g)
			if !tc.refused {
				if err != nil {
					t.Fatalf("Diff = %v, want a plan", err)
				}
				// The link is conditional (a customer another account
				// holds is refused): one the file's account no longer
				// names moves.
				if _, err := Apply(ctx, s, plan, "cli:test", time.Now); err != nil {
					t.Fatalf("Apply = %v", err)
				}
				if got, err := s.AccountIDByCustomer(ctx, "cus_a"); err != nil || got != tc.linked {
					t.Fatalf("cus_a resolves to %q (%v), want %s", got, err, tc.linked)
				}
				return
			}
			var inv *Invalid
			if !errors.As(err, &inv) || len(inv.Problems) != 1 {
				t.Fatalf("Diff of a file linking acct_a's cus_a to acct_b = %v, %d change(s), links %v; want refused", err, len(plan.Changes), plan.Links)
			}
			p := inv.Problems[0]
			if p.Pointer != "/accounts/0/customer_id" || !strings.Contains(p.Message, `"acct_a"`) ||
				!strings.Contains(p.Message, playback.ReasonCustomerLinkedElsewhere) {
				t.Fatalf("problem %+v, want one at acct_b's customer_id naming acct_a and %s", p, playback.ReasonCustomerLinkedElsewhere)
			}
		})
	}
}
