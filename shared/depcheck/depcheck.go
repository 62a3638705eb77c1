// Package depcheck tells a constructor whether a dependency it was handed
// can be used. A Deps field is an interface, and an interface holding a nil
// pointer is not == nil: a getter that returned (*dynamo.Store)(nil) would
// pass a `deps.Store == nil` check and fail on the first request instead of
// at build time.
package depcheck

import "reflect"

// Nil reports whether v is nil or an interface holding a nil pointer, map,
// slice, func, channel or interface.
func Nil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
