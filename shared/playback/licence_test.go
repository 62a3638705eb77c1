package playback_test

import (
	"errors"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestCheckLicence(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	window := func(territory string) playback.LicenceWindow {
		return playback.LicenceWindow{Territory: territory, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
	}
	deOnly := playback.Title{ID: "de-only", Windows: []playback.LicenceWindow{window("DE")}}
	usOnly := playback.Title{ID: "us-only", Windows: []playback.LicenceWindow{window("US")}}
	frOnly := playback.Title{ID: "fr-only", Windows: []playback.LicenceWindow{window("FR")}}
	expired := playback.Title{ID: "expired", Windows: []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}}}
	at := func(c string) playback.ViewerPlace { return playback.ViewerPlace{Located: true, Country: c} }
	// Licensed in DE for an hour more, in FR for two.
	deSoonerThanFR := playback.Title{ID: "de-fr", Windows: []playback.LicenceWindow{window("DE"),
		{Territory: "FR", Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour)}}}
	// Licensed in DE for an hour more, then in FR (from the hour on) for
	// two: each window meets the other territory's.
	deThenFR := playback.Title{ID: "de-then-fr", Windows: []playback.LicenceWindow{window("DE"),
		{Territory: "FR", Start: now.Add(time.Hour), End: now.Add(3 * time.Hour)}}}
	// DE, FR, DE again: windows taking turns, each meeting the next.
	turns := playback.Title{ID: "turns", Windows: []playback.LicenceWindow{
		{Territory: "DE", Start: now.Add(2 * time.Hour), End: now.Add(4 * time.Hour)},
		{Territory: "FR", Start: now.Add(30 * time.Minute), End: now.Add(2 * time.Hour)},
		window("DE")}}
	tests := []struct {
		name   string
		title  playback.Title
		home   string
		viewer playback.ViewerPlace
		policy playback.LicencePolicy
		want   string // reason, "" to play
		// until is when a play's licence ends: an hour from now unless
		// set.
		until time.Time
	}{
		{name: "at home, licensed at home", title: deOnly, home: "DE", viewer: at("DE")},
		{name: "DE account in the US: DE-only title refused (was played before)", title: deOnly, home: "DE", viewer: at("US"), want: playback.ReasonNotLicensedHere},
		{name: "DE account in Japan", title: deOnly, home: "DE", viewer: at("JP"), want: playback.ReasonNotLicensedHere},
		{name: "US subscriber abroad loses US-only titles", title: usOnly, home: "US", viewer: at("FR"), want: playback.ReasonNotLicensedHere},
		{name: "US subscriber abroad gets what is licensed there", title: frOnly, home: "US", viewer: at("FR")},
		{name: "EU portability: DE subscriber in FR keeps the DE catalogue", title: deOnly, home: "DE", viewer: at("FR")},
		{name: "EU portability: and may watch what is licensed in FR", title: frOnly, home: "DE", viewer: at("FR")},
		{name: "EU portability covers every member state", title: deOnly, home: "DE", viewer: at("GR")},
		{name: "EU portability needs the title licensed at home", title: usOnly, home: "DE", viewer: at("FR"), want: playback.ReasonNotLicensedHomeOrHere},
		// The Treaties apply to the outermost regions and Åland (TFEU
		// Art. 355(1), (4)), which GeoIP and front doors report under
		// their own ISO codes, not their member state's.
		{name: "EU portability in Réunion (RE)", title: deOnly, home: "DE", viewer: at("RE")},
		{name: "EU portability in Guadeloupe (GP)", title: deOnly, home: "DE", viewer: at("GP")},
		{name: "EU portability in French Guiana (GF)", title: deOnly, home: "DE", viewer: at("GF")},
		{name: "EU portability in Martinique (MQ)", title: deOnly, home: "DE", viewer: at("MQ")},
		{name: "EU portability in Mayotte (YT)", title: deOnly, home: "DE", viewer: at("YT")},
		{name: "EU portability in Saint-Martin (MF)", title: deOnly, home: "DE", viewer: at("MF")},
		{name: "EU portability in Åland (AX)", title: deOnly, home: "DE", viewer: at("AX")},
		{name: "a Réunion subscriber in DE keeps the RE catalogue", title: playback.Title{ID: "re", Windows: []playback.LicenceWindow{window("RE")}}, home: "RE", viewer: at("DE")},
		// The regulation is EEA law (EEA Joint Committee Decision No
		// 158/2018): Norway, Iceland and Liechtenstein are member states
		// for it; Switzerland is not in the EEA, nor is Svalbard (SJ).
		{name: "EEA portability: a NO subscriber in DE keeps the NO catalogue", title: playback.Title{ID: "no", Windows: []playback.LicenceWindow{window("NO")}}, home: "NO", viewer: at("DE")},
		{name: "EEA portability: a DE subscriber in NO keeps the DE catalogue", title: deOnly, home: "DE", viewer: at("NO")},
		{name: "EEA portability in Iceland (IS)", title: deOnly, home: "DE", viewer: at("IS")},
		{name: "EEA portability in Liechtenstein (LI)", title: deOnly, home: "DE", viewer: at("LI")},
		{name: "EEA portability needs the title licensed at home", title: usOnly, home: "NO", viewer: at("FR"), want: playback.ReasonNotLicensedHomeOrHere},
		{name: "no portability in Svalbard (SJ), outside the EEA", title: deOnly, home: "DE", viewer: at("SJ"), want: playback.ReasonNotLicensedHere},
		{name: "no portability in Saint Barthélemy (BL), an overseas territory since 2012", title: deOnly, home: "DE", viewer: at("BL"), want: playback.ReasonNotLicensedHere},
		{name: "no portability in New Caledonia (NC), an overseas territory", title: deOnly, home: "DE", viewer: at("NC"), want: playback.ReasonNotLicensedHere},
		{name: "no portability in the Faroe Islands (FO)", title: deOnly, home: "DE", viewer: at("FO"), want: playback.ReasonNotLicensedHere},
		{name: "no portability outside the EU (Switzerland)", title: deOnly, home: "DE", viewer: at("CH"), want: playback.ReasonNotLicensedHere},
		{name: "no portability after Brexit", title: deOnly, home: "DE", viewer: at("GB"), want: playback.ReasonNotLicensedHere},
		{name: "no portability for a UK home", title: playback.Title{ID: "gb", Windows: []playback.LicenceWindow{window("GB")}}, home: "GB", viewer: at("FR"), want: playback.ReasonNotLicensedHere},
		{name: "window closed", title: expired, home: "DE", viewer: at("DE"), want: playback.ReasonNotLicensedHere},
		{name: "unknown viewer country", title: deOnly, home: "DE", viewer: playback.ViewerPlace{Located: true}, want: playback.ReasonViewerLocationUnknown},
		{name: "anonymous proxy refused when configured", title: deOnly, home: "DE", viewer: playback.ViewerPlace{Located: true, Country: "DE", Anonymous: true},
			policy: playback.LicencePolicy{RefuseAnonymous: true}, want: playback.ReasonAnonymousProxy},
		{name: "anonymous proxy allowed by default", title: deOnly, home: "DE", viewer: playback.ViewerPlace{Located: true, Country: "DE", Anonymous: true}},
		{name: "no location source: the home territory decides", title: deOnly, home: "DE", viewer: playback.ViewerPlace{}},
		{name: "no location source: not licensed at home", title: usOnly, home: "DE", viewer: playback.ViewerPlace{}, want: playback.ReasonNotLicensed},
		{name: "without portability: until the window where the viewer is ends", title: deSoonerThanFR, home: "US", viewer: at("DE")},
		{name: "EU portability: until the later of home's and here's ends (home's)", title: deSoonerThanFR, home: "FR", viewer: at("DE"), until: now.Add(2 * time.Hour)},
		{name: "EU portability: until the later of home's and here's ends (here's)", title: deSoonerThanFR, home: "DE", viewer: at("FR"), until: now.Add(2 * time.Hour)},
		{name: "EU portability: here's window, then home's meeting it", title: deThenFR, home: "FR", viewer: at("DE"), until: now.Add(3 * time.Hour)},
		{name: "EU portability: home's window, then here's meeting it", title: deThenFR, home: "DE", viewer: at("FR"), until: now.Add(3 * time.Hour)},
		{name: "EU portability: here's and home's windows taking turns", title: turns, home: "FR", viewer: at("DE"), until: now.Add(4 * time.Hour)},
		{name: "without portability: another territory's window meeting it does not carry it", title: deThenFR, home: "US", viewer: at("DE")},
		{name: "no location source: until the home window's end", title: deSoonerThanFR, home: "FR", viewer: playback.ViewerPlace{}, until: now.Add(2 * time.Hour)},
		{name: "no location source: until the home window's end, not another's", title: deSoonerThanFR, home: "DE", viewer: playback.ViewerPlace{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			until, err := playback.CheckLicence(tt.title, tt.home, tt.viewer, tt.policy, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := tt.until
				if want.IsZero() {
					want = now.Add(time.Hour)
				}
				if !until.Equal(want) {
					t.Fatalf("licensed until %v, want %v", until, want)
				}
				return
			}
			if !until.IsZero() {
				t.Errorf("refused, yet licensed until %v", until)
			}
			var pe *playback.Error
			if !errors.As(err, &pe) || pe.Code != playback.CodeForbidden || pe.Reason != tt.want {
				t.Fatalf("err = %v, want forbidden/%s", err, tt.want)
			}
			if d, ok := pe.Details.(playback.LicenceDetails); !ok || d.HomeTerritory != tt.home {
				t.Errorf("details = %#v", pe.Details)
			}
		})
	}
}

// TestLicensedInWindowBounds: a window licenses from its start,
// inclusive, to its end, exclusive, as the catalogue's schema says,
// whatever zone either bound or the clock is written in; windows that
// meet leave no gap; a title with no windows plays nowhere.
func TestLicensedInWindowBounds(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	start := time.Date(2027, 1, 1, 9, 0, 0, 0, tokyo) // 2027-01-01T00:00Z
	end := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	title := playback.Title{ID: "t", Windows: []playback.LicenceWindow{
		{Territory: "JP", Start: start, End: end},
		{Territory: "JP", Start: end, End: end.AddDate(0, 1, 0)}, // the next window, meeting it
		{Territory: "DE", Start: start, End: end},
	}}
	for _, tc := range []struct {
		name      string
		territory string
		at        time.Time
		want      bool
	}{
		{name: "an instant before the start", territory: "DE", at: start.Add(-time.Nanosecond)},
		{name: "at the start", territory: "DE", at: start, want: true},
		{name: "at the start, written in UTC", territory: "DE", at: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), want: true},
		{name: "an instant before the end", territory: "DE", at: end.Add(-time.Nanosecond), want: true},
		{name: "at the end", territory: "DE", at: end},
		{name: "at the end, written in Tokyo time", territory: "DE", at: end.In(tokyo)},
		{name: "where the next window starts", territory: "JP", at: end, want: true},
		{name: "another territory", territory: "FR", at: start},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := title.LicensedIn(tc.territory, tc.at); got != tc.want {
				t.Fatalf("LicensedIn(%s, %v) = %v, want %v", tc.territory, tc.at, got, tc.want)
			}
		})
	}
	if (playback.Title{ID: "none"}).LicensedIn("DE", start) {
		t.Fatal("a title with no windows is licensed")
	}
}

// TestLicensedUntil: a licence runs to the end of the window holding now,
// and on through every window of the same territory that starts by then,
// meeting or overlapping it, whatever order the catalogue lists them in;
// a gap ends it, as does a window that never began to license (no end).
func TestLicensedUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	w := func(territory string, start, end time.Duration) playback.LicenceWindow {
		return playback.LicenceWindow{Territory: territory, Start: now.Add(start), End: now.Add(end)}
	}
	farFuture := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		windows []playback.LicenceWindow
		want    time.Time // zero: not licensed now
	}{
		{name: "one window", windows: []playback.LicenceWindow{w("DE", -time.Hour, time.Hour)}, want: now.Add(time.Hour)},
		{name: "the next window meets it, listed first", windows: []playback.LicenceWindow{w("DE", time.Hour, 3*time.Hour), w("DE", -time.Hour, time.Hour)}, want: now.Add(3 * time.Hour)},
		{name: "a chain of three, overlapping", windows: []playback.LicenceWindow{w("DE", 2*time.Hour, 5*time.Hour), w("DE", 30*time.Minute, 3*time.Hour), w("DE", -time.Hour, time.Hour)}, want: now.Add(5 * time.Hour)},
		{name: "a gap ends it", windows: []playback.LicenceWindow{w("DE", -time.Hour, time.Hour), w("DE", time.Hour+time.Second, 3*time.Hour)}, want: now.Add(time.Hour)},
		{name: "another territory's window does not carry it", windows: []playback.LicenceWindow{w("DE", -time.Hour, time.Hour), w("FR", time.Hour, 3*time.Hour)}, want: now.Add(time.Hour)},
		{name: "a window inside it", windows: []playback.LicenceWindow{w("DE", -time.Hour, 3*time.Hour), w("DE", 0, time.Hour)}, want: now.Add(3 * time.Hour)},
		{name: "no end in practice", windows: []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: farFuture}}, want: farFuture},
		{name: "a window without an end licenses nothing", windows: []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour)}}},
		{name: "ended", windows: []playback.LicenceWindow{w("DE", -2*time.Hour, 0)}},
		{name: "not begun", windows: []playback.LicenceWindow{w("DE", time.Nanosecond, time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			title := playback.Title{ID: "t", Windows: tc.windows}
			until, ok := title.LicensedUntil("DE", now)
			if ok != !tc.want.IsZero() || ok && !until.Equal(tc.want) {
				t.Fatalf("LicensedUntil = %v, %v; want %v", until, ok, tc.want)
			}
			if title.LicensedIn("DE", now) != ok {
				t.Fatalf("LicensedIn disagrees with LicensedUntil (%v)", ok)
			}
		})
	}
}
