package localedge

import (
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// CMCD (Common Media Client Data, CTA-5004) reaches a CDN either as one
// query parameter CMCD=<url-encoded list> or as up to four headers; each
// carries a comma-separated list of key[=value] pairs where a bare key is
// boolean true, a quoted value a string, and anything else a number or a
// token (ot=v, sf=h, st=v).
const cmcdQueryParam = "CMCD"

var cmcdHeaders = []string{"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session"}

// cmcd is the CMCD data of one request.
type cmcd struct {
	mode   string // "query", "headers", "query+headers", or "" for none
	values map[string]any
}

func requestCMCD(r *http.Request) cmcd {
	c := cmcd{values: map[string]any{}}
	var modes []string
	for p := range strings.SplitSeq(r.URL.RawQuery, "&") {
		name, value, _ := strings.Cut(p, "=")
		if name != cmcdQueryParam {
			continue
		}
		if v, err := url.QueryUnescape(value); err == nil {
			parseCMCD(v, c.values)
			modes = append(modes, "query")
		}
		break
	}
	for _, h := range cmcdHeaders {
		if v := r.Header.Get(h); v != "" {
			if len(modes) == 0 || modes[len(modes)-1] != "headers" {
				modes = append(modes, "headers")
			}
			parseCMCD(v, c.values)
		}
	}
	c.mode = strings.Join(modes, "+")
	return c
}

// attrs lists the values sorted by key, so log lines compare.
func (c cmcd) attrs() []slog.Attr {
	keys := make([]string, 0, len(c.values))
	for k := range c.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		out = append(out, slog.Any(k, c.values[k]))
	}
	return out
}

// parseCMCD adds the pairs of list to into. Malformed pairs are skipped: a
// CDN logs what it can read and never refuses a request for its CMCD.
func parseCMCD(list string, into map[string]any) {
	for len(list) > 0 {
		var pair string
		pair, list = cutPair(list)
		key, value, hasValue := strings.Cut(strings.TrimSpace(pair), "=")
		if !validCMCDKey(key) {
			continue
		}
		if !hasValue {
			into[key] = true
			continue
		}
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			s, ok := unquote(value[1 : len(value)-1])
			if ok {
				into[key] = s
			}
			continue
		}
		switch {
		case value == "?0" || value == "?1":
			into[key] = value == "?1"
		case !sfNumber(value):
			if value != "" {
				into[key] = value // a token
			}
		case strings.IndexByte(value, '.') < 0:
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				into[key] = n
			}
		default:
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				into[key] = f
			}
		}
	}
}

// sfNumber reports whether v has an RFC 8941 number's shape, ["-"] DIGITS
// ["." DIGITS]: strconv alone would also read inf, nan, 1e3 and +5.
func sfNumber(v string) bool {
	v = strings.TrimPrefix(v, "-")
	intPart, frac, dot := strings.Cut(v, ".")
	return allDigits(intPart) && (!dot || allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// cutPair splits list at the first comma outside a quoted string.
func cutPair(list string) (pair, rest string) {
	quoted := false
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return list[:i], list[i+1:]
			}
		}
	}
	return list, ""
}

func unquote(s string) (string, bool) {
	if !strings.ContainsRune(s, '\\') {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				return "", false
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}

// validCMCDKey accepts an RFC 8941 key: the keys of CTA-5004 and custom
// ones ("com.example-mykey"): a lowercase letter or '*', then lowercase
// letters, digits, '_', '-', '.' and '*'.
func validCMCDKey(k string) bool {
	if k == "" || len(k) > 64 || !(k[0] >= 'a' && k[0] <= 'z' || k[0] == '*') {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}
