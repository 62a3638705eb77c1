package playback

import (
	"encoding/json"
	"strconv"
	"time"
)

// AppendJSON appends r encoded as json.Marshal encodes it, without
// re-reading the documents it carries: an import's audit records hold
// every document it writes, and json.Marshal would scan each again. The
// After documents must be those of a prepared change set (ChangeSet.
// Prepare: canonical JSON, appended as they are); Before documents, read
// from a store, are checked and compacted as json.Marshal does.
func (r AuditRecord) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"actor":`...)
	b = appendString(b, r.Actor)
	at, err := r.At.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, `,"at":`...)
	b = append(b, at...)
	if r.Changes == nil {
		return append(b, `,"changes":null}`...), nil
	}
	b = append(b, `,"changes":[`...)
	for i, c := range r.Changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kind":`...)
		b = appendString(b, string(c.Kind))
		b = append(b, `,"id":`...)
		b = appendString(b, c.ID)
		b = append(b, `,"op":`...)
		b = appendString(b, c.Op)
		if len(c.Before) > 0 {
			before, err := json.Marshal(c.Before)
			if err != nil {
				return nil, err
			}
			b = append(b, `,"before":`...)
			b = append(b, before...)
		}
		if len(c.After) > 0 {
			b = append(b, `,"after":`...)
			b = append(b, c.After...)
		}
		if c.Version != "" {
			b = append(b, `,"version":`...)
			b = appendString(b, c.Version)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// appendString appends s as a JSON string, as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTitleJSON appends t as json.Marshal encodes it, or reports false
// for json.Marshal to encode it (a time it would refuse): an import
// encodes every title of a catalogue, and reflection is most of that.
func appendTitleJSON(b []byte, t *Title) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, t.Name)
	if t.Rating != nil {
		b = append(b, `,"rating":`...)
		b = strconv.AppendInt(b, int64(*t.Rating), 10)
	}
	b = append(b, `,"asset_path":`...)
	b = appendString(b, t.AssetPath)
	b = append(b, `,"manifest":`...)
	b = appendString(b, t.Manifest)
	b = append(b, `,"windows":`...)
	if t.Windows == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, w := range t.Windows {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"territory":`...)
			b = appendString(b, w.Territory)
			var ok bool
			b = append(b, `,"start":`...)
			if b, ok = appendTime(b, w.Start); !ok {
				return b, false
			}
			b = append(b, `,"end":`...)
			if b, ok = appendTime(b, w.End); !ok {
				return b, false
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(t.Renditions) > 0 {
		b = append(b, `,"renditions":[`...)
		for i, r := range t.Renditions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"path":`...)
			b = appendString(b, r.Path)
			b = append(b, `,"quality":`...)
			b = appendString(b, string(r.Quality))
			b = append(b, `,"bandwidth":`...)
			b = strconv.AppendInt(b, int64(r.Bandwidth), 10)
			b = append(b, `,"width":`...)
			b = strconv.AppendInt(b, int64(r.Width), 10)
			b = append(b, `,"height":`...)
			b = strconv.AppendInt(b, int64(r.Height), 10)
			b = append(b, `,"codecs":`...)
			b = appendString(b, r.Codecs)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendTime is time.Time's MarshalJSON for the times it encodes
// without complaint (years 0-9999, offsets in whole minutes under a day).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	_, off := t.Zone()
	if y := t.Year(); y < 0 || y > 9999 || off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
