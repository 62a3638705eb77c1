package memo_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/playplane/playplane/shared/memo"
)

func TestMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		max     int
		puts    []int
		stale   func(int) bool
		wantLen int
		kept    []int
		dropped []int
	}{
		{name: "under the bound keeps everything", max: 3, puts: []int{1, 2, 3}, wantLen: 3, kept: []int{1, 2, 3}},
		{name: "a new key on a full map without a stale rule clears it", max: 3, puts: []int{1, 2, 3, 4}, wantLen: 1, kept: []int{4}, dropped: []int{1, 2, 3}},
		{name: "a full map drops the stale entries first", max: 3, puts: []int{1, 2, 3, 4}, stale: func(v int) bool { return v%2 == 1 },
			wantLen: 2, kept: []int{2, 4}, dropped: []int{1, 3}},
		{name: "a full map whose entries are all fresh clears", max: 2, puts: []int{2, 4, 6}, stale: func(v int) bool { return v > 100 },
			wantLen: 1, kept: []int{6}, dropped: []int{2, 4}},
		{name: "replacing a key on a full map drops nothing", max: 2, puts: []int{1, 2, 2}, wantLen: 2, kept: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := memo.New[int](tt.max)
			for _, v := range tt.puts {
				m.Put(strconv.Itoa(v), v, tt.stale)
			}
			if got := m.Len(); got != tt.wantLen {
				t.Errorf("Len = %d, want %d", got, tt.wantLen)
			}
			for _, v := range tt.kept {
				if got, ok := m.Get(strconv.Itoa(v)); !ok || got != v {
					t.Errorf("Get(%d) = %d, %v; want kept", v, got, ok)
				}
			}
			for _, v := range tt.dropped {
				if _, ok := m.Get(strconv.Itoa(v)); ok {
					t.Errorf("Get(%d) found; want dropped", v)
				}
			}
		})
	}
}

func TestMapDeleteAndConcurrentUse(t *testing.T) {
	t.Parallel()
	m := memo.New[int](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := strconv.Itoa(g*1000 + i)
				m.Put(k, i, nil)
				if _, ok := m.Get(k); !ok {
					t.Errorf("Get(%s) right after Put missed", k)
				}
				m.Delete(k)
			}
		})
	}
	wg.Wait()
	if got := m.Len(); got != 0 {
		t.Errorf("Len after deleting every key = %d, want 0", got)
	}
}
