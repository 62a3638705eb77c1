// Package gzipdoc compresses the large documents the cloud stores keep in one
// item (audit records, coverage zone files), so they fit under DynamoDB's
// 400 KB item and Firestore's 1 MiB document limits. The store adapters share
// it instead of each carrying a copy; it knows nothing of either store.
package gzipdoc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
)

// Marshal encodes v as JSON and compresses it.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Compress(raw)
}

// Compress gzips raw at the fastest level: these documents are written on
// request paths and read rarely.
func Compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decompress reverses Compress.
func Decompress(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
