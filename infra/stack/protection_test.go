package stack

import (
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// checkProtection checks that every resource holding data a `pulumi
// destroy` or a replacement would lose is protected, or is not, as the
// stack's playplane:deletionProtection says: the DynamoDB table (every
// account, lease and inbox event; before, it had point-in-time recovery
// but no deletion protection), the Firestore database and the BigQuery
// QoE table. Point-in-time recovery stays on either way.
func checkProtection(t *testing.T, d *deployment, on bool) {
	t.Helper()
	state, policy := "DELETE_PROTECTION_DISABLED", "DELETE"
	if on {
		state, policy = "DELETE_PROTECTION_ENABLED", "ABANDON"
	}
	switch d.layout.Store {
	case catalog.StoreDynamo:
		table := d.one(t, "aws:dynamodb/table:Table", d.prefix())
		if got := table.In("deletionProtectionEnabled"); got != on {
			t.Errorf("DynamoDB table deletionProtectionEnabled = %v, want %v", got, on)
		}
		if got := table.In("pointInTimeRecovery", "enabled"); got != true {
			t.Errorf("DynamoDB table pointInTimeRecovery.enabled = %v, want true", got)
		}
	case catalog.StoreFirestore:
		db := d.one(t, "gcp:firestore/database:Database", "(default)")
		if got := db.InStr("deleteProtectionState"); got != state {
			t.Errorf("Firestore deleteProtectionState = %q, want %q", got, state)
		}
		if got := db.InStr("deletionPolicy"); got != policy {
			t.Errorf("Firestore deletionPolicy = %q, want %q", got, policy)
		}
		if got := db.InStr("pointInTimeRecoveryEnablement"); got != "POINT_IN_TIME_RECOVERY_ENABLED" {
			t.Errorf("Firestore pointInTimeRecoveryEnablement = %q", got)
		}
	default:
		t.Fatalf("store %q", d.layout.Store)
	}
	for _, table := range d.mock.OfType("gcp:bigquery/table:Table") {
		if got := table.In("deletionProtection"); got != on {
			t.Errorf("BigQuery table %s deletionProtection = %v, want %v", table.Name, got, on)
		}
	}
}

func TestStatefulResourcesAreProtected(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) { checkProtection(t, d, true) })
}

// TestDeletionProtectionCanBeTurnedOff: a dev stack sets
// playplane:deletionProtection to false, so that `pulumi destroy` removes
// it whole; a value that is no boolean stops the deployment rather than
// leave the data unprotected.
func TestDeletionProtectionCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	for _, l := range Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(l.Name)
			config["playplane:deletionProtection"] = "false"
			d, err := deploy(t, l.Name, config)
			if err != nil {
				t.Fatal(err)
			}
			checkProtection(t, d, false)
		})
	}
	config := baseConfig("aws")
	config["playplane:deletionProtection"] = "off-ish"
	if _, err := deploy(t, "aws", config); err == nil || !strings.Contains(err.Error(), "playplane:deletionProtection") {
		t.Fatalf("deletionProtection off-ish: %v, want an error naming the key", err)
	}
}
