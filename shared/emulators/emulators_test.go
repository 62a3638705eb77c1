package emulators_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

// uniqueName keeps tests that share one server out of each other's way.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

var awsCredentials = credentials.NewStaticCredentialsProvider("local", "local", "")

func TestDynamoDB(t *testing.T) {
	t.Parallel()
	started := time.Now()
	endpoint := emulators.DynamoDB(t)
	t.Logf("DynamoDB Local at %s, ready after %s", endpoint, time.Since(started))

	ctx := t.Context()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  awsCredentials,
	})
	table := aws.String(uniqueName(t))
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            table,
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	key := func(pk string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
	}
	counter := func(pk string) (string, bool) {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key(pk), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatalf("GetItem %s: %v", pk, err)
		}
		if out.Item == nil {
			return "", false
		}
		n, ok := out.Item["n"].(*ddbtypes.AttributeValueMemberN)
		if !ok {
			t.Fatalf("GetItem %s: n is %T, want a number", pk, out.Item["n"])
		}
		return n.Value, true
	}

	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: table,
		Item:      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}, "n": &ddbtypes.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	if n, ok := counter("a"); !ok || n != "1" {
		t.Fatalf("after PutItem: a.n = %q (found %v), want 1", n, ok)
	}

	// bumpAIfOneAndPut increments a.n only while it is 1, and puts pk in the
	// same transaction: both or neither.
	bumpAIfOneAndPut := func(pk string) error {
		_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Update: &ddbtypes.Update{
				TableName:                 table,
				Key:                       key("a"),
				UpdateExpression:          aws.String("SET n = n + :one"),
				ConditionExpression:       aws.String("n = :one"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}},
			}},
			{Put: &ddbtypes.Put{
				TableName: table,
				Item:      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "n": &ddbtypes.AttributeValueMemberN{Value: "0"}},
			}},
		}})
		return err
	}
	if err := bumpAIfOneAndPut("b"); err != nil {
		t.Fatalf("first TransactWriteItems: %v", err)
	}
	if n, _ := counter("a"); n != "2" {
		t.Fatalf("after first transaction: a.n = %q, want 2", n)
	}
	if _, ok := counter("b"); !ok {
		t.Fatal("after first transaction: b missing")
	}
	err := bumpAIfOneAndPut("c")
	var canceled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &canceled) {
		t.Fatalf("second TransactWriteItems: err = %v, want TransactionCanceledException", err)
	}
	if _, ok := counter("c"); ok {
		t.Fatal("canceled transaction still wrote c")
	}
}

func TestSQS(t *testing.T) {
	t.Parallel()
	started := time.Now()
	endpoint := emulators.SQS(t)
	t.Logf("fauxqs at %s, ready after %s", endpoint, time.Since(started))

	ctx := t.Context()
	client := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  awsCredentials,
	})
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(uniqueName(t))})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	want := []string{"first", "second", "third"}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, body := range want {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(body)})
	}
	sent, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: created.QueueUrl, Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(sent.Successful) != len(want) || len(sent.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %d sent, %d failed, want %d sent", len(sent.Successful), len(sent.Failed), len(want))
	}

	var got []string
	for attempt := 0; len(got) < len(want) && attempt < 5; attempt++ {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            created.QueueUrl,
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     1,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
}

func TestFirestore(t *testing.T) {
	t.Parallel()
	started := time.Now()
	hostPort := emulators.Firestore(t)
	t.Logf("Firestore emulator at %s, ready after %s", hostPort, time.Since(started))

	ctx := t.Context()
	client, err := firestore.NewClient(ctx, "playplane-test", gcpemu.FirestoreClientOptions(hostPort)...)
	if err != nil {
		t.Fatalf("firestore.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })

	doc := client.Collection(uniqueName(t)).Doc("lease")
	if _, err := doc.Set(ctx, map[string]any{"holder": "device-1", "n": 1}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	snap, err := doc.Get(ctx)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if holder, err := snap.DataAt("holder"); err != nil || holder != "device-1" {
		t.Fatalf("Get: holder = %v (%v), want device-1", holder, err)
	}
	_, err = doc.Create(ctx, map[string]any{"holder": "device-2"})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("Create over an existing document: err = %v, want AlreadyExists", err)
	}
	snap, err = doc.Get(ctx)
	if err != nil {
		t.Fatalf("Get after conflict: %v", err)
	}
	if holder, _ := snap.DataAt("holder"); holder != "device-1" {
		t.Fatalf("a failed Create changed holder to %v", holder)
	}
}

// The local runner hands the emulator to unmodified code through
// FIRESTORE_EMULATOR_HOST; the client's own emulator path must work too.
// Not parallel: t.Setenv.
func TestFirestoreEmulatorHostVariable(t *testing.T) {
	hostPort := emulators.Firestore(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", hostPort)

	ctx := t.Context()
	client, err := firestore.NewClient(ctx, "playplane-test")
	if err != nil {
		t.Fatalf("firestore.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	doc := client.Collection(uniqueName(t)).Doc("d")
	if _, err := doc.Create(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := doc.Create(ctx, map[string]any{"n": 2}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second Create: err = %v, want AlreadyExists", err)
	}
}

func TestStripeMock(t *testing.T) {
	t.Parallel()
	started := time.Now()
	baseURL := emulators.StripeMock(t)
	t.Logf("stripe-mock at %s, ready after %s", baseURL, time.Since(started))

	tests := []struct {
		name       string
		apiKey     string
		wantStatus int
	}{
		{name: "test key", apiKey: "sk_test_123", wantStatus: http.StatusOK},
		{name: "no key", apiKey: "", wantStatus: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, baseURL+"/v1/subscriptions", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.apiKey != "" {
				req.Header.Set("Authorization", "Bearer "+tc.apiKey)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET /v1/subscriptions: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("GET /v1/subscriptions: status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				return
			}
			var list struct {
				Object string            `json:"object"`
				Data   []json.RawMessage `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				t.Fatalf("decoding the list: %v", err)
			}
			if list.Object != "list" || len(list.Data) == 0 {
				t.Fatalf("GET /v1/subscriptions: object %q with %d items, want a non-empty list", list.Object, len(list.Data))
			}
		})
	}
}
