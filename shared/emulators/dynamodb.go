package emulators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DynamoDB Local opens its port before its API answers; a ListTables is the
// readiness test that matches what callers will do. It is sent as the SDK
// sends it (JSON 1.0, X-Amz-Target, a SigV4 Authorization header, whose
// signature DynamoDB Local does not check) rather than through the SDK: every
// test binary using this package links what it imports, and most have no use
// for the DynamoDB client.
func probeDynamoDB(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader([]byte(`{"Limit":1}`)))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/"+now.Format("20060102")+
		"/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="+
		"0000000000000000000000000000000000000000000000000000000000000000")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ListTables: %s: %s", resp.Status, body)
	}
	var out struct {
		TableNames *[]string
	}
	if err := json.Unmarshal(body, &out); err != nil || out.TableNames == nil {
		return fmt.Errorf("ListTables: not a ListTables answer (%v): %s", err, body)
	}
	return nil
}
