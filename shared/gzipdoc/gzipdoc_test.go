package gzipdoc

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    any
	}{
		{name: "object", v: map[string]any{"actor": "ops", "changes": []any{map[string]any{"id": "p1"}}}},
		{name: "empty", v: map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z, err := Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := Decompress(z)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tc.v)
			if !bytes.Equal(raw, want) {
				t.Fatalf("round trip gave %s, want %s", raw, want)
			}
		})
	}
	if _, err := Decompress([]byte("not gzip")); err == nil {
		t.Fatal("Decompress accepted bytes that are not gzip")
	}
}
