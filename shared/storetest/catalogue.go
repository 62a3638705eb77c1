package storetest

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// BenchTitles is the size of the catalogue import benchmarks:
// PLAYPLANE_BENCH_TITLES, default 1,000 (the 10,000 on request;
// `make test` runs benchmarks only when asked).
func BenchTitles() int {
	if n, err := strconv.Atoi(os.Getenv("PLAYPLANE_BENCH_TITLES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// CatalogueFile is a catalogue file (shared/catalogfile's format) of three
// plans and n titles, each licensed in three territories, for import
// benchmarks and load tests.
func CatalogueFile(n int) []byte {
	type file struct {
		Plans  []playback.Plan  `json:"plans"`
		Titles []playback.Title `json:"titles"`
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := file{Plans: []playback.Plan{
		{ID: "basic", Name: "Basic", MaxStreams: 1, MaxDevices: 2, MaxQuality: playback.QualitySD},
		{ID: "standard", Name: "Standard", MaxStreams: 2, MaxDevices: 5, MaxQuality: playback.QualityHD},
		{ID: "premium", Name: "Premium", MaxStreams: 4, MaxDevices: 10, MaxQuality: playback.QualityUHD},
	}}
	for i := range n {
		id := fmt.Sprintf("title-%06d", i)
		t := playback.Title{ID: id, Name: "Title " + strconv.Itoa(i), Rating: new([]int{0, 7, 12, 16, 18}[i%5]),
			AssetPath: "/titles/" + id + "/", Manifest: "master.m3u8"}
		for _, terr := range []string{"DE", "GB", "US"} {
			t.Windows = append(t.Windows, playback.LicenceWindow{Territory: terr, Start: start, End: start.AddDate(10, 0, i%365)})
		}
		f.Titles = append(f.Titles, t)
	}
	raw, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		panic(err)
	}
	return raw
}
