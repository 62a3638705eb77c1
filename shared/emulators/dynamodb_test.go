package emulators

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The probe is ready only on a ListTables answer; the real server's answer
// is checked by TestDynamoDB through the SDK.
func TestProbeDynamoDBWantsAListTablesAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr bool
	}{
		{name: "ready", status: http.StatusOK, body: `{"TableNames":[]}`, wantErr: false},
		{name: "ready with tables", status: http.StatusOK, body: `{"TableNames":["t"],"LastEvaluatedTableName":"t"}`, wantErr: false},
		{name: "not ready yet", status: http.StatusInternalServerError, body: `{"__type":"InternalFailure"}`, wantErr: true},
		{name: "another server on the port", status: http.StatusOK, body: `<html></html>`, wantErr: true},
		{name: "another JSON server", status: http.StatusOK, body: `{}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.ListTables" || r.Header.Get("Authorization") == "" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			err := probeDynamoDB(t.Context(), srv.URL)
			if (err != nil) != tc.wantErr {
				t.Fatalf("probeDynamoDB: err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
