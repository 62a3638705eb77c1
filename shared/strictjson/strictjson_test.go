package strictjson

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

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

// TestNullOnlyWhereItMeansSomething: encoding/json decodes null into a
// string, number, boolean or struct as nothing at all, the member read as
// left out, so a document typing the member as one of those would be
// read as it is not; null is refused there (wrong_type, with the pointer
// of the member) and taken where it sets a nil pointer, slice, map or
// interface, or where a type decodes it itself.
func TestNullOnlyWhereItMeansSomething(t *testing.T) {
	t.Parallel()
	type inner struct {
		N int `json:"n"`
	}
	type doc struct {
		S     string            `json:"s"`
		N     float64           `json:"n"`
		U     uint8             `json:"u"`
		B     bool              `json:"b"`
		In    inner             `json:"in"`
		Arr   [2]string         `json:"arr"`
		Ptr   *string           `json:"ptr"`
		Slice []inner           `json:"slice"`
		Map   map[string]int    `json:"map"`
		Any   any               `json:"any"`
		Raw   json.RawMessage   `json:"raw"`
		When  time.Time         `json:"when"`
		Items []inner           `json:"items"`
		Names map[string]string `json:"names"`
		Addr  netip.Addr        `json:"addr"`
	}
	for _, tc := range []struct {
		name, data, wantPointer string
		wantMessage             string // part of it
	}{
		{name: "string", data: `{"s":null}`, wantPointer: "/s", wantMessage: "a string"},
		{name: "a type read from a string", data: `{"addr":null}`, wantPointer: "/addr", wantMessage: "a string"},
		{name: "number", data: `{"n" : null}`, wantPointer: "/n", wantMessage: "a number"},
		{name: "small number", data: `{"u":null}`, wantPointer: "/u", wantMessage: "a number"},
		{name: "boolean", data: `{"b":null}`, wantPointer: "/b", wantMessage: "a boolean"},
		{name: "struct", data: `{"in":null}`, wantPointer: "/in", wantMessage: "an object"},
		{name: "array", data: `{"arr":null}`, wantPointer: "/arr", wantMessage: "an array"},
		{name: "member of an element", data: `{"items":[{"n":1},{"n":null}]}`, wantPointer: "/items/1/n"},
		{name: "element of an array", data: `{"arr":["a",null]}`, wantPointer: "/arr/1"},
		{name: "value of a map", data: `{"names":{"a/b":null}}`, wantPointer: "/names/a~1b"},
		{name: "after a string that says null", data: `{"s":"null","b":null}`, wantPointer: "/b"},
		{name: "pointer", data: `{"ptr":null}`},
		{name: "slice", data: `{"slice":null,"items":[]}`},
		{name: "map", data: `{"map":null}`},
		{name: "interface", data: `{"any":null}`},
		{name: "inside an interface", data: `{"any":{"s":null}}`},
		{name: "a type that decodes itself", data: `{"raw":null,"when":null}`},
		{name: "the document", data: `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check([]byte(tc.data), reflect.TypeFor[*doc]())
			if tc.wantPointer == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want no error", tc.data, err)
				}
				return
			}
			e := playback.AsError(err)
			details, _ := e.Details.(map[string]string)
			if e.Code != playback.CodeInvalid || e.Reason != playback.ReasonWrongType || details["pointer"] != tc.wantPointer {
				t.Fatalf("Check(%s) = %v (details %v), want invalid/wrong_type at %q", tc.data, err, e.Details, tc.wantPointer)
			}
			if !strings.Contains(e.Message, tc.wantMessage) {
				t.Fatalf("Check(%s) says %q, want it to say %q", tc.data, e.Message, tc.wantMessage)
			}
			if pointer, err := CheckAt([]byte(tc.data), reflect.TypeFor[*doc]()); pointer != tc.wantPointer || playback.AsError(err).Reason != playback.ReasonWrongType {
				t.Fatalf("CheckAt(%s) = %q, %v, want %q wrong_type", tc.data, pointer, err, tc.wantPointer)
			}
		})
	}
}
