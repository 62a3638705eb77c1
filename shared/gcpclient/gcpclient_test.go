package gcpclient

import (
	"strings"
	"testing"
)

// Only "false" (or another strconv.ParseBool false) turns the libraries'
// telemetry off; unset, true or a value the stack would refuse keep their
// default, the last with an error naming the variable.
func TestReadTelemetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		off         bool
		wantErr     string
	}{
		{name: "unset"},
		{name: "true", value: "true"},
		{name: "false", value: "false", off: true},
		{name: "typo", value: "off", wantErr: EnvTelemetry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, err := ReadTelemetry(func(name string) (string, bool) {
				if name != EnvTelemetry || tc.value == "" {
					return "", false
				}
				return tc.value, true
			})
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if off := len(tel.ClientOptions) > 0 && len(tel.SilentTracers) > 0; off != tc.off ||
				(!off && (len(tel.ClientOptions) > 0 || len(tel.SilentTracers) > 0)) {
				t.Errorf("%+v, want off %v", tel, tc.off)
			}
		})
	}
}
