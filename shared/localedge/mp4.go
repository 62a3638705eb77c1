package localedge

import (
	"encoding/binary"
)

// CMAF packaging (ISO/IEC 14496-12 boxes, 14496-15 for AVC, 23000-19 for
// the CMAF constraints): an init segment per rendition with the sample
// entry and no samples, and media segments of one movie fragment each.

// timescale is the media timescale (ticks per second) of every track and of
// the MPD's SegmentTemplate.
const timescale = 90000

func u16(v int) []byte   { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte   { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func u64(v int) []byte   { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func zeros(n int) []byte { return make([]byte, n) }

func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = append(out, typ...)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fullBox(typ string, version byte, flags int, parts ...[]byte) []byte {
	vf := []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	return box(typ, append([][]byte{vf}, parts...)...)
}

// unityMatrix is the identity transformation of mvhd and tkhd.
func unityMatrix() []byte {
	var m []byte
	for _, v := range []int{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		m = append(m, u32(v)...)
	}
	return m
}

func brands(major string, compatible ...string) []byte {
	b := append([]byte(major), u32(0)...) // minor_version
	for _, c := range compatible {
		b = append(b, c...)
	}
	return b
}

// initSegment is ftyp + moov for one AVC track. duration is the whole
// presentation in timescale ticks, carried in mehd so that a reader of the
// concatenated fragments knows it up front.
func initSegment(p picture, sps, pps []byte, duration int) []byte {
	avcC := box("avcC",
		[]byte{1, sps[1], sps[2], sps[3], 0xFF, 0xE1}, // version, profile, compatibility, level, 4-byte lengths, 1 SPS
		u16(len(sps)), sps,
		[]byte{1}, u16(len(pps)), pps,
		// High profile adds chroma_format (1: 4:2:0), bit depths and no
		// SPS extensions.
		[]byte{0xFC | 1, 0xF8, 0xF8, 0},
	)
	compressor := make([]byte, 32)
	avc1 := box("avc1",
		zeros(6), u16(1), // reserved, data_reference_index
		zeros(16),                   // pre_defined, reserved
		u16(p.width), u16(p.height), // displayed size
		u32(0x00480000), u32(0x00480000), // 72 dpi
		u32(0), u16(1), // reserved, frame_count
		compressor,
		u16(0x18), u16(0xFFFF), // depth, pre_defined -1
		avcC,
		box("pasp", u32(1), u32(1)),
	)
	stbl := box("stbl",
		fullBox("stsd", 0, 0, u32(1), avc1),
		fullBox("stts", 0, 0, u32(0)),
		fullBox("stsc", 0, 0, u32(0)),
		fullBox("stsz", 0, 0, u32(0), u32(0)),
		fullBox("stco", 0, 0, u32(0)),
	)
	minf := box("minf",
		fullBox("vmhd", 0, 1, zeros(8)),
		box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1))),
		stbl,
	)
	mdia := box("mdia",
		fullBox("mdhd", 0, 0, u32(0), u32(0), u32(timescale), u32(0), u16(0x55C4), u16(0)), // language "und"
		fullBox("hdlr", 0, 0, u32(0), []byte("vide"), zeros(12), []byte("playplane test video\x00")),
		minf,
	)
	trak := box("trak",
		// flags: track_enabled | track_in_movie
		fullBox("tkhd", 0, 3, u32(0), u32(0), u32(1), u32(0), u32(0), zeros(8),
			u16(0), u16(0), u16(0), u16(0), unityMatrix(), u32(p.width<<16), u32(p.height<<16)),
		mdia,
	)
	mvex := box("mvex",
		fullBox("mehd", 0, 0, u32(duration)),
		fullBox("trex", 0, 0, u32(1), u32(1), u32(0), u32(0), u32(0)),
	)
	moov := box("moov",
		fullBox("mvhd", 0, 0, u32(0), u32(0), u32(timescale), u32(0),
			u32(0x00010000), u16(0x0100), zeros(10), unityMatrix(), zeros(24), u32(2)),
		trak, mvex,
	)
	return append(box("ftyp", brands("cmfc", "iso6", "cmfc", "avc1")), moov...)
}

// sample is one access unit of a fragment.
type sample struct {
	data []byte // NAL units, each behind a 4-byte length
	sync bool
}

// Sample flags (14496-12 8.8.3.1): a sync sample depends on nothing; the
// others depend on earlier ones and are not sync samples.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// mediaSegment is styp + moof + mdat: one fragment of samples of equal
// duration starting at baseTime.
func mediaSegment(seq int, baseTime, sampleDuration int, samples []sample) []byte {
	var entries []byte
	mdatSize := 8
	for _, s := range samples {
		flags := flagsNonSync
		if s.sync {
			flags = flagsSync
		}
		entries = append(entries, u32(sampleDuration)...)
		entries = append(entries, u32(len(s.data))...)
		entries = append(entries, u32(flags)...)
		mdatSize += len(s.data)
	}
	build := func(dataOffset int) []byte {
		return box("moof",
			fullBox("mfhd", 0, 0, u32(seq)),
			box("traf",
				fullBox("tfhd", 0, 0x020000, u32(1)), // default-base-is-moof
				fullBox("tfdt", 1, 0, u64(baseTime)),
				// flags: data-offset, sample-duration, sample-size, sample-flags
				fullBox("trun", 0, 0x000701, u32(len(samples)), u32(dataOffset), entries),
			),
		)
	}
	moof := build(0)
	moof = build(len(moof) + 8) // data starts after moof and the mdat header
	out := box("styp", brands("cmfs", "cmfs", "msdh"))
	out = append(out, moof...)
	out = binary.BigEndian.AppendUint32(out, uint32(mdatSize))
	out = append(out, "mdat"...)
	for _, s := range samples {
		out = append(out, s.data...)
	}
	return out
}

// lengthPrefixed joins NAL units the way an AVC sample holds them.
func lengthPrefixed(nals ...[]byte) []byte {
	n := 0
	for _, u := range nals {
		n += 4 + len(u)
	}
	out := make([]byte, 0, n)
	for _, u := range nals {
		out = binary.BigEndian.AppendUint32(out, uint32(len(u)))
		out = append(out, u...)
	}
	return out
}
