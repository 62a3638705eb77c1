package gcpfn

import "testing"

// TestPlatformResource: a process Cloud Run runs names its platform as the
// resource conventions do, a function (FUNCTION_TARGET, which Google's own
// resource detector reads first) as gcp_cloud_functions, any other
// service as gcp_cloud_run; off the platform (no K_SERVICE: the local
// runner) it names none.
func TestPlatformResource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{name: "function", env: map[string]string{"K_SERVICE": "heartbeat", "K_REVISION": "heartbeat-00002-xyz",
			"K_CONFIGURATION": "heartbeat", "FUNCTION_TARGET": "Heartbeat"},
			want: map[string]string{"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_functions",
				"faas.name": "heartbeat", "faas.version": "heartbeat-00002-xyz"}},
		{name: "service", env: map[string]string{"K_SERVICE": "heartbeat", "K_REVISION": "heartbeat-00002-xyz", "K_CONFIGURATION": "heartbeat"},
			want: map[string]string{"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_run",
				"faas.name": "heartbeat", "faas.version": "heartbeat-00002-xyz"}},
		{name: "local", env: map[string]string{"FUNCTION_TARGET": "Heartbeat"}, want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]string{}
			for _, kv := range platformResource(func(k string) string { return tc.env[k] }) {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			if len(got) != len(tc.want) {
				t.Errorf("resource %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (resource %v)", k, got[k], v, got)
				}
			}
		})
	}
}
