package playback

import "encoding/json"

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
