package firestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.LeaseCounter = (*Store)(nil)

// CountActiveLeases counts the sessions whose lease runs past now with one
// COUNT aggregation query on their lease_until field (sessionFields keeps
// it at the lease's expiry, null once the session ended), answered from
// the field's automatic single-field index: one round trip, billed one
// document read per thousand counted. Nothing on a request path calls it.
func (s *Store) CountActiveLeases(ctx context.Context, now time.Time) (int, error) {
	if err := s.open(ctx); err != nil {
		return 0, err
	}
	const op = "CountActiveLeases"
	q := s.col(colSessions).Where(fieldLeaseUntil, ">", now)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fail(op, err)
	}
	v, ok := res["n"].(*firestorepb.Value)
	if !ok {
		return 0, fail(op, fmt.Errorf("count aggregation answered %T", res["n"]))
	}
	return int(v.GetIntegerValue()), nil
}
