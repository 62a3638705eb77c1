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
	tests := []struct {
		name   string
		title  playback.Title
		home   string
		viewer playback.ViewerPlace
		policy playback.LicencePolicy
		want   string // reason, "" to play
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := playback.CheckLicence(tt.title, tt.home, tt.viewer, tt.policy, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
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
