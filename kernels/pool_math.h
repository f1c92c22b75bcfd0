#pragma once
// Window arithmetic of the 2-d pools, shared by the CPU reference (kernels/cpu/pool.cpp) and the
// CUDA kernels (kernels/cuda/pool.cu), so both devices pool the same windows, divide by the same
// counts and pick the same maximum.
//
// Note [Pool backward by gathering]
// The backward kernels on CUDA give each input element one thread, which visits the outputs whose
// windows cover it in increasing output order (rows, then columns) and adds their contributions:
// no atomics, so runs are bit-identical, and the order of the additions is the order in which the
// CPU's scatter loop adds into the same element, so the sums agree with the CPU's to rounding of
// the individual terms only. The covering outputs of input position i along one dim are the o
// with o * stride - pad <= i < o * stride - pad + kernel (sliding windows, pool_cover_range) or
// start(o) <= i < end(o) (adaptive windows, adaptive_cover_range).
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln::pool {

// First row/column of an adaptive window and one past its last: [floor(o*in/out), ceil((o+1)*in/out)).
KILN_HD int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
KILN_HD int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// First index >= start of the form start + k * step that is >= 0 (dilated max-pool windows).
KILN_HD int64_t first_valid(int64_t start, int64_t step) {
  if (start >= 0) return start;
  return start + ((-start + step - 1) / step) * step;
}

// floor(a / b) for b > 0 and any sign of a.
KILN_HD int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Avg-pool window of output o along one dim, clipped as the CPU does: the padded window
// [s, s + k) is cut to the padded input [-pad, in + pad) (its length is the count_include_pad
// divisor factor), then to the input [0, in).
struct AvgSpan {
  int64_t lo, hi;   // clipped to the input
  int64_t padded;   // length clipped only to the padded input
};
KILN_HD AvgSpan avg_span(int64_t o, int64_t in, int64_t k, int64_t stride, int64_t pad) {
  const int64_t s = o * stride - pad;
  int64_t e = s + k;
  if (e > in + pad) e = in + pad;
  AvgSpan r;
  r.padded = e - s;
  r.lo = s > 0 ? s : 0;
  r.hi = e < in ? e : in;
  return r;
}

// The divisor of one avg-pool output (as the CPU: divisor_override when > 0, else the window size
// with or without padding).
KILN_HD double avg_divisor(const AvgSpan& h, const AvgSpan& w, bool count_include_pad, int64_t divisor) {
  if (divisor > 0) return double(divisor);
  return count_include_pad ? double(h.padded * w.padded) : double((h.hi - h.lo) * (w.hi - w.lo));
}

// Outputs [o0, o1) of a sliding window (kernel k, stride, pad, no dilation) covering input i,
// clamped to [0, out). Empty when o0 >= o1.
KILN_HD void pool_cover_range(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t& o0,
                              int64_t& o1) {
  // o * stride - pad <= i  and  o * stride - pad + k > i.
  int64_t lo = floor_div(i + pad - k, stride) + 1;
  int64_t hi = floor_div(i + pad, stride) + 1;
  o0 = lo > 0 ? lo : 0;
  o1 = hi < out ? hi : out;
}

// Outputs [o0, o1) of adaptive windows (in -> out) covering input i; never empty for 0 <= i < in.
KILN_HD void adaptive_cover_range(int64_t i, int64_t in, int64_t out, int64_t& o0, int64_t& o1) {
  int64_t o = (i * out) / in;  // start(o) <= i, a window that covers i or lies after one that does
  while (o > 0 && adaptive_end(o - 1, in, out) > i) --o;
  while (o < out && adaptive_end(o, in, out) <= i) ++o;
  o0 = o;
  int64_t e = o;
  while (e < out && adaptive_start(e, in, out) <= i) ++e;
  o1 = e;
}

// One step of the window max: a NaN replaces the running max (the last NaN wins), otherwise only a
// strictly greater value does, so ties keep the first position (as the CPU and PyTorch).
template <class C>
KILN_HD bool max_takes(C v, C best) {
  return v > best || v != v;
}

// The same choice as an order-free merge of two candidates (value, flat position), for reductions
// that combine partial maxima in a tree: a NaN wins over numbers, of two NaNs the later position
// (the CPU scan keeps the last NaN), otherwise the larger value, of equal values the earlier
// position. Merging a window's elements in any order gives what the in-order scan gives.
template <class C>
KILN_HD void max_merge(C& best, int64_t& best_i, C v, int64_t i) {
  const bool best_nan = best != best, v_nan = v != v;
  bool take;
  if (best_nan || v_nan)
    take = v_nan && (!best_nan || i > best_i);
  else
    take = v > best || (v == best && i < best_i);
  if (take) {
    best = v;
    best_i = i;
  }
}

}  // namespace kiln::pool
