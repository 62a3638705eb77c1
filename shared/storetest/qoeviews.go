package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// testQoEViewPage: QoEViewPage lists the views of the range's hours, a
// page at a time, in QoEViewMark order (start hour, then session id),
// across Unix 0 too: every page but the last is full, each goes on from
// the previous one's last view (or any mark: one of no stored view), and
// none holds a view of an hour outside the range; pages of any size list
// what one page of them all lists. GET /v1/admin/qoe reads a month of
// views this way, holding a page at a time.
func testQoEViewPage(t *testing.T, s playback.QoEStore) {
	ctx := context.Background()
	run := playback.NewID("r")
	for _, tc := range []struct {
		name string
		base time.Time
	}{
		{name: "an hour", base: now().Truncate(time.Hour).Add(-30 * 24 * time.Hour)},
		{name: "Unix 0", base: time.Unix(0, 0).UTC().Add(-2 * time.Hour)},
	} {
		// Sessions in hours 0 (before the range), 1, 2, 4, 5 (after it);
		// hours 1 and 4 have more than a page of the smaller limits.
		perHour := map[int]int{0: 1, 1: 5, 2: 1, 4: 7, 5: 1}
		var reports []playback.QoEReport
		var want []playback.QoEViewMark // the sessions of hours 1, 2 and 4
		for h, n := range perHour {
			for i := range n {
				// Ids out of their start order, so a store that lists by
				// start within an hour fails.
				started := tc.base.Add(time.Duration(h)*time.Hour + time.Duration(n-i)*time.Minute)
				id := fmt.Sprintf("%s-%s-%d-%02d", run, tc.name, h, i)
				reports = append(reports, playback.QoEReport{SessionID: id, AccountID: "a", TitleID: "t",
					SessionStartedAt: started, ReceivedAt: started.Add(time.Second), DeviceTime: started.Add(time.Second),
					QoE: playback.QoE{StartupMS: 100}})
				if h >= 1 && h <= 4 {
					want = append(want, playback.QoEViewMark{Hour: playback.QoEHour(started), SessionID: id})
				}
			}
		}
		slices.SortFunc(want, playback.QoEViewMark.Compare)
		if err := s.ApplyQoEReports(ctx, reports); err != nil {
			t.Fatal(err)
		}
		from, to := tc.base.Add(time.Hour+30*time.Minute), tc.base.Add(5*time.Hour)
		all := must(s.QoEViewPage(ctx, from, to, playback.QoEViewMark{}, len(want)+1))(t)
		if got := marks(all); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: one page of them all listed\n%v\nwant, in QoEViewMark order,\n%v", tc.name, got, want)
		}
		for limit := 1; limit <= len(all)+1; limit++ {
			var got []playback.QoEView
			var after playback.QoEViewMark
			for range len(all) + 2 {
				page := must(s.QoEViewPage(ctx, from, to, after, limit))(t)
				if len(page) > limit {
					t.Fatalf("%s: limit %d: a page of %d views", tc.name, limit, len(page))
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].Mark()
			}
			if !reflect.DeepEqual(got, all) {
				t.Fatalf("%s: pages of %d listed\n%v\nwant, in QoEViewMark order,\n%v", tc.name, limit, marks(got), marks(all))
			}
		}
		// A mark between two views' goes on from the next.
		mid := all[3].Mark()
		mid.SessionID += "~"
		if page := must(s.QoEViewPage(ctx, from, to, mid, 2))(t); !reflect.DeepEqual(marks(page), marks(all[4:6])) {
			t.Fatalf("%s: after %v listed %v, want %v", tc.name, mid, marks(page), marks(all[4:6]))
		}
		if page := must(s.QoEViewPage(ctx, from, to, all[len(all)-1].Mark(), 5))(t); len(page) != 0 {
			t.Fatalf("%s: after the last view listed %v", tc.name, marks(page))
		}
	}
}

func marks(views []playback.QoEView) []playback.QoEViewMark {
	out := make([]playback.QoEViewMark, 0, len(views))
	for _, v := range views {
		out = append(out, v.Mark())
	}
	return out
}
