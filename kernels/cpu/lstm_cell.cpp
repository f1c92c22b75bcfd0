// The fused LSTM cell on the CPU: rows of the batch in parallel, one pass per row. This kernel is
// what ag::lstm_cell runs for CPU tensors, so it is written for speed as well as for reference.
#include "kiln/kernels/cpu/lstm_cell.h"

#include <algorithm>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/layer_dtype.h"
#include "kiln/kernels/lstm_cell_math.h"

namespace kiln::cpu {
namespace {

int64_t row_grain(int64_t H) { return std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, H)); }

void check_sizes(const char* op, int64_t B, int64_t H) {
  KILN_CHECK(B >= 0 && H >= 0, op, ": sizes must be non-negative, got B=", B, " H=", H);
}

}  // namespace

void lstm_cell_forward(DType dtype, const void* gates, const void* c_prev, void* h, void* c, int64_t B, int64_t H) {
  const char* op = "lstm_cell_forward";
  check_sizes(op, B, H);
  if (B == 0 || H == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const T* gp = static_cast<const T*>(gates);
    const T* cp = static_cast<const T*>(c_prev);
    T* hp = static_cast<T*>(h);
    T* cn = static_cast<T*>(c);
    parallel_for(0, B, row_grain(H), [&](int64_t rb, int64_t re) {
      for (int64_t b = rb; b < re; ++b) {
        const T* g = gp + b * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          const lstm_cell::Gates<Cm> a =
              lstm_cell::activate(Cm(g[j]), Cm(g[H + j]), Cm(g[2 * H + j]), Cm(g[3 * H + j]));
          const Cm cv = lstm_cell::cell(a, Cm(cp[b * H + j]));
          cn[b * H + j] = T(cv);
          hp[b * H + j] = T(a.o * ops::m_tanh(cv));
        }
      }
    });
  });
}

void lstm_cell_backward(DType dtype, const void* gates, const void* c_prev, const void* dh, const void* dc,
                        void* dgates, void* dc_prev, int64_t B, int64_t H) {
  const char* op = "lstm_cell_backward";
  check_sizes(op, B, H);
  if (B == 0 || H == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const T* gp = static_cast<const T*>(gates);
    const T* cp = static_cast<const T*>(c_prev);
    const T* dhp = static_cast<const T*>(dh);
    const T* dcp = static_cast<const T*>(dc);
    T* dg = static_cast<T*>(dgates);
    T* dcprev = static_cast<T*>(dc_prev);
    parallel_for(0, B, row_grain(H), [&](int64_t rb, int64_t re) {
      for (int64_t b = rb; b < re; ++b) {
        const T* g = gp + b * 4 * H;
        T* d = dg + b * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = b * H + j;
          const lstm_cell::Gates<Cm> a =
              lstm_cell::activate(Cm(g[j]), Cm(g[H + j]), Cm(g[2 * H + j]), Cm(g[3 * H + j]));
          const Cm cprev = Cm(cp[k]);
          const Cm cv = lstm_cell::cell(a, cprev);
          const lstm_cell::Backward<Cm> r =
              lstm_cell::backward(a, cprev, cv, dhp ? Cm(dhp[k]) : Cm(0), dcp ? Cm(dcp[k]) : Cm(0));
          d[j] = T(r.dgi);
          d[H + j] = T(r.dgf);
          d[2 * H + j] = T(r.dgg);
          d[3 * H + j] = T(r.dgo);
          if (dcprev) dcprev[k] = T(r.dc_prev);
        }
      }
    });
  });
}

}  // namespace kiln::cpu
