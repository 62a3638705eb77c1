package playback

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// AppendJSON writes what json.Marshal writes.
func TestAuditAppendJSONIsJSONMarshal(t *testing.T) {
	t.Parallel()
	title, err := NewChange(KindTitle, Title{ID: "t", Name: "<Été> & \"co\"", AssetPath: "/t/", Manifest: "m"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 23, 0, 0, 123, time.FixedZone("X", -5*3600))
	for _, tc := range []struct {
		name string
		rec  AuditRecord
	}{
		{name: "empty", rec: AuditRecord{}},
		{name: "no changes", rec: AuditRecord{ID: "a", Actor: "cli:ops", At: at, Changes: []AuditChange{}}},
		{name: "create and update", rec: AuditRecord{ID: AuditID(at), Actor: "admin <ops@example.com>\n\u2028\xff", At: at, Changes: []AuditChange{
			{Kind: KindTitle, ID: "t", Op: OpCreate, After: title.Doc, Version: "v1"},
			{Kind: KindPlan, ID: "p&q", Op: OpUpdate, Before: json.RawMessage(" {\"id\" : \"p&q\",\n \"name\": \"<b>\"}"),
				After: json.RawMessage(`{"id":"p\u0026q"}`), Version: "2"},
			{Kind: KindEdge, ID: "e", Op: OpDelete, Before: json.RawMessage(`{"id":"e"}`)},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.rec.AppendJSON([]byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[1:], want) || got[0] != 'x' {
				t.Fatalf("AppendJSON\n%s\njson.Marshal\n%s", got, want)
			}
		})
	}
	bad := AuditRecord{ID: "a", Changes: []AuditChange{{Kind: KindPlan, ID: "p", Op: OpUpdate, Before: json.RawMessage(`{"id":`)}}}
	if _, err := bad.AppendJSON(nil); err == nil {
		t.Fatal("a stored document that is not JSON went into the audit record")
	}
}
