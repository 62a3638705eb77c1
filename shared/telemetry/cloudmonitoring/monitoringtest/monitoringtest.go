// Package monitoringtest is Cloud Monitoring's MetricService for tests, as
// far as an OpenTelemetry exporter uses it (GetMetricDescriptor,
// CreateMetricDescriptor, CreateTimeSeries), served over gRPC on loopback
// with the API's own protobuf types
// (cloud.google.com/go/monitoring/apiv3/v2/monitoringpb). It checks what
// the real service checks on the way in that a test could get wrong: the
// project resource name, 1 to 200 series per request, one point and a
// monitored resource per series, a series' kind matching its descriptor.
// It is not Cloud Monitoring, which cannot be reached from the tests.
package monitoringtest

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Server is a MetricService for one project.
type Server struct {
	monitoringpb.UnimplementedMetricServiceServer
	project  string
	addr     string
	accepted atomic.Int32

	mu          sync.Mutex
	descriptors map[string]*metricpb.MetricDescriptor // by type
	series      []*monitoringpb.TimeSeries
	refused     []string
}

// Start serves project's MetricService on loopback until the test ends.
func Start(t testing.TB, project string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{project: project, addr: l.Addr().String(), descriptors: map[string]*metricpb.MetricDescriptor{}}
	srv := grpc.NewServer()
	monitoringpb.RegisterMetricServiceServer(srv, s)
	go func() { _ = srv.Serve(countingListener{l, &s.accepted}) }()
	t.Cleanup(srv.Stop)
	return s
}

// ClientOptions point a Monitoring client at the server, without
// credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Connections counts the connections accepted so far.
func (s *Server) Connections() int { return int(s.accepted.Load()) }

// Refused lists the requests the server refused as malformed.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

// Series returns every time series written so far.
func (s *Server) Series() []*monitoringpb.TimeSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.series)
}

// Descriptor returns the metric descriptor created for typ.
func (s *Server) Descriptor(typ string) (*metricpb.MetricDescriptor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.descriptors[typ]
	return d, ok
}

// Find returns the last series of metric type typ whose labels include
// want, failing the test when there is none.
func (s *Server) Find(t testing.TB, typ string, want map[string]string) *monitoringpb.TimeSeries {
	t.Helper()
	series := s.Series()
	var types []string
	for i := len(series) - 1; i >= 0; i-- {
		ts := series[i]
		types = append(types, ts.GetMetric().GetType())
		if ts.GetMetric().GetType() != typ {
			continue
		}
		match := true
		for k, v := range want {
			if ts.GetMetric().GetLabels()[k] != v {
				match = false
			}
		}
		if match {
			return ts
		}
	}
	slices.Sort(types)
	t.Fatalf("no series %s with labels %v; the types written: %v", typ, want, slices.Compact(types))
	return nil
}

func (s *Server) refuse(what string) error {
	s.refused = append(s.refused, what)
	return status.Error(codes.InvalidArgument, what)
}

func (s *Server) GetMetricDescriptor(_ context.Context, req *monitoringpb.GetMetricDescriptorRequest) (*metricpb.MetricDescriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	typ, ok := strings.CutPrefix(req.GetName(), "projects/"+s.project+"/metricDescriptors/")
	if !ok {
		return nil, s.refuse("descriptor name " + req.GetName())
	}
	if d, ok := s.descriptors[typ]; ok {
		return d, nil
	}
	return nil, status.Error(codes.NotFound, typ)
}

func (s *Server) CreateMetricDescriptor(_ context.Context, req *monitoringpb.CreateMetricDescriptorRequest) (*metricpb.MetricDescriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := req.GetMetricDescriptor()
	if req.GetName() != "projects/"+s.project || d.GetType() == "" ||
		d.GetMetricKind() == metricpb.MetricDescriptor_METRIC_KIND_UNSPECIFIED || d.GetValueType() == metricpb.MetricDescriptor_VALUE_TYPE_UNSPECIFIED {
		return nil, s.refuse("descriptor " + d.String())
	}
	s.descriptors[d.GetType()] = d
	return d, nil
}

func (s *Server) CreateTimeSeries(_ context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.GetName() != "projects/"+s.project || len(req.GetTimeSeries()) == 0 || len(req.GetTimeSeries()) > 200 {
		return nil, s.refuse("time series request for " + req.GetName())
	}
	for _, ts := range req.GetTimeSeries() {
		if len(ts.GetPoints()) != 1 || ts.GetResource().GetType() == "" || ts.GetMetric().GetType() == "" {
			return nil, s.refuse("series " + ts.String())
		}
		if d, ok := s.descriptors[ts.GetMetric().GetType()]; ok && d.GetMetricKind() != ts.GetMetricKind() {
			return nil, s.refuse("series kind differs from its descriptor: " + ts.String())
		}
	}
	s.series = append(s.series, req.GetTimeSeries()...)
	return &emptypb.Empty{}, nil
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}
