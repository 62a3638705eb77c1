package localedge

import (
	"reflect"
	"testing"
)

// TestParseCMCDKeys: every key RFC 8941 allows is read, CTA-5004's
// custom keys among them (a reverse-domain prefix then '-', as
// "com.example-myNumericKey" in the spec, lowercase on the wire since
// RFC 8941 keys are), and a pair whose key RFC 8941 refuses is skipped.
func TestParseCMCDKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, list string
		want       map[string]any
	}{
		{"reverse-domain custom key", `br=3200,com.example-mynumerickey=500,ot=v`,
			map[string]any{"br": int64(3200), "com.example-mynumerickey": int64(500), "ot": "v"}},
		{"custom string and flag", `com.example-mystringkey="x",org.cta-flag`,
			map[string]any{"com.example-mystringkey": "x", "org.cta-flag": true}},
		{"underscore and star", `x_y=1,*k=2`, map[string]any{"x_y": int64(1), "*k": int64(2)}},
		{"keys RFC 8941 refuses", `Br=1,1x=2,-k=3,a b=4,br=5`, map[string]any{"br": int64(5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]any{}
			parseCMCD(tc.list, got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseCMCD(%q) = %v, want %v", tc.list, got, tc.want)
			}
		})
	}
}

// TestParseCMCDValues: values are read by RFC 8941's grammar. The tokens
// inf and nan are tokens (strconv would read them as floats, which the JSON
// access log cannot hold: the line's whole cmcd group became an error),
// ?0 and ?1 are booleans, and only ["-"] DIGITS ["." DIGITS] is a number.
func TestParseCMCDValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, list string
		want       map[string]any
	}{
		{"inf and nan tokens", `com.example-a=inf,com.example-b=NaN,br=3200`,
			map[string]any{"com.example-a": "inf", "com.example-b": "NaN", "br": int64(3200)}},
		{"booleans", `bs=?0,su=?1,bg`, map[string]any{"bs": false, "su": true, "bg": true}},
		{"numbers", `pr=1.25,x=-2,y=-0.5,d=4004`, map[string]any{"pr": 1.25, "x": int64(-2), "y": -0.5, "d": int64(4004)}},
		{"not RFC 8941 numbers", `a=1e3,b=+5,c=0x10`, map[string]any{"a": "1e3", "b": "+5", "c": "0x10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]any{}
			parseCMCD(tc.list, got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseCMCD(%q) = %#v, want %#v", tc.list, got, tc.want)
			}
		})
	}
}
