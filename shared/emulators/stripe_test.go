package emulators

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbeStripeMockKnowsAStranger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		header  string
		wantErr bool
	}{
		{name: "stripe-mock", header: "master", wantErr: false},
		{name: "another server on the port", header: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Stripe-Mock-Version", tc.header)
				}
				w.WriteHeader(http.StatusUnauthorized)
			}))
			t.Cleanup(srv.Close)
			err := probeStripeMock(t.Context(), srv.URL)
			if (err != nil) != tc.wantErr {
				t.Fatalf("probeStripeMock: err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
