package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strconv"
	"sync"
)

// TimestampedMACs checks HMAC-SHA256 signatures of "timestamp.body" — how
// Stripe signs webhooks and edges sign health reports — under a set of keys
// (several during a key roll). Keyed states are reused, so a check costs two
// SHA-256 passes per key and no key schedule.
type TimestampedMACs struct {
	pools []*sync.Pool
}

// NewTimestampedMACs holds keys.
func NewTimestampedMACs(keys ...[]byte) *TimestampedMACs {
	m := &TimestampedMACs{pools: make([]*sync.Pool, len(keys))}
	for i, key := range keys {
		m.pools[i] = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	return m
}

// Match reports whether one of sigs is the MAC of ts "." body under one of
// the keys. A nil set matches nothing.
func (m *TimestampedMACs) Match(ts int64, body []byte, sigs [][sha256.Size]byte) bool {
	if m == nil {
		return false
	}
	var prefix [24]byte
	signed := strconv.AppendInt(prefix[:0], ts, 10)
	signed = append(signed, '.')
	var sum [sha256.Size]byte
	for _, pool := range m.pools {
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write(signed)
		mac.Write(body)
		got := mac.Sum(sum[:0])
		pool.Put(mac)
		for i := range sigs {
			if hmac.Equal(got, sigs[i][:]) {
				return true
			}
		}
	}
	return false
}
