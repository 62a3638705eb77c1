package membus

import (
	"testing"
	"time"
)

func TestRetryDelayBacksOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want []time.Duration // after attempts 1, 2, ...
	}{
		{"defaults", Config{}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"capped", Config{RetryDelay: time.Millisecond, MaxRetryDelay: 3 * time.Millisecond},
			[]time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond}},
		{"fixed", Config{RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
			[]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}},
		{"cap below the delay", Config{RetryDelay: 5 * time.Millisecond, MaxRetryDelay: time.Millisecond},
			[]time.Duration{5 * time.Millisecond, 5 * time.Millisecond}},
		{"no overflow far out", Config{RetryDelay: time.Hour, MaxRetryDelay: 1<<63 - 1},
			[]time.Duration{time.Hour, 2 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.defaults()
			for i, want := range tc.want {
				if got := cfg.retryDelay(i + 1); got != want {
					t.Errorf("retryDelay(%d) = %s, want %s", i+1, got, want)
				}
			}
			if got := cfg.retryDelay(200); got != cfg.MaxRetryDelay {
				t.Errorf("retryDelay(200) = %s, want the cap %s", got, cfg.MaxRetryDelay)
			}
		})
	}
}
