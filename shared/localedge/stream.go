package localedge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The test stream is real H.264 in MPEG-TS, small enough to build at start:
// each segment opens with an IDR picture whose macroblocks are all I_PCM
// (raw samples, so no transform or entropy coder is needed to produce a
// conforming picture) followed by P pictures that skip every macroblock
// (repeat the reference). Constrained Baseline, so every decoder plays it.
const (
	videoWidth      = 32 // pixels; two macroblocks
	videoHeight     = 32
	framesPerSecond = 5
	segmentSeconds  = 2
	segmentCount    = 3
	framesPerSeg    = framesPerSecond * segmentSeconds

	// avc1.42C014: profile 66 (Baseline) with constraint_set0 and
	// constraint_set1 (Constrained Baseline), level 2.0.
	codecs      = "avc1.42c014"
	profileIDC  = 66
	constraints = 0xC0
	levelIDC    = 20

	log2MaxFrameNum = 8 // frame_num wraps at 256, far above framesPerSeg

	ticksPerSecond = 90000
	ticksPerFrame  = ticksPerSecond / framesPerSecond
	firstPTS       = ticksPerSecond // leave room for PCR below the first DTS

	pidPMT   = 0x1000
	pidVideo = 0x0100
)

// stream is the generated rendition.
type stream struct {
	segments [][]byte
}

func buildStream() (*stream, error) {
	var mux tsMuxer
	s := &stream{}
	sps, pps := spsNAL(), ppsNAL()
	for seg := range segmentCount {
		mux.out = nil
		mux.writePSI()
		for f := range framesPerSeg {
			var au []byte
			au = append(au, 0, 0, 0, 1, 0x09, 0xF0) // access unit delimiter, any slice type
			idr := f == 0
			if idr {
				au = appendNAL(au, 3, 7, sps)
				au = appendNAL(au, 3, 8, pps)
				au = appendNAL(au, 3, 5, idrSlice(seg))
			} else {
				au = appendNAL(au, 2, 1, skipSlice(f))
			}
			pts := uint64(firstPTS + (seg*framesPerSeg+f)*ticksPerFrame)
			mux.writeAccessUnit(au, pts, idr)
		}
		if len(mux.out)%tsPacketSize != 0 {
			return nil, fmt.Errorf("localedge: segment %d is not whole TS packets", seg)
		}
		s.segments = append(s.segments, mux.out)
	}
	return s, nil
}

func (s *stream) masterPlaylist(query string) []byte {
	maxBytes := 0
	for _, seg := range s.segments {
		maxBytes = max(maxBytes, len(seg))
	}
	bandwidth := maxBytes * 8 / segmentSeconds
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n")
	fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d,FRAME-RATE=%d.000,CODECS=\"%s\"\n", bandwidth, videoWidth, videoHeight, framesPerSecond, codecs)
	b.WriteString(withQuery("media.m3u8", query) + "\n")
	return b.Bytes()
}

func (s *stream) mediaPlaylist(query string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n", segmentSeconds)
	for i := range s.segments {
		fmt.Fprintf(&b, "#EXTINF:%d.000,\n%s\n", segmentSeconds, withQuery(fmt.Sprintf("seg%d.ts", i), query))
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes()
}

func withQuery(uri, query string) string {
	if query == "" {
		return uri
	}
	return uri + "?" + query
}

// --- H.264 ---

type bitWriter struct {
	buf  []byte
	cur  byte
	nbit uint
}

func (w *bitWriter) u(n uint, v uint64) {
	for i := int(n) - 1; i >= 0; i-- {
		w.cur = w.cur<<1 | byte(v>>uint(i)&1)
		w.nbit++
		if w.nbit == 8 {
			w.buf = append(w.buf, w.cur)
			w.cur, w.nbit = 0, 0
		}
	}
}

// ue writes unsigned Exp-Golomb.
func (w *bitWriter) ue(v uint64) {
	x := v + 1
	n := uint(bits.Len64(x))
	w.u(n-1, 0)
	w.u(n, x)
}

// se writes signed Exp-Golomb.
func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

func (w *bitWriter) alignZero() {
	for w.nbit != 0 {
		w.u(1, 0)
	}
}

// trailing writes rbsp_trailing_bits: a one, then zeros to the byte end.
func (w *bitWriter) trailing() []byte {
	w.u(1, 1)
	w.alignZero()
	return w.buf
}

func spsNAL() []byte {
	var w bitWriter
	w.u(8, profileIDC)
	w.u(8, constraints)
	w.u(8, levelIDC)
	w.ue(0)                   // seq_parameter_set_id
	w.ue(log2MaxFrameNum - 4) // log2_max_frame_num_minus4
	w.ue(2)                   // pic_order_cnt_type: output order = decode order
	w.ue(1)                   // max_num_ref_frames
	w.u(1, 0)                 // gaps_in_frame_num_value_allowed_flag
	w.ue(videoWidth/16 - 1)   // pic_width_in_mbs_minus1
	w.ue(videoHeight/16 - 1)  // pic_height_in_map_units_minus1
	w.u(1, 1)                 // frame_mbs_only_flag
	w.u(1, 1)                 // direct_8x8_inference_flag
	w.u(1, 0)                 // frame_cropping_flag
	w.u(1, 0)                 // vui_parameters_present_flag
	return w.trailing()
}

func ppsNAL() []byte {
	var w bitWriter
	w.ue(0)   // pic_parameter_set_id
	w.ue(0)   // seq_parameter_set_id
	w.u(1, 0) // entropy_coding_mode_flag: CAVLC
	w.u(1, 0) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)   // num_slice_groups_minus1
	w.ue(0)   // num_ref_idx_l0_default_active_minus1
	w.ue(0)   // num_ref_idx_l1_default_active_minus1
	w.u(1, 0) // weighted_pred_flag
	w.u(2, 0) // weighted_bipred_idc
	w.se(0)   // pic_init_qp_minus26
	w.se(0)   // pic_init_qs_minus26
	w.se(0)   // chroma_qp_index_offset
	w.u(1, 1) // deblocking_filter_control_present_flag
	w.u(1, 0) // constrained_intra_pred_flag
	w.u(1, 0) // redundant_pic_cnt_present_flag
	return w.trailing()
}

// idrSlice codes one I slice of I_PCM macroblocks whose colours depend on
// the segment, so a viewer sees the segments change.
func idrSlice(seg int) []byte {
	var w bitWriter
	w.ue(0)                 // first_mb_in_slice
	w.ue(7)                 // slice_type: I, all slices of the picture
	w.ue(0)                 // pic_parameter_set_id
	w.u(log2MaxFrameNum, 0) // frame_num
	w.ue(uint64(seg % 2))   // idr_pic_id: differs between consecutive IDRs
	w.u(1, 0)               // no_output_of_prior_pics_flag
	w.u(1, 0)               // long_term_reference_flag
	w.se(0)                 // slice_qp_delta
	w.ue(1)                 // disable_deblocking_filter_idc
	mbs := (videoWidth / 16) * (videoHeight / 16)
	for mb := range mbs {
		w.ue(25) // mb_type I_PCM
		w.alignZero()
		// Samples are kept in 16..235: never zero, so the raw payload
		// needs no emulation prevention and no decoder rejects it.
		luma := byte(40 + (seg*70+mb*25)%180)
		cb := byte(60 + (seg*90+mb*40)%140)
		cr := byte(200 - (seg*50+mb*30)%140)
		for i := range 256 {
			w.u(8, uint64(luma+byte(i%16)))
		}
		for range 64 {
			w.u(8, uint64(cb))
		}
		for range 64 {
			w.u(8, uint64(cr))
		}
	}
	return w.trailing()
}

// skipSlice codes a P slice that skips every macroblock.
func skipSlice(frameNum int) []byte {
	var w bitWriter
	w.ue(0)                                              // first_mb_in_slice
	w.ue(5)                                              // slice_type: P, all slices of the picture
	w.ue(0)                                              // pic_parameter_set_id
	w.u(log2MaxFrameNum, uint64(frameNum))               // frame_num
	w.u(1, 0)                                            // num_ref_idx_active_override_flag
	w.u(1, 0)                                            // ref_pic_list_modification_flag_l0
	w.u(1, 0)                                            // adaptive_ref_pic_marking_mode_flag
	w.se(0)                                              // slice_qp_delta
	w.ue(1)                                              // disable_deblocking_filter_idc
	w.ue(uint64((videoWidth / 16) * (videoHeight / 16))) // mb_skip_run: all
	return w.trailing()
}

// appendNAL appends an Annex B NAL unit with emulation prevention.
func appendNAL(dst []byte, refIDC, typ byte, rbsp []byte) []byte {
	dst = append(dst, 0, 0, 0, 1, refIDC<<5|typ)
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// --- MPEG-TS ---

const tsPacketSize = 188

type tsMuxer struct {
	out []byte
	cc  map[uint16]byte // continuity counters, continued across segments
}

func (m *tsMuxer) nextCC(pid uint16) byte {
	if m.cc == nil {
		m.cc = map[uint16]byte{}
	}
	c := m.cc[pid]
	m.cc[pid] = (c + 1) & 0x0f
	return c
}

// writePSI writes the PAT and the PMT, each in one packet.
func (m *tsMuxer) writePSI() {
	pat := []byte{
		0x00,       // table_id: program_association_section
		0xB0, 0x0D, // section_syntax_indicator, section_length 13
		0x00, 0x01, // transport_stream_id
		0xC1,       // version 0, current_next_indicator
		0x00, 0x00, // section_number, last_section_number
		0x00, 0x01, // program_number 1
		0xE0 | pidPMT>>8, pidPMT & 0xff,
	}
	m.writeSection(0, pat)
	pmt := []byte{
		0x02,       // table_id: TS_program_map_section
		0xB0, 0x12, // section_syntax_indicator, section_length 18
		0x00, 0x01, // program_number
		0xC1,       // version 0, current_next_indicator
		0x00, 0x00, // section_number, last_section_number
		0xE0 | pidVideo>>8, pidVideo & 0xff, // PCR_PID
		0xF0, 0x00, // program_info_length 0
		0x1B,                                // stream_type: H.264
		0xE0 | pidVideo>>8, pidVideo & 0xff, // elementary_PID
		0xF0, 0x00, // ES_info_length 0
	}
	m.writeSection(pidPMT, pmt)
}

func (m *tsMuxer) writeSection(pid uint16, section []byte) {
	section = binary.BigEndian.AppendUint32(section, crc32MPEG2(section))
	pkt := make([]byte, 0, tsPacketSize)
	pkt = append(pkt, 0x47, 0x40|byte(pid>>8), byte(pid), 0x10|m.nextCC(pid), 0x00) // payload_unit_start, pointer_field 0
	pkt = append(pkt, section...)
	for len(pkt) < tsPacketSize {
		pkt = append(pkt, 0xFF)
	}
	m.out = append(m.out, pkt...)
}

// writeAccessUnit writes one PES packet carrying au, with a PCR on its first
// TS packet and the random access indicator on IDRs.
func (m *tsMuxer) writeAccessUnit(au []byte, pts uint64, keyframe bool) {
	pes := []byte{0, 0, 1, 0xE0, 0, 0, 0x84, 0x80, 5}
	pes = append(pes,
		byte(0x21|(pts>>29)&0x0E),
		byte(pts>>22), byte(0x01|(pts>>14)&0xFE),
		byte(pts>>7), byte(0x01|(pts<<1)&0xFE))
	if n := len(pes) - 6 + len(au); n <= 0xFFFF {
		pes[4], pes[5] = byte(n>>8), byte(n)
	}
	pes = append(pes, au...)

	first := true
	for len(pes) > 0 {
		var af []byte
		if first {
			pcr := pts - ticksPerSecond/10 // PCR runs 100 ms ahead of decoding
			flags := byte(0x10)            // PCR_flag
			if keyframe {
				flags |= 0x40 // random_access_indicator
			}
			af = []byte{flags, byte(pcr >> 25), byte(pcr >> 17), byte(pcr >> 9), byte(pcr >> 1), byte(pcr<<7) | 0x7E, 0x00}
		}
		room := tsPacketSize - 4
		if af != nil {
			room -= 1 + len(af)
		}
		if len(pes) < room {
			// Stuff the adaptation field so the payload ends the packet.
			if af == nil {
				af = []byte{}
				room--
			}
			if len(pes) < room && len(af) == 0 {
				af = append(af, 0x00) // flags byte
				room--
			}
			for len(pes) < room {
				af = append(af, 0xFF)
				room--
			}
		}
		n := min(room, len(pes))
		pusi := byte(0)
		if first {
			pusi = 0x40
		}
		afc := byte(0x10)
		if af != nil {
			afc = 0x30
		}
		pkt := make([]byte, 0, tsPacketSize)
		pkt = append(pkt, 0x47, pusi|byte(pidVideo>>8), byte(pidVideo&0xff), afc|m.nextCC(pidVideo))
		if af != nil {
			pkt = append(pkt, byte(len(af)))
			pkt = append(pkt, af...)
		}
		pkt = append(pkt, pes[:n]...)
		m.out = append(m.out, pkt...)
		pes = pes[n:]
		first = false
	}
}

// crc32MPEG2 is CRC-32/MPEG-2: polynomial 0x04C11DB7, not reflected,
// initial value all ones, no final xor.
func crc32MPEG2(data []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, b := range data {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
