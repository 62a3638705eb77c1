package roundtrip

import (
	"context"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc"
)

// Doer is the AWS SDK's HTTP client interface (aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// HTTPClient wraps an AWS SDK HTTP client (dynamodb.Options.HTTPClient,
// sqs.Options.HTTPClient): every request is one wire call, named by its
// X-Amz-Target ("DynamoDB_20120810.GetItem" is "GetItem"), ended when its
// body is read or closed, into layer (LayerWire, or the service's name to
// count services apart). A nil base is http.DefaultClient.
func HTTPClient(layer string, base Doer) Doer {
	if base == nil {
		base = http.DefaultClient
	}
	return doer{layer: layer, base: base}
}

type doer struct {
	layer string
	base  Doer
}

func (d doer) Do(req *http.Request) (*http.Response, error) {
	name := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = req.Method + " " + req.URL.Path
	}
	end := begin(req.Context(), d.layer, name)
	resp, err := d.base.Do(req)
	if err != nil || resp.Body == nil {
		end()
		return resp, err
	}
	resp.Body = &endingBody{ReadCloser: resp.Body, end: end}
	return resp, nil
}

type endingBody struct {
	io.ReadCloser
	end func()
}

func (b *endingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *endingBody) Close() error {
	b.end()
	return b.ReadCloser.Close()
}

// rpcName is the method of a gRPC full method name
// ("/google.firestore.v1.Firestore/Commit" is "Commit").
func rpcName(method string) string { return method[strings.LastIndexByte(method, '/')+1:] }

// UnaryInterceptor records every unary RPC of a gRPC connection
// (option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(...))) into
// layer.
func UnaryInterceptor(layer string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		end := begin(ctx, layer, rpcName(method))
		defer end()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamInterceptor records every streaming RPC (Firestore reads documents
// and runs queries on server streams) from its start to the end of its
// stream: the first receive that fails, io.EOF included.
func StreamInterceptor(layer string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		end := begin(ctx, layer, rpcName(method))
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			end()
			return nil, err
		}
		return &endingStream{ClientStream: cs, end: end}, nil
	}
}

type endingStream struct {
	grpc.ClientStream
	end func()
}

func (s *endingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.end()
	}
	return err
}

// DialOptions are the gRPC dial options that install both interceptors,
// recording into layer.
func DialOptions(layer string) []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(UnaryInterceptor(layer)),
		grpc.WithChainStreamInterceptor(StreamInterceptor(layer))}
}
