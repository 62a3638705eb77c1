package strictjson

import (
	"reflect"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// TestCheckAtSaysWhere: a refusal names the JSON Pointer of the name
// refused (or of the member whose string is), escaped as RFC 6901 has it,
// and the values skip names are not looked into.
func TestCheckAtSaysWhere(t *testing.T) {
	t.Parallel()
	type item struct {
		ID string `json:"id"`
	}
	type doc struct {
		Items []item         `json:"items"`
		Extra any            `json:"extra"`
		Other map[string]any `json:"other"`
	}
	for _, tc := range []struct {
		name, data  string
		skip        []string
		wantPointer string
		wantReason  string
	}{
		{name: "ok", data: `{"items":[{"id":"a"}],"extra":{"x":1}}`},
		{name: "top name twice", data: `{"items":[],"items":[]}`, wantPointer: "/items", wantReason: playback.ReasonDuplicateField},
		{name: "element name twice", data: `{"items":[{"id":"a"},{"id":"b","id":"c"}]}`, wantPointer: "/items/1/id", wantReason: playback.ReasonDuplicateField},
		{name: "escaped name twice", data: `{"other":{"a/b~":1,"a\/b~":2}}`, wantPointer: "/other/a~1b~0", wantReason: playback.ReasonDuplicateField},
		{name: "case-folded name", data: `{"items":[{"ID":"a"}]}`, wantPointer: "/items/0/ID", wantReason: playback.ReasonUnknownField},
		{name: "string not UTF-8", data: "{\"items\":[{\"id\":\"a\xff\"}]}", wantPointer: "/items/0/id", wantReason: playback.ReasonInvalidUTF8},
		{name: "skipped", data: `{"extra":{"x":1,"x":{"y":"\u00e9\"]}","y":[1,{"z":2,"z":3}]}},"items":[]}`, skip: []string{"/extra"}},
		{name: "after a skipped value", data: `{"extra":{"x":1,"x":2},"items":[],"items":[]}`, skip: []string{"/extra"}, wantPointer: "/items", wantReason: playback.ReasonDuplicateField},
		{name: "skipped scalar", data: `{"extra":12.5e3,"items":[{"id":"a","id":"b"}]}`, skip: []string{"/extra"}, wantPointer: "/items/0/id", wantReason: playback.ReasonDuplicateField},
		{name: "skip elsewhere", data: `{"extra":{"x":1,"x":2}}`, skip: []string{"/other"}, wantPointer: "/extra/x", wantReason: playback.ReasonDuplicateField},
		// A member the caller ignores (catalogfile: readOnly) needs no field.
		{name: "skipped name without a field", data: `{"items":[{"id":"a","load":{"x":1,"x":2}}]}`, skip: []string{"/items/0/load"}},
		{name: "skipped name without a field twice", data: `{"items":[{"load":1,"load":2}]}`, skip: []string{"/items/0/load"},
			wantPointer: "/items/0/load", wantReason: playback.ReasonDuplicateField},
		{name: "name without a field, skip elsewhere", data: `{"items":[{"id":"a"},{"load":1}]}`, skip: []string{"/items/0/load"},
			wantPointer: "/items/1/load", wantReason: playback.ReasonUnknownField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pointer, err := CheckAt([]byte(tc.data), reflect.TypeFor[*doc](), tc.skip...)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("CheckAt = %q, %v, want no error", pointer, err)
				}
				return
			}
			if pointer != tc.wantPointer || playback.AsError(err).Reason != tc.wantReason {
				t.Fatalf("CheckAt = %q, %v, want %q with reason %s", pointer, err, tc.wantPointer, tc.wantReason)
			}
			// Check refuses the same, without saying where.
			if err := Check([]byte(tc.data), reflect.TypeFor[*doc]()); len(tc.skip) == 0 && playback.AsError(err).Reason != tc.wantReason {
				t.Fatalf("Check = %v, want reason %s", err, tc.wantReason)
			}
		})
	}
}
