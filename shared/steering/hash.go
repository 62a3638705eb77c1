package steering

import "math"

// hashString is FNV-1a finished with the SplitMix64 mixer. Rendezvous
// hashing needs a hash that is the same in every process (every Lambda or
// Cloud Functions instance must send a title's viewers to the same caches),
// which rules out hash/maphash and its per-process seed.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the SplitMix64 finalizer: every input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// rendezvousScore is the weighted highest-random-weight score of a title on
// an edge (Schindelhauer and Schomaker's logarithmic method): each edge wins
// a share of titles proportional to its weight, and removing an edge moves
// only the titles it was winning.
func rendezvousScore(titleHash, edgeSeed uint64, weight float64) float64 {
	h := mix64(titleHash ^ edgeSeed)
	u := (float64(h>>11) + 0.5) / (1 << 53) // uniform in (0, 1), never 0 or 1
	return weight / -math.Log(u)
}
