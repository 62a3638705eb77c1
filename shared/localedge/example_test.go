package localedge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/playback"
)

// A local runner makes dev keys in memory, gives the signers to the signing
// function and the verifiers to the edge, and points BaseURL at the edge.
func ExampleNew() {
	cfKey, _ := cloudfront.GenerateDevKey("KLOCALDEV", cloudfront.ECDSAP256)
	cfKeys, _ := cloudfront.NewKeySet("KLOCALDEV", cfKey)
	cfSigner, _ := cloudfront.New(cloudfront.Config{}, cfKeys)
	cfVerifier, _ := cloudfront.NewVerifier(cfKeys.PublicKeys(), nil)

	cdnKeys, _ := cloudcdn.NewKeySet("local-dev", cloudcdn.GenerateDevKey("local-dev"))
	cdnVerifier, _ := cloudcdn.NewVerifier(cdnKeys.Keys(), nil)

	edge, err := localedge.New(cfVerifier, cdnVerifier)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(edge)
	defer srv.Close()

	var signer playback.URLSigner = cfSigner
	acc, _ := signer.Sign(context.Background(), playback.SignRequest{
		BaseURL: srv.URL, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8",
		Expires: time.Now().Add(10 * time.Minute),
	})
	resp, err := http.Get(acc.ManifestURL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output: 200 application/vnd.apple.mpegurl
}
