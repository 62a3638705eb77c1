// Package memo is a concurrent map of bounded size for memos whose misses
// cost only a store read (a lease's last known version, a cached lease): a
// full memo first drops what the caller says is stale, then everything,
// rather than tracking recency on every hit.
package memo

import "sync"

// Map is safe for concurrent use. The zero Map is not usable; use New.
type Map[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

// New returns a Map holding at most max entries (max > 0).
func New[V any](max int) *Map[V] {
	if max <= 0 {
		panic("memo.New: max must be positive")
	}
	return &Map[V]{max: max, m: make(map[string]V)}
}

// Get returns the value kept for key.
func (m *Map[V]) Get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[key]
	return v, ok
}

// Put keeps v for key. A new key on a full Map first drops the entries
// stale reports (stale may be nil), and if the Map is still full, all.
func (m *Map[V]) Put(key string, v V, stale func(V) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[key]; !ok && len(m.m) >= m.max {
		if stale != nil {
			for k, old := range m.m {
				if stale(old) {
					delete(m.m, k)
				}
			}
		}
		if len(m.m) >= m.max {
			clear(m.m)
		}
	}
	m.m[key] = v
}

// Delete forgets key.
func (m *Map[V]) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
}

// Len is how many entries the Map holds.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
