package localedge

import (
	"math/bits"
)

// The test pictures are real H.264 (High profile, CAVLC) built without an
// encoder. An IDR opens each segment: its first macroblock is I_PCM (raw
// samples of one colour), every other one is Intra 16x16 with DC prediction
// and no residual, so the decoder spreads the first macroblock's colour
// over the picture at eight bits per macroblock. A UHD IDR is about 32 KB.
// The other pictures are P slices that skip every macroblock.

// log2MaxFrameNum bounds frame_num; it wraps at 256, far above the pictures
// of one segment (frame_num restarts at each IDR).
const log2MaxFrameNum = 8

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

// picture is what the parameter sets and slices of one rendition depend on.
type picture struct {
	width, height int // displayed size
	level         byte
	fps           int
}

func (p picture) mbWidth() int  { return (p.width + 15) / 16 }
func (p picture) mbHeight() int { return (p.height + 15) / 16 }
func (p picture) mbs() int      { return p.mbWidth() * p.mbHeight() }

const (
	profileHigh = 100
	// NAL unit types (ITU-T H.264 table 7-1).
	nalSlice = 1
	nalIDR   = 5
	nalSPS   = 7
	nalPPS   = 8
)

// sps is the sequence parameter set RBSP: High profile 4:2:0 8-bit, one
// reference frame, output order = decode order (pic_order_cnt_type 2), and
// VUI stating the frame rate and that no picture waits for reordering, so
// decoders output each frame at once.
func (p picture) sps() []byte {
	var w bitWriter
	w.u(8, profileHigh)
	w.u(8, 0) // constraint_set flags
	w.u(8, uint64(p.level))
	w.ue(0)                   // seq_parameter_set_id
	w.ue(1)                   // chroma_format_idc: 4:2:0
	w.ue(0)                   // bit_depth_luma_minus8
	w.ue(0)                   // bit_depth_chroma_minus8
	w.u(1, 0)                 // qpprime_y_zero_transform_bypass_flag
	w.u(1, 0)                 // seq_scaling_matrix_present_flag
	w.ue(log2MaxFrameNum - 4) // log2_max_frame_num_minus4
	w.ue(2)                   // pic_order_cnt_type
	w.ue(1)                   // max_num_ref_frames
	w.u(1, 0)                 // gaps_in_frame_num_value_allowed_flag
	w.ue(uint64(p.mbWidth() - 1))
	w.ue(uint64(p.mbHeight() - 1))
	w.u(1, 1) // frame_mbs_only_flag
	w.u(1, 1) // direct_8x8_inference_flag
	cropRight, cropBottom := p.mbWidth()*16-p.width, p.mbHeight()*16-p.height
	if cropRight == 0 && cropBottom == 0 {
		w.u(1, 0) // frame_cropping_flag
	} else {
		// Offsets count chroma samples: two luma samples each in 4:2:0.
		w.u(1, 1)
		w.ue(0)
		w.ue(uint64(cropRight / 2))
		w.ue(0)
		w.ue(uint64(cropBottom / 2))
	}
	w.u(1, 1)                // vui_parameters_present_flag
	w.u(1, 0)                // aspect_ratio_info_present_flag
	w.u(1, 0)                // overscan_info_present_flag
	w.u(1, 0)                // video_signal_type_present_flag
	w.u(1, 0)                // chroma_loc_info_present_flag
	w.u(1, 1)                // timing_info_present_flag
	w.u(32, 1)               // num_units_in_tick
	w.u(32, uint64(2*p.fps)) // time_scale: two ticks per frame
	w.u(1, 1)                // fixed_frame_rate_flag
	w.u(1, 0)                // nal_hrd_parameters_present_flag
	w.u(1, 0)                // vcl_hrd_parameters_present_flag
	w.u(1, 0)                // pic_struct_present_flag
	w.u(1, 1)                // bitstream_restriction_flag
	w.u(1, 1)                // motion_vectors_over_pic_boundaries_flag
	w.ue(0)                  // max_bytes_per_pic_denom: no limit
	w.ue(0)                  // max_bits_per_mb_denom: no limit
	w.ue(15)                 // log2_max_mv_length_horizontal
	w.ue(15)                 // log2_max_mv_length_vertical
	w.ue(0)                  // max_num_reorder_frames
	w.ue(1)                  // max_dec_frame_buffering
	return w.trailing()
}

// pps is the picture parameter set RBSP: CAVLC, no 8x8 transform.
func pps() []byte {
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

// colour is one flat picture colour in Y'CbCr, each sample in 16..235 so
// that no PCM byte is zero.
type colour struct{ y, cb, cr byte }

// idrSlice codes a whole picture of colour c as one I slice.
func (p picture) idrSlice(idrPicID int, c colour) []byte {
	var w bitWriter
	w.buf = make([]byte, 0, p.mbs()+512)
	w.ue(0)                 // first_mb_in_slice
	w.ue(7)                 // slice_type: I, and every slice of the picture is I
	w.ue(0)                 // pic_parameter_set_id
	w.u(log2MaxFrameNum, 0) // frame_num
	w.ue(uint64(idrPicID))  // idr_pic_id: differs between consecutive IDRs
	w.u(1, 0)               // no_output_of_prior_pics_flag
	w.u(1, 0)               // long_term_reference_flag
	w.se(0)                 // slice_qp_delta
	w.ue(1)                 // disable_deblocking_filter_idc: off

	// Macroblock 0: I_PCM.
	w.ue(25)
	w.alignZero()
	for range 256 {
		w.u(8, uint64(c.y))
	}
	for range 64 {
		w.u(8, uint64(c.cb))
	}
	for range 64 {
		w.u(8, uint64(c.cr))
	}
	mbw := p.mbWidth()
	for mb := 1; mb < p.mbs(); mb++ {
		w.ue(3) // mb_type I_16x16_2_0_0: DC prediction, no AC, no chroma coefficients
		w.ue(0) // intra_chroma_pred_mode: DC
		w.se(0) // mb_qp_delta
		// The Intra16x16 DC block is always coded; its coeff_token with no
		// coefficients depends on nC, the coefficient count around it
		// (clause 9.2.1). An I_PCM neighbour counts 16, one without AC
		// coefficients 0; only the macroblocks right of and below
		// macroblock 0 see it, and alone (nC = 16, the 6-bit FLC table).
		if mb == 1 || mb == mbw {
			w.u(6, 0b000011)
		} else {
			w.u(1, 1)
		}
	}
	return w.trailing()
}

// skipSlice codes a P picture that repeats its reference.
func (p picture) skipSlice(frameNum int) []byte {
	var w bitWriter
	w.ue(0)                                                     // first_mb_in_slice
	w.ue(5)                                                     // slice_type: P, every slice of the picture is P
	w.ue(0)                                                     // pic_parameter_set_id
	w.u(log2MaxFrameNum, uint64(frameNum%(1<<log2MaxFrameNum))) // frame_num
	w.u(1, 0)                                                   // num_ref_idx_active_override_flag
	w.u(1, 0)                                                   // ref_pic_list_modification_flag_l0
	w.u(1, 0)                                                   // adaptive_ref_pic_marking_mode_flag
	w.se(0)                                                     // slice_qp_delta
	w.ue(1)                                                     // disable_deblocking_filter_idc
	w.ue(uint64(p.mbs()))                                       // mb_skip_run: every macroblock
	return w.trailing()
}

// nal wraps an RBSP in a NAL unit header and inserts emulation prevention
// bytes, so that no 00 00 0x (x <= 3) appears inside.
func nal(refIDC, typ byte, rbsp []byte) []byte {
	dst := make([]byte, 0, len(rbsp)+len(rbsp)/64+1)
	dst = append(dst, refIDC<<5|typ)
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
