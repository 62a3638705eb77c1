package dynamo

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// MigrateListing brings over a table written before the "list" index,
// whose records were listed by a separate "LIST#<kind>" / <id> item: it
// gives each record that such an item names its listing attributes, then
// deletes the item (an item whose record is gone is just deleted). It
// touches no document or version, writes no audit record (nothing an
// operator manages changes), can run while the functions serve, and is
// idempotent: run again, or after an interruption, it moves what is
// left. It returns how many items it moved.
//
// Until it has run, records of the old layout are missing from the admin
// lists and exports, and an import would plan them as creates, which
// CreateRecords and ApplyChanges then refuse or leave as they are (they
// read the record itself), so nothing is overwritten.
func (s *Store) MigrateListing(ctx context.Context) (int, error) {
	const op = "MigrateListing"
	var (
		mu    sync.Mutex
		moved int
		errs  []error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, readers)
	for _, kind := range playback.Kinds {
		p := dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
			ExpressionAttributeValues: item{":pk": str(oldListPrefix + string(kind))},
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				wg.Wait()
				return moved, s.fail(op, errors.Join(append(errs, err)...))
			}
			for _, entry := range page.Items {
				id := strAttr(entry, attrSK)
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					err := s.addListing(ctx, kind, id)
					if err == nil {
						_, err = s.db().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table),
							Key: keyOf(oldListPrefix+string(kind), id)})
					}
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					} else {
						moved++
					}
				})
			}
		}
	}
	wg.Wait()
	return moved, s.fail(op, errors.Join(errs...))
}

// oldListPrefix is the partition of a kind's listing items before the
// "list" index.
const oldListPrefix = "LIST#"
