package playback

// QoE is a player's quality-of-experience report. Its JSON names are CMCD
// (CTA-5004-B) keys where the figure is the one CMCD defines (br, bl, mtp,
// cdn) and names of our own where it is not: CMCD's su is a Boolean
// startup flag and rc a response code, so startup time and stall counts
// must not borrow them (events/schemas/cmcd.md has the mapping). Counters
// are cumulative for the session, so the latest report supersedes earlier
// ones.
//
// Deprecated names: requests and messages with su, rc, rd and pd (this
// struct's names until the CMCD v2 collector) are still read, as
// startup_ms, rebuffer_count, rebuffer_ms and played_ms, for one version;
// they are never written.
type QoE struct {
	BitrateKbps    int    `json:"br,omitempty"`             // encoded bitrate of the current rendition
	BufferMS       int    `json:"bl,omitempty"`             // buffer length
	ThroughputKbps int    `json:"mtp,omitempty"`            // measured throughput
	StartupMS      int    `json:"startup_ms,omitempty"`     // time from play to first frame (CMCD msd)
	RebufferCount  int    `json:"rebuffer_count,omitempty"` // stalls so far
	RebufferMS     int64  `json:"rebuffer_ms,omitempty"`    // total stall time so far
	PlayedMS       int64  `json:"played_ms,omitempty"`      // total play time so far
	DroppedFrames  int    `json:"df,omitempty"`
	CDN            string `json:"cdn,omitempty"`  // pathway used
	EdgeID         string `json:"edge,omitempty"` // edge that served the last segment
	// Continued says the session goes on with a play another session of
	// the page started (a re-authorization replaced that one): its view
	// has started, with no first frame, so no startup time, of its own.
	Continued bool `json:"continued,omitempty"`
	// View names the play the session goes on with when it replaced
	// another session of the same play (a re-authorization): the id of
	// the session the play began in. Absent for the session a play began
	// in. The session's view is folded into that play's, one view however
	// many sessions it went through (QoEPlays), among the sessions of the
	// same account and title only: a player can misname the plays of its
	// own account, as it can misstate its own figures, and no other's.
	View string `json:"view,omitempty"`
}
