package playback

// QoE is a player's quality-of-experience report, named after CMCD
// (CTA-5004) keys where CMCD has one. Counters are cumulative for the
// session, so the latest report supersedes earlier ones.
type QoE struct {
	BitrateKbps    int    `json:"br,omitempty"`  // encoded bitrate of the current rendition
	BufferMS       int    `json:"bl,omitempty"`  // buffer length
	ThroughputKbps int    `json:"mtp,omitempty"` // measured throughput
	StartupMS      int    `json:"su,omitempty"`  // time from play to first frame
	RebufferCount  int    `json:"rc,omitempty"`  // stalls so far
	RebufferMS     int64  `json:"rd,omitempty"`  // total stall time so far
	PlayedMS       int64  `json:"pd,omitempty"`  // total play time so far
	DroppedFrames  int    `json:"df,omitempty"`
	CDN            string `json:"cdn,omitempty"`  // pathway used
	EdgeID         string `json:"edge,omitempty"` // edge that served the last segment
}
