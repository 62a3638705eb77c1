package firehose_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/playplane/playplane/shared/firehose"
	"github.com/playplane/playplane/shared/playback"
)

// fakeFirehose answers PutRecordBatch as the service does, refusing the
// records whose data contains failOnce the first time it sees them.
type fakeFirehose struct {
	mu       sync.Mutex
	calls    int
	records  [][]byte
	failOnce string
	failed   map[string]bool
	status   int
}

func (f *fakeFirehose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "Firehose_20150804.PutRecordBatch" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/firehose/aws4_request") ||
		r.Header.Get("X-Amz-Date") == "" {
		http.Error(w, `{"__type":"InvalidSignatureException"}`, http.StatusBadRequest)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"__type":"ServiceUnavailableException","message":"slow down"}`)
		return
	}
	var req struct {
		DeliveryStreamName string
		Records            []struct{ Data []byte }
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil || req.DeliveryStreamName != "playplane-aws-heartbeats" {
		http.Error(w, `{"__type":"ResourceNotFoundException"}`, http.StatusBadRequest)
		return
	}
	type resp struct {
		RecordID  string `json:"RecordId,omitempty"`
		ErrorCode string `json:"ErrorCode,omitempty"`
	}
	out := struct {
		FailedPutCount   int
		RequestResponses []resp
	}{}
	for i, rec := range req.Records {
		if f.failOnce != "" && bytes.Contains(rec.Data, []byte(f.failOnce)) && !f.failed[string(rec.Data)] {
			f.failed[string(rec.Data)] = true
			out.FailedPutCount++
			out.RequestResponses = append(out.RequestResponses, resp{ErrorCode: "ServiceUnavailableException"})
			continue
		}
		f.records = append(f.records, rec.Data)
		out.RequestResponses = append(out.RequestResponses, resp{RecordID: fmt.Sprint(i)})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func newSink(t *testing.T, f *fakeFirehose) *firehose.Sink {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := firehose.New(firehose.Config{Stream: "playplane-aws-heartbeats", Endpoint: srv.URL, Timeout: 5 * time.Minute},
		aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func messages(n, size int) []playback.Message {
	out := make([]playback.Message, n)
	for i := range out {
		data := fmt.Sprintf(`{"session_id":"s%d","pad":%q}`, i, strings.Repeat("x", size))
		out[i] = playback.Message{ID: fmt.Sprint(i), Data: []byte(data)}
	}
	return out
}

func TestForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		msgs      []playback.Message
		failOnce  string
		wantCalls int
	}{
		{name: "one batch", msgs: messages(3, 10), wantCalls: 1},
		{name: "split at 500 records", msgs: messages(1201, 10), wantCalls: 3},
		{name: "split at 4 MiB", msgs: messages(6, 900<<10), wantCalls: 2},
		{name: "refused records are sent again", msgs: messages(5, 10), failOnce: `"s3"`, wantCalls: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeFirehose{failOnce: tc.failOnce, failed: map[string]bool{}}
			if err := newSink(t, f).Forward(t.Context(), tc.msgs); err != nil {
				t.Fatal(err)
			}
			if f.calls != tc.wantCalls || len(f.records) != len(tc.msgs) {
				t.Fatalf("%d calls, %d records; want %d calls, %d records", f.calls, len(f.records), tc.wantCalls, len(tc.msgs))
			}
			seen := map[string]bool{}
			for _, r := range f.records {
				if !bytes.HasSuffix(r, []byte("}\n")) || bytes.Count(r, []byte("\n")) != 1 {
					t.Fatalf("record %.40q is not one JSON line", r)
				}
				seen[string(r)] = true
			}
			for _, m := range tc.msgs {
				if !seen[string(m.Data)+"\n"] {
					t.Fatalf("message %s not delivered", m.ID)
				}
			}
		})
	}
}

func TestForwardFailures(t *testing.T) {
	t.Parallel()
	t.Run("service unavailable is retryable", func(t *testing.T) {
		t.Parallel()
		err := newSink(t, &fakeFirehose{status: http.StatusServiceUnavailable}).Forward(t.Context(), messages(1, 1))
		if !playback.IsCode(err, playback.CodeUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a record over the limit sends nothing", func(t *testing.T) {
		t.Parallel()
		f := &fakeFirehose{}
		err := newSink(t, f).Forward(t.Context(), messages(2, firehose.MaxRecordBytes))
		if !playback.IsCode(err, playback.CodeTooLarge) || f.calls != 0 {
			t.Fatalf("err %v after %d calls", err, f.calls)
		}
	})
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		if _, err := firehose.New(firehose.Config{}, aws.Config{Region: "eu-west-1"}); err == nil {
			t.Fatal("no stream accepted")
		}
	})
}
