package playback

import (
	"testing"
	"time"
)

// TestAuditIDsListInTheOrderWritten: records written one after the other
// at one time (a clock read to the millisecond, as the admin API's
// writes are stamped) list newest first by id in the order they were
// written; a random tie-breaker put two of them in either order, which
// the store contract's AdminAtomicAudit met about one run in five.
func TestAuditIDsListInTheOrderWritten(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	earlier := AuditID(at.Add(-time.Millisecond))
	prev := AuditID(at)
	if earlier >= prev {
		t.Fatalf("an id at an earlier time %q sorts after %q", earlier, prev)
	}
	for i := range 1000 {
		id := AuditID(at)
		if id <= prev {
			t.Fatalf("id %d at the same time %q sorts before the one written before it %q", i, id, prev)
		}
		prev = id
	}
	if later := AuditID(at.Add(time.Nanosecond)); later <= prev {
		t.Fatalf("an id at a later time %q sorts before %q", later, prev)
	}
	// Time first: a record at an earlier time written later still lists
	// as older (an import stamped with its file's time).
	if late := AuditID(at.Add(-time.Nanosecond)); late >= prev {
		t.Fatalf("an id at an earlier time written later %q sorts after %q", late, prev)
	}
}
