// Package dynamo is the playback.Store on one DynamoDB table.
//
// Single-table layout (pk, sk):
//
//	PLAN#<id>        PLAN          plan
//	TITLE#<id>       TITLE         title
//	ACCT#<id>        ACCOUNT       account, CAS on version
//	ACCT#<id>        SLOT#<k>      stream slot k of the account: the session holding it, mirrored;
//	                               also keyed in the sparse GSI "leases" (lease_pk=LEASES#<shard>,
//	                               lease_sk=expiry) that CountActiveLeases counts
//	ACCT#<id>        SLOT#DEVICE#<device>  device lock: the last session admitted on the device
//	                               and the slot it was admitted to
//	ACCT#<id>        PROG#<title>  resume position, gated on device_time
//	CUS#<id>         CUSTOMER      payment customer → account
//	SES#<id>         SESSION       session, CAS on version
//	SES#<id>         QOE           session QoE, gated on device_time
//	EVT#<source>     <id>          inbox event; pending ones also carry the keys of the
//	                               sparse GSI "pending" (pending_pk=source, pending_sk=received|id);
//	                               parked ones instead carry parked_key and parked_at
//	PARK#<source>#<key>  <parked_at>#<id>  pointer to an event parked under key, written with it;
//	                               also keyed in the sparse GSI "pending" (pending_pk=PARK#<source>,
//	                               pending_sk=key|parked_at|id), where CountParkedEvents counts key prefixes
//	EDGES#<shard>    EDGE#<id>     edge, CAS on version; 8 shards so health writes spread
//
// Accounts whose grace end is yet to be announced also carry
// grace_pk=GRACE and grace_sk=<GraceKey>, the keys of the sparse
// keys-only GSI "grace" (grace.go).
//
// Plans, titles, accounts and edges also carry list_pk=<kind> and
// list_sk=<id>, the keys of the sparse keys-only GSI "list" that the admin
// lists page (admin.go).
//
// The stream limit rests on slot items: an account with limit L has slots
// 0..L-1 and a lease is admitted by a transaction that claims a free slot
// (absent or expired) together with creating the session, so at most L
// transactions can win whatever the concurrency. The same transaction ends
// the device's running session and moves the device's lock, conditioned on
// the lock as read, so one device never holds two leases. Records carry the item in a
// "doc" JSON attribute next to the few attributes that conditions test.
package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/playplane/playplane/shared/memo"
	"github.com/playplane/playplane/shared/playback"
)

var _ playback.Store = (*Store)(nil)

// Attribute and index names.
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrDoc       = "doc"
	attrVersion   = "version"
	attrTTL       = "ttl"        // epoch seconds, DynamoDB's TTL attribute
	attrExpiresAt = "expires_at" // unix nanoseconds of a lease's expiry
	attrSession   = "session"    // slot: the session holding it
	attrSlot      = "slot"       // session: the slot it holds; device lock: its session's
	attrDevice    = "device_time"
	attrAccountID = "account_id"
	attrProcessed = "processed_at"
	attrPendingPK = "pending_pk"
	attrPendingSK = "pending_sk"
	indexPending  = "pending"
	attrParkedKey = "parked_key" // inbox: what a parked event waits for
	attrParkedAt  = "parked_at"  // inbox: unix nanoseconds it was parked
	// attrParkedSince is the unix nanoseconds it was first parked under
	// parked_key (playback.InboxEvent.ParkedSince).
	attrParkedSince = "parked_since"
	attrEventID     = "event_id" // park pointer: the event it lists
	attrListPK      = "list_pk"  // managed record: its kind, key of index "list"
	attrListSK      = "list_sk"  // managed record: its id
	indexList       = "list"
	attrSeenAt      = "seen_at"  // session and slot: unix nanoseconds the session was last seen
	attrLeasePK     = "lease_pk" // held slot: its account's shard of the "leases" index
	attrLeaseSK     = "lease_sk" // held slot: its lease's expiry, zero-padded unix nanoseconds
	indexLeases     = "leases"
	// grace_pk, grace_sk and index "grace": grace.go
)

// edgeShards spreads edge items over partitions: every edge reports health
// every few seconds, more than one partition should take.
const edgeShards = 8

// maxLeaseLimit keeps a lease transaction (one item per slot at most, plus
// the session) under DynamoDB's 100-item transaction cap.
const maxLeaseLimit = 64

// Config configures the store.
type Config struct {
	Table string `env:"DYNAMODB_TABLE, required"`
	// Endpoint overrides the service endpoint (DynamoDB Local).
	Endpoint string `env:"DYNAMODB_ENDPOINT"`
	// Retention is how long sessions and slots outlive their expiry before
	// TTL deletes them, so a late heartbeat still gets "gone", not "not found".
	Retention time.Duration `env:"DYNAMODB_RETENTION, default=48h"`
}

// Store is a playback.Store on DynamoDB.
type Store struct {
	// newDB returns the client: built on the first call that needs it
	// (NewDeferred), so a cold start that answers without the table does
	// not build one.
	newDB     func() *dynamodb.Client
	table     string
	retention time.Duration
	now       func() time.Time
	leases    *memo.Map[memoLease]
}

// New returns a store on cfg.Table through client (built with cfg.Endpoint
// by its caller, who shares one AWS configuration between clients). New
// makes no network calls: cold starts stay short.
func New(ctx context.Context, cfg Config, client *dynamodb.Client) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamo.New: a DynamoDB client is required")
	}
	return storeOf("dynamo.New", cfg, func() *dynamodb.Client { return client })
}

// NewDeferred is New with the client made by newClient on the store's
// first call that needs it (once, shared by every call after). Building a
// client costs a Lambda cold start ~0.2 ms (endpoint resolver, middleware
// options), which a first request refused before the store (a bad token)
// need not pay.
func NewDeferred(ctx context.Context, cfg Config, newClient func() *dynamodb.Client) (*Store, error) {
	if newClient == nil {
		return nil, errors.New("dynamo.NewDeferred: a DynamoDB client constructor is required")
	}
	return storeOf("dynamo.NewDeferred", cfg, sync.OnceValue(func() *dynamodb.Client {
		// New refuses a nil client; made late, one can only be refused
		// at its first use, by name rather than as a nil dereference
		// deep in the SDK.
		client := newClient()
		if client == nil {
			panic("dynamo.NewDeferred: the client constructor returned nil")
		}
		return client
	}))
}

func storeOf(op string, cfg Config, db func() *dynamodb.Client) (*Store, error) {
	if cfg.Table == "" {
		return nil, fmt.Errorf("%s: table name is required", op)
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("%s: retention %v < 0", op, cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = 48 * time.Hour
	}
	return &Store{newDB: db, table: cfg.Table, retention: cfg.Retention, now: time.Now, leases: memo.New[memoLease](maxMemoLeases)}, nil
}

// db is the store's client.
func (s *Store) db() *dynamodb.Client { return s.newDB() }

// Close releases nothing: the client holds only pooled connections.
func (s *Store) Close() error { return nil }

// CreateTable creates the table with its indexes and enables TTL, for local
// runs and tests (production tables come from the infrastructure code). It
// waits until the table is active and is a no-op on an existing table.
func (s *Store) CreateTable(ctx context.Context) error {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	_, err := s.db().CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(s.table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(attrPK), str(attrSK), str(attrPendingPK), str(attrPendingSK), str(attrListPK), str(attrListSK),
			str(attrLeasePK), str(attrLeaseSK), str(attrGracePK), str(attrGraceSK),
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(indexPending),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrPendingPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrPendingSK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(indexList),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrListPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrListSK), KeyType: types.KeyTypeRange},
			},
			// Keys only: a record's writes that keep its keys (edge health,
			// plays, payments) write nothing to the index.
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}, {
			IndexName: aws.String(indexLeases),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrLeasePK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrLeaseSK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}, {
			IndexName: aws.String(indexGrace),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrGracePK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrGraceSK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamo.CreateTable: %w", err)
	}
	waiter := dynamodb.NewTableExistsWaiter(s.db())
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("dynamo.CreateTable: wait for table: %w", err)
	}
	ttl, err := s.db().DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		return fmt.Errorf("dynamo.CreateTable: DescribeTimeToLive: %w", err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && (d.TimeToLiveStatus == types.TimeToLiveStatusEnabled ||
		d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = s.db().UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrTTL), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("dynamo.CreateTable: UpdateTimeToLive: %w", err)
	}
	return nil
}

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func keyOf(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

// nanos is t as unix nanoseconds, clamped to the range UnixNano defines, so
// zero times sort first instead of overflowing.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return t.UnixNano()
}

func numAttr(it item, name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

func strAttr(it item, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func docAttr(v any) (types.AttributeValue, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return str(string(raw)), nil
}

func decode[T any](it item, kind, id string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(strAttr(it, attrDoc)), &v); err != nil {
		return v, fmt.Errorf("decode %s %q: %w", kind, id, err)
	}
	return v, nil
}

// ttlAfter is the TTL attribute of a record that may go once t plus the
// retention has passed.
func (s *Store) ttlAfter(t time.Time) types.AttributeValue {
	return num(t.Add(s.retention).Unix() + 1)
}

// live reports whether an item read from the table is still alive: TTL
// deletion lags expiry by up to days, so expired items are skipped on read.
func (s *Store) live(it item) bool {
	if len(it) == 0 {
		return false
	}
	ttl, ok := numAttr(it, attrTTL)
	return !ok || ttl > s.now().Unix()
}

// get reads one item with a strongly consistent read; missing and expired
// items are CodeNotFound.
func (s *Store) get(ctx context.Context, pk, sk, kind, id string) (item, error) {
	if id == "" {
		return nil, playback.NotFound(kind, id)
	}
	out, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if !s.live(out.Item) {
		return nil, playback.NotFound(kind, id)
	}
	return out.Item, nil
}

func getDoc[T any](ctx context.Context, s *Store, op, pk, sk, kind, id string) (T, error) {
	var zero T
	it, err := s.get(ctx, pk, sk, kind, id)
	if err != nil {
		return zero, s.fail(op, err)
	}
	v, err := decode[T](it, kind, id)
	if err != nil {
		return zero, s.fail(op, err)
	}
	return v, nil
}

// maxCASAttempts bounds the re-read-and-retry loops of compare-and-swap
// updates; each round lets at least one contender through, so only a storm
// of writers on one record exhausts it (and then the caller retries later).
const maxCASAttempts = 32

// update is UpdateAccount/UpdateEdge: read, apply fn, write back on the
// condition that the version did not move, retrying from the read when it did.
// also names the items to write in the same transaction (an account's plan
// counters, see admin.go), given the record before and after fn.
func update[T any](ctx context.Context, s *Store, op, pk, sk, kind, id string, setID func(*T), fn func(*T) error,
	also func(before, after *T) []types.TransactWriteItem) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		it, err := s.get(ctx, pk, sk, kind, id)
		if err != nil {
			return zero, s.fail(op, err)
		}
		v, err := decode[T](it, kind, id)
		if err != nil {
			return zero, s.fail(op, err)
		}
		var before T
		if also != nil {
			before, _ = decode[T](it, kind, id) // decoded once already
		}
		if err := fn(&v); err != nil {
			if errors.Is(err, playback.ErrNoChange) {
				// fn may have changed v before giving up; answer the stored record.
				v, err = decode[T](it, kind, id)
				return v, s.fail(op, err)
			}
			return zero, err
		}
		setID(&v)
		doc, err := docAttr(v)
		if err != nil {
			return zero, s.fail(op, err)
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       keyOf(pk, sk),
			ExpressionAttributeNames:  map[string]string{"#doc": attrDoc, "#version": attrVersion},
			ExpressionAttributeValues: item{":doc": doc, ":one": num(1)},
			UpdateExpression:          aws.String("SET #doc = :doc ADD #version :one"),
		}
		if a, ok := any(v).(playback.Account); ok {
			set, remove := graceSet(a.GraceKey(), in.ExpressionAttributeNames, in.ExpressionAttributeValues)
			in.UpdateExpression = aws.String("SET #doc = :doc" + set + remove + " ADD #version :one")
		}
		if version, ok := numAttr(it, attrVersion); ok {
			in.ConditionExpression = aws.String("#version = :v")
			in.ExpressionAttributeValues[":v"] = num(version)
		} else {
			in.ConditionExpression = aws.String("attribute_exists(pk) AND attribute_not_exists(#version)")
		}
		var extra []types.TransactWriteItem
		if also != nil {
			extra = also(&before, &v)
		}
		if len(extra) == 0 {
			_, err = s.db().UpdateItem(ctx, in)
		} else {
			_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{{
				Update: &types.Update{TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
					ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
					ExpressionAttributeValues: in.ExpressionAttributeValues},
			}}, extra...)})
			if codes := transactionCodes(err); codes != nil && (codes[0] == "ConditionalCheckFailed" || slices.Contains(codes, "TransactionConflict")) {
				err = &types.ConditionalCheckFailedException{Message: aws.String("transaction: " + strings.Join(codes, ","))}
			}
		}
		if err == nil {
			return v, nil
		}
		if !conditionFailed(err) {
			return zero, s.fail(op, err)
		}
		if attempt+1 >= maxCASAttempts {
			return zero, playback.Unavailable(err, "dynamo.%s: %s %q is contended", op, kind, id)
		}
		if err := backoff(ctx, attempt); err != nil {
			return zero, s.fail(op, err)
		}
	}
}

// backoff sleeps a jittered, exponentially growing pause before attempt+1.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(100*time.Millisecond, time.Millisecond<<min(attempt, 10))
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// transactionCodes returns the per-item cancellation codes of a cancelled
// transaction ("None", "ConditionalCheckFailed", "TransactionConflict", ...),
// or nil when err is not a cancellation.
func transactionCodes(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	if len(codes) == 0 {
		codes = []string{"Unknown"}
	}
	return codes
}

// fail classifies err for callers: domain errors pass as they are, failures
// a retry can cure (throttling, network, 5xx, contention) become
// CodeUnavailable, the rest stays an internal error named after op.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *playback.Error
	if errors.As(err, &pe) {
		return err
	}
	err = fmt.Errorf("dynamo.%s: %w", op, err)
	if retryable(err) {
		return playback.Unavailable(err, "dynamo.%s: DynamoDB unavailable", op)
	}
	return err
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // ErrorCode already answers unavailable; keep the cause visible
	}
	if retryables.IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	if codes := transactionCodes(err); codes != nil {
		// A cancellation no condition refused, cancelled for contention or
		// throttling of some item, is cured by a retry.
		return !slices.Contains(codes, "ConditionalCheckFailed") && slices.ContainsFunc(codes, func(code string) bool {
			switch code {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				return true
			}
			return false
		})
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "TransactionConflictException", "InternalServerError", "ServiceUnavailable", "ReplicatedWriteConflictException":
			return true
		}
	}
	return false
}

func edgeKey(id string) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "EDGES#" + strconv.Itoa(int(h.Sum32()%edgeShards)), "EDGE#" + id
}
