package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsfn"
	"github.com/playplane/playplane/shared/httpx"
)

func TestRoutesMapToFunctions(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		d.checkAWSRoutes(t)
		d.checkGCPRoutes(t)
		// The routes output names every catalogue route with the URL
		// clients call.
		routes, _ := d.outputs["routes"].(map[string]string)
		for _, fn := range catalog.Functions {
			for _, r := range fn.Routes {
				base := "https://" + testDomain
				if d.layout.HTTPCloud(fn) == AWS {
					base = d.mock.OfType("aws:apigatewayv2/api:Api")[0].Str("apiEndpoint")
				}
				if routes[r.Key()] != base+r.Path {
					t.Errorf("routes output %s = %q, want %q", r.Key(), routes[r.Key()], base+r.Path)
				}
			}
		}
	})
}

func (d *deployment) checkAWSRoutes(t *testing.T) {
	t.Helper()
	routes := d.mock.OfType("aws:apigatewayv2/route:Route")
	byKey := map[string][]int{}
	for i, r := range routes {
		byKey[r.InStr("routeKey")] = append(byKey[r.InStr("routeKey")], i)
	}
	want := 0
	authorizers := d.mock.OfType("aws:apigatewayv2/authorizer:Authorizer")
	for _, fn := range catalog.Functions {
		if d.layout.HTTPCloud(fn) != AWS {
			continue
		}
		lambda := d.lambda(t, fn.Name)
		for _, r := range fn.Routes {
			want++
			if len(byKey[r.Key()]) != 1 {
				t.Errorf("%d API routes %s, want 1", len(byKey[r.Key()]), r.Key())
				continue
			}
			route := routes[byKey[r.Key()][0]]
			integrationID, _ := strings.CutPrefix(route.InStr("target"), "integrations/")
			integration, ok := d.byID("aws:apigatewayv2/integration:Integration", integrationID)
			if !ok {
				t.Errorf("%s targets %q, no integration", r.Key(), route.InStr("target"))
				continue
			}
			if integration.InStr("integrationUri") != lambda.Str("invokeArn") || integration.InStr("integrationType") != "AWS_PROXY" {
				t.Errorf("%s invokes %q, want %s", r.Key(), integration.InStr("integrationUri"), fn.Name)
			}
			switch r.Auth {
			case catalog.AuthJWT, catalog.AuthAdminJWT:
				if len(authorizers) != 1 || route.InStr("authorizationType") != "JWT" || route.InStr("authorizerId") != authorizers[0].ID {
					t.Errorf("%s is not behind the JWT authorizer: %s %q", r.Key(), route.InStr("authorizationType"), route.InStr("authorizerId"))
				}
			default:
				// Playback tokens, Stripe and edge signatures are checked by
				// the function; a gateway JWT check would refuse the callers.
				if route.InStr("authorizationType") != "NONE" || route.InStr("authorizerId") != "" {
					t.Errorf("%s (%s) has gateway auth %s", r.Key(), r.Auth, route.InStr("authorizationType"))
				}
			}
			api := d.mock.OfType("aws:apigatewayv2/api:Api")[0]
			source := api.Str("executionArn") + "/*/" + r.Method + awsfn.SourceArnPath(r.Path)
			found := false
			for _, p := range d.mock.OfType("aws:lambda/permission:Permission") {
				if p.InStr("sourceArn") == source && p.InStr("function") == lambda.Str("name") {
					found = true
				}
			}
			if !found {
				t.Errorf("API Gateway may not invoke %s for %s (want source %s)", fn.Name, r.Key(), source)
			}
		}
	}
	if len(routes) != want {
		t.Errorf("%d API routes, want %d", len(routes), want)
	}
	for _, a := range authorizers {
		if a.InStr("jwtConfiguration", "issuer") != testIssuer || !slices.Equal(stringsOf(a.In("jwtConfiguration", "audiences")), []string{"playplane-api"}) {
			t.Errorf("authorizer %v", a.In("jwtConfiguration"))
		}
	}
}

func (d *deployment) checkGCPRoutes(t *testing.T) {
	t.Helper()
	maps := d.mock.OfType("gcp:compute/uRLMap:URLMap")
	var urlMap map[string]any
	for _, m := range maps {
		if m.InStr("name") == d.prefix()+"-lb" {
			urlMap = m.In().(map[string]any)
		}
	}
	servesHTTP := false
	for _, fn := range catalog.Functions {
		servesHTTP = servesHTTP || d.layout.HTTPCloud(fn) == GCP
	}
	if !servesHTTP && d.layout.Delivery != catalog.DeliveryCloudCDN {
		if urlMap != nil {
			t.Error("load balancer without anything to serve")
		}
		return
	}
	if urlMap == nil {
		t.Fatal("no load balancer URL map")
	}
	host := mapOf(stringsAndMaps(urlMap["hostRules"])[0])
	if !slices.Equal(stringsOf(host["hosts"]), []string{testDomain}) {
		t.Errorf("url map hosts %v", host["hosts"])
	}
	matcher := mapOf(stringsAndMaps(urlMap["pathMatchers"])[0])
	rules := map[string]string{} // path template -> backend service id
	priorities := map[float64]bool{}
	for _, rule := range stringsAndMaps(matcher["routeRules"]) {
		r := mapOf(rule)
		template := mapOf(stringsAndMaps(r["matchRules"])[0])["pathTemplateMatch"].(string)
		rules[template] = r["service"].(string)
		if priorities[r["priority"].(float64)] {
			t.Errorf("route rule priority %v used twice", r["priority"])
		}
		priorities[r["priority"].(float64)] = true
	}
	want := 0
	for _, fn := range catalog.Functions {
		if d.layout.HTTPCloud(fn) != GCP {
			continue
		}
		for _, r := range fn.Routes {
			want++
			backendID, ok := rules[PathTemplate(r.Path)]
			if !ok {
				t.Errorf("no route rule for %s", r.Key())
				continue
			}
			// rule -> backend service -> serverless NEG -> Cloud Run service
			// of the function, which runs the function's HTTP entry point.
			backend, _ := d.byID("gcp:compute/backendService:BackendService", backendID)
			negID, _ := backend.In("backends", "0", "group").(string)
			neg, _ := d.byID("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup", negID)
			service := neg.InStr("cloudRun", "service")
			if service != d.prefix()+"-"+fn.Name {
				t.Errorf("%s reaches service %q, want %s-%s", r.Key(), service, d.prefix(), fn.Name)
			}
			if neg.InStr("networkEndpointType") != "SERVERLESS" {
				t.Errorf("%s NEG type %q", r.Key(), neg.InStr("networkEndpointType"))
			}
		}
	}
	paths := map[string]bool{}
	for _, fn := range catalog.Functions {
		if d.layout.HTTPCloud(fn) == GCP {
			for _, r := range fn.Routes {
				paths[r.Path] = true
			}
		}
	}
	if len(rules) != len(paths) {
		t.Errorf("%d route rules for %d paths (%d routes)", len(rules), len(paths), want)
	}
	// Video is the default when the CDN lives behind this load balancer.
	if d.layout.Delivery == catalog.DeliveryCloudCDN {
		bb := d.one(t, "gcp:compute/backendBucket:BackendBucket", d.prefix()+"-video")
		if urlMap["defaultService"] != bb.ID || matcher["defaultService"] != bb.ID {
			t.Errorf("default service %v, want the CDN bucket %s", urlMap["defaultService"], bb.ID)
		}
	}
	for _, r := range d.mock.OfType("gcp:compute/globalForwardingRule:GlobalForwardingRule") {
		if r.InStr("portRange") == "443" {
			proxy, ok := d.byID("gcp:compute/targetHttpsProxy:TargetHttpsProxy", r.InStr("target"))
			if !ok || len(stringsOf(proxy.In("sslCertificates"))) != 1 {
				t.Errorf("HTTPS rule targets %q without a certificate", r.InStr("target"))
			}
		}
	}
}

func stringsAndMaps(v any) []any {
	items, _ := v.([]any)
	if len(items) == 0 {
		return []any{nil}
	}
	return items
}

// TestAWSAPIAnswersBrowsers: the HTTP API's CORS configuration is the
// policy of shared/httpx, which the functions answer with elsewhere, over
// the configured origins, without credentials.
func TestAWSAPIAnswersBrowsers(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		apis := d.mock.OfType("aws:apigatewayv2/api:Api")
		if !d.layout.Uses(AWS) || len(apis) == 0 {
			return
		}
		cors, _ := apis[0].In("corsConfiguration").(map[string]any)
		if cors == nil {
			t.Fatalf("the HTTP API has no corsConfiguration: %v", apis[0].In())
		}
		strs := func(key string) []string {
			var out []string
			list, _ := cors[key].([]any)
			for _, v := range list {
				s, _ := v.(string)
				out = append(out, s)
			}
			return out
		}
		for key, want := range map[string][]string{
			"allowOrigins":  {"https://app.playplane.test", "http://localhost:5173"},
			"allowMethods":  httpx.CORSAllowMethods,
			"allowHeaders":  httpx.CORSAllowHeaders,
			"exposeHeaders": httpx.CORSExposeHeaders,
		} {
			if got := strs(key); !slices.Equal(got, want) {
				t.Errorf("corsConfiguration.%s %v, want %v", key, got, want)
			}
		}
		if cors["maxAge"] != float64(httpx.CORSMaxAge) || cors["allowCredentials"] != false {
			t.Errorf("corsConfiguration maxAge %v allowCredentials %v, want %d and false", cors["maxAge"], cors["allowCredentials"], httpx.CORSMaxAge)
		}
		for _, fn := range catalog.Functions {
			if d.layout.HTTPCloud(fn) != AWS {
				continue
			}
			for _, r := range fn.Routes {
				if r.BrowserFacing() && !slices.Contains(strs("allowMethods"), r.Method) {
					t.Errorf("%s: CORS does not allow its method", r.Key())
				}
			}
		}
	})
}
