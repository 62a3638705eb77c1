package playback

import (
	"slices"
	"testing"
	"time"
)

func TestAllowedRenditions(t *testing.T) {
	t.Parallel()
	ladder := []Rendition{
		{Path: "sd", Quality: QualitySD, Bandwidth: 1}, {Path: "hd", Quality: QualityHD, Bandwidth: 1},
		{Path: "uhd", Quality: QualityUHD, Bandwidth: 1}, {Path: "odd", Quality: "8K", Bandwidth: 1},
	}
	title := Title{ID: "t", Renditions: ladder}
	for _, tc := range []struct {
		name  string
		limit Quality
		want  []string
	}{
		{"SD plan", QualitySD, []string{"sd"}},
		{"HD plan", QualityHD, []string{"sd", "hd"}},
		{"UHD plan; an unknown quality is never allowed", QualityUHD, []string{"sd", "hd", "uhd"}},
		{"unknown cap allows nothing", "4K", nil},
		{"no cap allows nothing", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range title.AllowedRenditions(tc.limit) {
				got = append(got, r.Path)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("AllowedRenditions(%q) = %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
}

func TestValidateRenditions(t *testing.T) {
	t.Parallel()
	ok := Rendition{Path: "sd", Quality: QualitySD, Bandwidth: 800_000}
	for _, tc := range []struct {
		name   string
		ladder []Rendition
		reason string
	}{
		{"fine", []Rendition{ok, {Path: "hd", Quality: QualityHD, Bandwidth: 1}}, ""},
		{"no ladder", nil, ""},
		{"duplicate", []Rendition{ok, ok}, "rendition_path"},
		{"nested path", []Rendition{{Path: "a/b", Quality: QualitySD, Bandwidth: 1}}, "rendition_path"},
		{"dot segment", []Rendition{{Path: "..", Quality: QualitySD, Bandwidth: 1}}, "rendition_path"},
		{"escape", []Rendition{{Path: "s%2Fd", Quality: QualitySD, Bandwidth: 1}}, "rendition_path"},
		{"unknown quality", []Rendition{{Path: "x", Quality: "8K", Bandwidth: 1}}, "rendition_quality"},
		{"no bandwidth", []Rendition{{Path: "x", Quality: QualitySD}}, "rendition_bandwidth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Title{ID: "t", Renditions: tc.ladder, Windows: []LicenceWindow{{Start: time.Time{}}}}.ValidateRenditions()
			if tc.reason == "" && err != nil || tc.reason != "" && (AsError(err) == nil || AsError(err).Reason != tc.reason) {
				t.Fatalf("ValidateRenditions = %v, want %q", err, tc.reason)
			}
		})
	}
}
