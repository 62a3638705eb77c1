// Package firehose forwards a topic's messages to an Amazon Kinesis Data
// Firehose delivery stream: on AWS the heartbeat consumer hands it each
// batch it acknowledged, and Firehose lands them in S3 for the QoE queries
// (docs/qoe/athena.sql; the stream, bucket and Glue table are in
// infra/stack/qoe.go).
//
// It speaks the service's JSON protocol (PutRecordBatch) over net/http,
// signed with the SDK's SigV4 signer: one call, for which the SDK's
// generated client would be a module of its own.
package firehose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.StreamSink = (*Sink)(nil)

// Limits of one PutRecordBatch call.
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 4 << 20
	MaxRecordBytes  = 1000 << 10
)

// Config is read from the environment.
type Config struct {
	// Stream is the delivery stream's name; empty turns forwarding off.
	Stream string `env:"QOE_FIREHOSE_STREAM"`
	// Endpoint overrides https://firehose.<region>.amazonaws.com (tests).
	Endpoint string `env:"FIREHOSE_ENDPOINT"`
	// Timeout bounds one PutRecordBatch call (a full one is 4 MiB).
	Timeout time.Duration `env:"FIREHOSE_TIMEOUT, default=30s"`
}

// Sink is a playback.StreamSink on one delivery stream.
type Sink struct {
	stream, endpoint, region string
	creds                    aws.CredentialsProvider
	http                     *http.Client
	signer                   *v4.Signer
	now                      func() time.Time
}

// New validates cfg; awsCfg gives the region and credentials.
func New(cfg Config, awsCfg aws.Config) (*Sink, error) {
	switch {
	case cfg.Stream == "":
		return nil, errors.New("firehose.New: Stream is required")
	case awsCfg.Region == "":
		return nil, errors.New("firehose.New: the AWS config has no region")
	case awsCfg.Credentials == nil:
		return nil, errors.New("firehose.New: the AWS config has no credentials")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://firehose." + awsCfg.Region + ".amazonaws.com"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hc := &http.Client{Timeout: cfg.Timeout}
	if awsCfg.HTTPClient != nil {
		if c, ok := awsCfg.HTTPClient.(*http.Client); ok {
			hc = c
		}
	}
	return &Sink{stream: cfg.Stream, endpoint: endpoint, region: awsCfg.Region, creds: awsCfg.Credentials, http: hc,
		signer: v4.NewSigner(), now: time.Now}, nil
}

type record struct {
	Data []byte `json:"Data"` // base64 on the wire, as encoding/json writes []byte
}

type putRequest struct {
	DeliveryStreamName string   `json:"DeliveryStreamName"`
	Records            []record `json:"Records"`
}

type putResponse struct {
	FailedPutCount   int `json:"FailedPutCount"`
	RequestResponses []struct {
		RecordID     string `json:"RecordId"`
		ErrorCode    string `json:"ErrorCode"`
		ErrorMessage string `json:"ErrorMessage"`
	} `json:"RequestResponses"`
}

// Forward sends each message's data as one newline-terminated record (the
// Glue table reads one JSON document a line), in calls within the batch
// limits. Records Firehose reports failed are sent once more; what fails
// then is a CodeUnavailable error. Messages over MaxRecordBytes cannot be
// delivered and fail the call with CodeTooLarge before anything is sent.
func (s *Sink) Forward(ctx context.Context, msgs []playback.Message) error {
	records := make([]record, 0, len(msgs))
	for _, m := range msgs {
		if len(m.Data)+1 > MaxRecordBytes {
			return playback.Errorf(playback.CodeTooLarge, "record_too_large", "message %s is %d bytes; Firehose records are at most %d", m.ID, len(m.Data), MaxRecordBytes)
		}
		data := make([]byte, len(m.Data)+1)
		copy(data, m.Data)
		data[len(m.Data)] = '\n'
		records = append(records, record{Data: data})
	}
	for len(records) > 0 {
		n, size := 0, 0
		for n < len(records) && n < MaxBatchRecords && size+len(records[n].Data) <= MaxBatchBytes {
			size += len(records[n].Data)
			n++
		}
		batch := records[:n]
		records = records[n:]
		failed, err := s.put(ctx, batch)
		if err == nil && len(failed) > 0 {
			failed, err = s.put(ctx, failed)
		}
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return playback.Errorf(playback.CodeUnavailable, "firehose_partial", "Firehose refused %d records twice", len(failed))
		}
	}
	return nil
}

// put is one PutRecordBatch call; it returns the records Firehose refused.
func (s *Sink) put(ctx context.Context, batch []record) ([]record, error) {
	body, err := json.Marshal(putRequest{DeliveryStreamName: s.stream, Records: batch})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, playback.Unavailable(err, "firehose: AWS credentials")
	}
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "firehose", s.region, s.now()); err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, playback.Unavailable(err, "firehose: PutRecordBatch")
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		code := playback.CodeInternal
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || e.Type == "ServiceUnavailableException" {
			code = playback.CodeUnavailable
		}
		return nil, playback.Errorf(code, "firehose_error", "Firehose PutRecordBatch: %d %s %s", resp.StatusCode, e.Type, e.Message)
	}
	var out putResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("firehose: decoding PutRecordBatch answer: %w", err)
	}
	if out.FailedPutCount == 0 {
		return nil, nil
	}
	var failed []record
	for i, r := range out.RequestResponses {
		if r.ErrorCode != "" && i < len(batch) {
			failed = append(failed, batch[i])
		}
	}
	return failed, nil
}
