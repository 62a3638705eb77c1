// Package tokentest is a Google OAuth2 token endpoint for tests: a
// loopback server that takes the JWT-bearer grant a service account's
// credentials send (RFC 7523, what Google's token endpoint takes),
// checks the assertion's signature with the account's public key, its
// audience and its scope, and answers a bearer token of its own making.
// CredentialsFile writes the service account key file whose token_uri is
// this server, so Google's own auth library (cloud.google.com/go/auth)
// fetches its tokens here; the real endpoint is not reachable from tests.
package tokentest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Account is the service account the key file is for.
const Account = "playplane-fn@playplane-test.iam.gserviceaccount.com"

// Server is a token endpoint.
type Server struct {
	srv *httptest.Server
	key *rsa.PrivateKey

	mu      sync.Mutex
	issued  []string
	refused []string
}

// Start serves a token endpoint until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{key: key}
	s.srv = httptest.NewServer(http.HandlerFunc(s.token))
	t.Cleanup(s.srv.Close)
	return s
}

// TokenURL is the endpoint's address, the key file's token_uri.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// Issued are the access tokens answered so far, in order.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// Refused are the reasons of the requests refused so far.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

// CredentialsFile writes the service account's key file in a temporary
// directory of t and returns its path.
func (s *Server) CredentialsFile(t testing.TB, project string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": "tokentest-key",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   Account,
		"client_id":      "1",
		"token_uri":      s.TokenURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	claims, err := s.check(r)
	if err != nil {
		s.mu.Lock()
		s.refused = append(s.refused, err.Error())
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": err.Error()})
		return
	}
	s.mu.Lock()
	tok := fmt.Sprintf("tokentest-%d-%s", len(s.issued)+1, claims.Scope)
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

type claims struct {
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
	Scope string `json:"scope"`
}

// check verifies the grant and returns the assertion's claims.
func (s *Server) check(r *http.Request) (claims, error) {
	var c claims
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		return c, fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if err := r.ParseForm(); err != nil {
		return c, err
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return c, fmt.Errorf("grant_type %q", g)
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("assertion has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return c, fmt.Errorf("signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	if c.Iss != Account || c.Aud != s.TokenURL() || c.Scope == "" {
		return c, fmt.Errorf("claims %+v", c)
	}
	return c, nil
}
