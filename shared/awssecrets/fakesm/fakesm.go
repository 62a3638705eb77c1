// Package fakesm is a Secrets Manager stand-in for tests: it speaks the
// service's JSON protocol (awsJson1.1: POST /, X-Amz-Target:
// secretsmanager.GetSecretValue, SigV4-signed) on 127.0.0.1, so tests run
// the SDK's own client against it.
package fakesm

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is the stand-in. Set secrets with Put; Down makes it answer 500.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	secrets map[string]string // id (ARN or name) -> value
	version int
	down    bool
	calls   atomic.Int64
}

// New starts a server on 127.0.0.1, closed when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{secrets: map[string]string{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Listener = l
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// Put stores a new version of secret id.
func (s *Server) Put(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = value
	s.version++
}

// Down makes every request fail with a 500 (or not).
func (s *Server) Down(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls counts the requests served.
func (s *Server) Calls() int64 { return s.calls.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, typ, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(http.StatusBadRequest, "InvalidRequestException", "unexpected request "+r.Header.Get("X-Amz-Target"))
		return
	}
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	s.mu.Lock()
	value, ok := s.secrets[in.SecretID]
	down, version := s.down, s.version
	s.mu.Unlock()
	switch {
	case down:
		fail(http.StatusInternalServerError, "InternalServiceError", "down")
	case !ok:
		fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": in.SecretID, "Name": in.SecretID, "SecretString": value,
			"VersionId": "v" + strconv.Itoa(version), "VersionStages": []string{"AWSCURRENT"},
			"CreatedDate": 1.7e9,
		})
	}
}
