package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.LeaseCounter = (*Store)(nil)

// leaseShards spreads the sparse "leases" index over partitions: every
// renewal moves its slot's key in it, and one partition key would take them
// all. Counting costs one Query per shard, once a minute.
const leaseShards = 16

// leaseAttrs are a held slot's keys in the sparse "leases" index: the
// account's shard, and the lease's expiry as zero-padded unix nanoseconds,
// so that a key condition selects the leases that run past an instant.
// Only slot items carry them, and a slot is deleted or rewritten with them
// by every write that ends, replaces or renews its lease.
func leaseAttrs(accountID string, expires time.Time) item {
	h := fnv.New32a()
	_, _ = h.Write([]byte(accountID))
	return item{
		attrLeasePK: str(fmt.Sprintf("LEASES#%02d", h.Sum32()%leaseShards)),
		attrLeaseSK: str(fmt.Sprintf("%020d", nanos(expires))),
	}
}

// CountActiveLeases counts the slots whose lease runs past now: one Query
// per shard of the "leases" index, side by side, each with Select=COUNT so
// nothing but the count comes back (one round trip of latency at most a
// few pages). The index is eventually consistent: a lease admitted, renewed
// or ended a moment ago may not count yet, which a gauge read once a minute
// can bear. Nothing on a request path calls it.
func (s *Store) CountActiveLeases(ctx context.Context, now time.Time) (int, error) {
	const op = "CountActiveLeases"
	var (
		wg     sync.WaitGroup
		counts [leaseShards]int
		errs   [leaseShards]error
	)
	for shard := range leaseShards {
		wg.Go(func() {
			p := dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
				TableName:                aws.String(s.table),
				IndexName:                aws.String(indexLeases),
				Select:                   types.SelectCount,
				KeyConditionExpression:   aws.String("#lpk = :shard AND #lsk > :now"),
				ExpressionAttributeNames: map[string]string{"#lpk": attrLeasePK, "#lsk": attrLeaseSK},
				ExpressionAttributeValues: item{":shard": str(fmt.Sprintf("LEASES#%02d", shard)),
					":now": str(fmt.Sprintf("%020d", nanos(now)))},
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					errs[shard] = err
					return
				}
				counts[shard] += int(page.Count)
			}
		})
	}
	wg.Wait()
	n := 0
	for shard := range leaseShards {
		if errs[shard] != nil {
			return 0, s.fail(op, errs[shard])
		}
		n += counts[shard]
	}
	return n, nil
}
