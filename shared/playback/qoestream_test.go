package playback_test

import (
	"cmp"
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// pagedViews is a QoEStore's listing in memory: QoEViewPage pages views
// in QoEViewMark order.
type pagedViews struct {
	playback.QoEStore // nil: only the listing is read
	views             []playback.QoEView
	pages, most       int // pages asked for, the most views in one
}

func newPagedViews(views []playback.QoEView) *pagedViews {
	views = slices.Clone(views)
	slices.SortFunc(views, func(a, b playback.QoEView) int { return a.Mark().Compare(b.Mark()) })
	return &pagedViews{views: views}
}

func (p *pagedViews) QoEViewPage(_ context.Context, from, to time.Time, after playback.QoEViewMark, limit int) ([]playback.QoEView, error) {
	p.pages++
	var out []playback.QoEView
	for _, v := range p.views {
		if len(out) == limit {
			break
		}
		if !v.Hour.Before(playback.QoEHour(from)) && v.Hour.Before(to) && v.Mark().Compare(after) > 0 {
			out = append(out, v)
		}
	}
	p.most = max(p.most, len(out))
	return out, nil
}

// playOrder is QoEPlays' order of the plays it answers.
func playOrder(a, b playback.QoEView) int {
	pa, pb := a.Play(), b.Play()
	return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(pa.AccountID, pb.AccountID),
		cmp.Compare(pa.TitleID, pb.TitleID), cmp.Compare(pa.ViewID, pb.ViewID))
}

// manyPlays are randomPlays over up to three stretches of days, ids kept
// apart, so that ranges of up to a month have plays inside, across and
// beyond their edges.
func manyPlays(rng *rand.Rand, day time.Time) []playback.QoEView {
	var out []playback.QoEView
	for b := range 1 + rng.IntN(3) {
		start := day.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
		for _, v := range randomPlays(rng, start, time.Duration(1+rng.IntN(6*24))*time.Hour) {
			v.SessionID = "b" + strconv.Itoa(b) + v.SessionID
			if v.ViewID != "" {
				v.ViewID = "b" + strconv.Itoa(b) + v.ViewID
			}
			out = append(out, v)
		}
	}
	return out
}

// TestStreamedPlaysAreQoEPlays: GET /v1/admin/qoe read every session of
// its range and a day either side into memory (QoEPlays); it now reads
// them a page at a time (StreamQoEPlays), and its plays and figures must
// be those QoEPlays answers over the same sessions, in any order it is
// handed them: for random plays (of one session, across
// re-authorizations, longer than QoEPlaySlack, with a first session
// missing, of another account, starting before the play they name) and
// ranges from an hour to a month, with any page size, and with the
// views of an hour handed to the fold in any order.
func TestStreamedPlaysAreQoEPlays(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(33, 1))
	day := qoeT0.Truncate(24 * time.Hour)
	now := day.Add(40 * 24 * time.Hour)
	for round := range 400 {
		sessions := manyPlays(rng, day)
		from := day.Add(time.Duration(rng.IntN(32*24)-24) * time.Hour)
		to := from.Add(time.Duration(1+rng.IntN(int(playback.MaxQoERange/time.Hour))) * time.Hour)
		if rng.IntN(3) == 0 {
			to = from.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
		}
		var read []playback.QoEView
		for _, v := range sessions {
			if !v.StartedAt.Before(from.Add(-playback.QoEPlaySlack)) && v.StartedAt.Before(to.Add(playback.QoEPlaySlack)) {
				read = append(read, v)
			}
		}
		rng.Shuffle(len(read), func(a, b int) { read[a], read[b] = read[b], read[a] })
		want := playback.QoEPlays(read, from, to)

		store := newPagedViews(sessions)
		streamed := []playback.QoEView{}
		limit := 1 + rng.IntN(20)
		if err := playback.StreamQoEPlays(t.Context(), store, from, to, limit, func(v playback.QoEView) { streamed = append(streamed, v) }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(streamed, playOrder)
		if !reflect.DeepEqual(streamed, want) {
			t.Fatalf("round %d: [%s, %s) in pages of %d streamed\n%+v\nQoEPlays\n%+v", round, from.Format(time.RFC3339),
				to.Format(time.RFC3339), limit, streamed, want)
		}

		// The fold wants the hours in order, the views of one in any.
		slices.SortFunc(read, func(a, b playback.QoEView) int { return a.Hour.Compare(b.Hour) })
		for i := 0; i < len(read); {
			j := i + 1
			for j < len(read) && read[j].Hour.Equal(read[i].Hour) {
				j++
			}
			rng.Shuffle(j-i, func(a, b int) { read[i+a], read[i+b] = read[i+b], read[i+a] })
			i = j
		}
		folded := []playback.QoEView{}
		fold := playback.NewQoEPlayFold(from, to, func(v playback.QoEView) { folded = append(folded, v) })
		for _, v := range read {
			if err := fold.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		fold.Close()
		if fold.Held() != 0 {
			t.Fatalf("round %d: the fold holds %d views once closed", round, fold.Held())
		}
		slices.SortFunc(folded, playOrder)
		if !reflect.DeepEqual(folded, want) {
			t.Fatalf("round %d: [%s, %s) folded in hours shuffled\n%+v\nQoEPlays\n%+v", round, from.Format(time.RFC3339),
				to.Format(time.RFC3339), folded, want)
		}

		// Aggregated as they come, the figures are AggregateQoE's.
		for _, d := range playback.QoEDimensions {
			byHour, total := playback.NewQoEAggregator(d, now), playback.NewQoEAggregator(d, now)
			for _, i := range rng.Perm(len(streamed)) {
				v := streamed[i]
				byHour.Add(v)
				v.Hour = from
				total.Add(v)
			}
			if got, w := byHour.Aggregates(), playback.AggregateQoE(want, d, now); !reflect.DeepEqual(got, w) {
				t.Fatalf("round %d: by %s aggregated as they came %+v, AggregateQoE %+v", round, d, got, w)
			}
			all := slices.Clone(want)
			for i := range all {
				all[i].Hour = from
			}
			if got, w := total.Aggregates(), playback.AggregateQoE(all, d, now); !reflect.DeepEqual(got, w) {
				t.Fatalf("round %d: totals by %s aggregated as they came %+v, AggregateQoE %+v", round, d, got, w)
			}
		}
	}
}

// TestStreamedPlaysHoldADay: the fold holds the views of the hour being
// read and of the plays sessions may still join, whose first session
// started less than QoEPlaySlack before: with views coming at a steady
// rate, at most the views of QoEPlaySlack and an hour, however long the
// range. Read as QoEPlays reads them, 40 days of 12 views an hour were
// all held at once (11,520 views for a bound of 300).
func TestStreamedPlaysHoldADay(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(33, 2))
	const perHour, days = 12, 40
	start := qoeT0.Truncate(24 * time.Hour)
	var sessions []playback.QoEView
	var firsts []playback.QoEView
	for h := range days * 24 {
		for i := range perHour {
			at := start.Add(time.Duration(h)*time.Hour + time.Duration(rng.Int64N(int64(time.Hour))))
			v := playback.QoEView{SessionID: "s" + strconv.Itoa(h) + "-" + strconv.Itoa(i), AccountID: "a1", TitleID: "t1",
				StartedAt: at, Hour: playback.QoEHour(at), Reports: 1, PlayedMS: 1_000, StartupMS: 500}
			// A re-authorization of a play begun up to 30 hours before:
			// some within QoEPlaySlack, some past it.
			if len(firsts) > 0 && rng.IntN(5) < 2 {
				for range 3 {
					f := firsts[len(firsts)-1-rng.IntN(min(len(firsts), 30*perHour))]
					if !f.StartedAt.After(at) {
						v.ViewID, v.Continued, v.StartupMS = f.SessionID, true, 0
						break
					}
				}
			}
			if v.ViewID == "" {
				firsts = append(firsts, v)
			}
			sessions = append(sessions, v)
		}
	}
	from, to := start.Add(24*time.Hour), start.Add((days-1)*24*time.Hour)
	store := newPagedViews(sessions)
	fold := playback.NewQoEPlayFold(from, to, func(playback.QoEView) {})
	peak, read := 0, 0
	var after playback.QoEViewMark
	for {
		page, err := store.QoEViewPage(t.Context(), from.Add(-playback.QoEPlaySlack), to.Add(playback.QoEPlaySlack), after, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			if err := fold.Add(v); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, fold.Held())
		}
		read += len(page)
		if len(page) < 50 {
			break
		}
		after = page[len(page)-1].Mark()
	}
	fold.Close()
	bound := int(playback.QoEPlaySlack/time.Hour+1) * perHour
	if peak > bound || read < 10*bound {
		t.Fatalf("held %d of the %d views read at once, want at most %d (QoEPlaySlack and an hour of views)", peak, read, bound)
	}
	t.Logf("held %d of %d views at most (bound %d)", peak, read, bound)
}

// startAgain is a store whose pages ignore the mark: each is the first.
type startAgain struct{ *pagedViews }

func (s startAgain) QoEViewPage(ctx context.Context, from, to time.Time, _ playback.QoEViewMark, limit int) ([]playback.QoEView, error) {
	return s.pagedViews.QoEViewPage(ctx, from, to, playback.QoEViewMark{}, limit)
}

// TestStreamRefusesPagesOutOfOrder: a store whose pages do not go on from
// the mark (the first page again, or views of hours already read) would
// have the stream read for ever, or fold plays wrongly; it fails, with an
// error no retry heals.
func TestStreamRefusesPagesOutOfOrder(t *testing.T) {
	t.Parallel()
	views := randomPlays(rand.New(rand.NewPCG(33, 3)), qoeT0, 3*24*time.Hour)
	from, to := qoeT0.Truncate(time.Hour), qoeT0.Add(3*24*time.Hour)
	err := playback.StreamQoEPlays(t.Context(), startAgain{newPagedViews(views)}, from, to, 2, func(playback.QoEView) {})
	if e := playback.AsError(err); err == nil || e.Code != playback.CodeInternal || e.RetryAfter != playback.NoRetry {
		t.Fatalf("streamed over a store that starts again: %v, want internal, no retry", err)
	}
	fold := playback.NewQoEPlayFold(from, to, func(playback.QoEView) {})
	if err := fold.Add(playback.QoEView{SessionID: "b", Hour: from.Add(time.Hour), StartedAt: from.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := fold.Add(playback.QoEView{SessionID: "a", Hour: from, StartedAt: from}); playback.ErrorCode(err) != playback.CodeInternal {
		t.Fatalf("a view of an hour already read: %v, want internal", err)
	}
}
