package dynamo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// cancelFirstTx answers the first n TransactWriteItems calls with a
// TransactionCanceledException carrying codes, as DynamoDB does when a
// transaction meets another one or is throttled; every other call goes to
// DynamoDB Local.
type cancelFirstTx struct {
	codes []string
	left  atomic.Int32
}

func (c *cancelFirstTx) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".TransactWriteItems") && c.left.Add(-1) >= 0 {
		reasons := make([]string, len(c.codes))
		for i, code := range c.codes {
			reasons[i] = fmt.Sprintf(`{"Code":%q}`, code)
		}
		body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [%s]","CancellationReasons":[%s]}`,
			strings.Join(c.codes, ", "), strings.Join(reasons, ","))
		return &http.Response{StatusCode: 400, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Errortype": {"TransactionCanceledException"}},
			Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// storeCancelling is newStore whose first n transactions are cancelled with codes.
func storeCancelling(t *testing.T, n int32, codes ...string) (*Store, *cancelFirstTx) {
	t.Helper()
	base := newStore(t)
	inject := &cancelFirstTx{codes: codes}
	inject.left.Store(n)
	c := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(localEndpoint(t)),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1, HTTPClient: &http.Client{Transport: inject},
	})
	s, err := New(context.Background(), Config{Table: base.table}, c)
	if err != nil {
		t.Fatal(err)
	}
	return s, inject
}

// TestCoverageZonesConflictIsNoPrecondition: a transaction cancelled by a
// TransactionConflict (another transaction touched the item; it need not have
// written a new version) is contention, to retry, not the caller's stale
// IfVersion: before the fix PutCoverageZones answered 412 though the latest
// version was still the one the caller named.
func TestCoverageZonesConflictIsNoPrecondition(t *testing.T) {
	t.Parallel()
	s, inject := storeCancelling(t, 0, "TransactionConflict", "None")
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)
	first, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones":{}}`), Actor: "op", At: at})
	if err != nil {
		t.Fatal(err)
	}
	inject.left.Store(1)
	got, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones":{}}`), Actor: "op",
		At: at.Add(time.Second), IfVersion: first.Version})
	if err != nil {
		t.Fatalf("PutCoverageZones(IfVersion %d) after a TransactionConflict = %v (code %q), want a retry that succeeds",
			first.Version, err, playback.ErrorCode(err))
	}
	if got.Version != first.Version+1 {
		t.Fatalf("version = %d, want %d", got.Version, first.Version+1)
	}
}

// TestThrottledTransactionIsUnavailable: a transaction cancelled for
// throttling (no condition failed) is cured by a retry: CodeUnavailable, not
// an internal error.
func TestThrottledTransactionIsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		codes []string
	}{
		{name: "throttling", codes: []string{"ThrottlingError", "None"}},
		{name: "provisioned throughput", codes: []string{"None", "ProvisionedThroughputExceeded"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := storeCancelling(t, 1000, tc.codes...)
			err := s.PutAccount(context.Background(), playback.Account{ID: "a1", PlanID: "basic", Status: "active", Territory: "DE"})
			if !playback.IsCode(err, playback.CodeUnavailable) {
				t.Fatalf("PutAccount cancelled with %v = %v (code %q), want unavailable", tc.codes, err, playback.ErrorCode(err))
			}
		})
	}
}
