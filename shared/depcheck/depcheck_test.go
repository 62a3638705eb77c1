package depcheck_test

import (
	"io"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/depcheck"
)

type store interface{ Get() string }

type memStore struct{}

func (*memStore) Get() string { return "" }

type valueStore struct{}

func (valueStore) Get() string { return "" }

func TestNil(t *testing.T) {
	t.Parallel()
	var typedNil *memStore
	var iface store = typedNil
	var nilMap map[string]string
	var nilFunc func()
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{name: "untyped nil", v: nil, want: true},
		{name: "nil interface value", v: store(nil), want: true},
		{name: "typed nil pointer in an interface", v: iface, want: true},
		{name: "typed nil pointer", v: typedNil, want: true},
		{name: "nil map", v: nilMap, want: true},
		{name: "nil func", v: nilFunc, want: true},
		{name: "pointer", v: &memStore{}, want: false},
		{name: "value type", v: valueStore{}, want: false},
		{name: "empty map", v: map[string]string{}, want: false},
		{name: "reader", v: io.Reader(strings.NewReader("")), want: false},
		{name: "zero int", v: 0, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := depcheck.Nil(tc.v); got != tc.want {
				t.Errorf("Nil(%#v) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}
