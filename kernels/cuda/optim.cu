// Multi-tensor fused optimizer steps on CUDA (Note [Fused optimizer semantics] in
// kernels/optim_fused.h; the per-element math is optim_element<R> of kernels/optim_math.h, the same
// code the CPU kernels run).
//
// Note [Multi-tensor launches]
// A group is a list of tensors of any sizes. Each tensor is cut into chunks of kChunk elements; a
// launch's parameter block (ChunkTable, under 4 KB so it travels in the kernel's parameter space,
// no host-to-device copy) holds up to kSlots tensors' arguments and a table mapping each CUDA block
// to (slot, chunk). The host walks the tensors and launches whenever the block table or the slot
// list is full; a tensor whose chunks spill over into the next launch is carried over as that
// launch's slot 0. Inside a chunk the block's threads stride over the elements, four at a time
// with vector loads when every pointer the rule touches is aligned to four elements (the chunk
// start is a multiple of four, so alignment holds for the whole tensor), with a scalar tail of up to
// three elements; misaligned tensors go element by element.
//
// found_inf (device int, may be null) is read by every block of every phase before anything else:
// when set, the block returns without writing, so a skipped step leaves every buffer as it was.
//
// lamb and larc (Note [Fused optimizer rules]) run three phases on the stream: (1) every block
// writes the two sums of squares of its chunk (double, fixed per-thread order and a fixed
// reduction tree) to a scratch array at the chunk's global index; (1b) one warp per tensor adds
// that tensor's chunk sums in a fixed lane/shuffle order and writes the tensor's step (lr * q, or
// the local lr); (2) the update reads the step. No atomics, so the result is bit-for-bit the same
// from run to run. The scratch comes from kiln's caching allocator on the stream (stream-ordered reuse).
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/optim.h"
#include "kiln/kernels/error.h"
#include "kiln/kernels/optim_math.h"

namespace kiln::cuda {

using optim_kernels::FusedGroupArgs;
using optim_kernels::FusedOptim;
using optim_kernels::FusedTensorArgs;
using optim_kernels::GroupScalars;
using optim_kernels::Rule;
using optim_kernels::TensorScalars;

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kChunk = 1 << 16;  // a multiple of 4 (Note [Multi-tensor launches])
constexpr int kMaxBlocks = 256;      // per launch
constexpr int kSlots = 32;           // tensors per update launch
constexpr int kCheckSlots = 96;      // gradients per nonfinite_check launch
constexpr int kNormSlots = 128;      // tensors per phase-1b launch
constexpr int kNormThreads = 128;    // 4 warps, one tensor each

// ---- parameter blocks
struct Slot {
  void* param;
  const void* grad;
  float* master;
  float* m;
  float* v;
  int64_t n;
  TensorScalars ts;
  int32_t index;         // position in the caller's list: steps[index] (lamb / larc)
  int32_t partial_base;  // global index of the tensor's first chunk in the partial sums
  int32_t vec;           // 1: four-element vector access (Note [Multi-tensor launches])
};

struct CheckSlot {
  const void* grad;
  int64_t n;
  int32_t vec;
};

template <class S, int K>
struct ChunkTable {
  S slots[K];
  uint8_t block_slot[kMaxBlocks];
  int32_t block_chunk[kMaxBlocks];
};
using UpdateTable = ChunkTable<Slot, kSlots>;
using CheckTable = ChunkTable<CheckSlot, kCheckSlots>;
static_assert(kSlots <= 256 && kCheckSlots <= 256, "block_slot is a uint8_t");
// Kernel parameters stay within 4 KB (the table plus the few scalars and pointers beside it).
static_assert(sizeof(UpdateTable) + sizeof(GroupScalars) + 3 * sizeof(void*) <= 4096, "update parameter block");
static_assert(sizeof(CheckTable) + sizeof(void*) <= 4096, "check parameter block");

struct NormSlot {
  int64_t n;
  int32_t partial_base;
  int32_t nchunks;
  int32_t index;
  float wd;
};
struct NormTable {
  NormSlot slots[kNormSlots];
};
static_assert(sizeof(NormTable) + 64 <= 4096, "phase-1b parameter block");

// ---- element access
template <class T> __device__ __forceinline__ float load1(const T* p, int64_t i) { return optim_kernels::to_f32(p[i]); }
template <class T> __device__ __forceinline__ void store1(T* p, int64_t i, float x) { p[i] = optim_kernels::from_f32<T>(x); }

// Four consecutive elements from p + i (p + i aligned to four elements).
__device__ __forceinline__ void load4(const float* p, int64_t i, float* out) {
  const float4 q = *reinterpret_cast<const float4*>(p + i);
  out[0] = q.x; out[1] = q.y; out[2] = q.z; out[3] = q.w;
}
template <class T>
__device__ __forceinline__ void load4(const T* p, int64_t i, float* out) {  // 16-bit types
  const uint2 q = *reinterpret_cast<const uint2*>(p + i);
  const uint16_t h[4] = {uint16_t(q.x & 0xffffu), uint16_t(q.x >> 16), uint16_t(q.y & 0xffffu), uint16_t(q.y >> 16)};
  for (int k = 0; k < 4; ++k) out[k] = optim_kernels::to_f32(T::from_bits(h[k]));
}
__device__ __forceinline__ void store4(float* p, int64_t i, const float* x) {
  *reinterpret_cast<float4*>(p + i) = make_float4(x[0], x[1], x[2], x[3]);
}
template <class T>
__device__ __forceinline__ void store4(T* p, int64_t i, const float* x) {
  uint32_t b[4];
  for (int k = 0; k < 4; ++k) b[k] = optim_kernels::from_f32<T>(x[k]).bits;
  *reinterpret_cast<uint2*>(p + i) = make_uint2(b[0] | (b[1] << 16), b[2] | (b[3] << 16));
}

__device__ __forceinline__ bool skip_step(const int* found_inf) { return found_inf != nullptr && *found_inf != 0; }

// Fixed-order sum of two doubles over the block; the result is valid in thread 0.
__device__ __forceinline__ void block_sum2(double& a, double& b) {
  __shared__ double sh[2 * kWarps];
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, o);
    b += __shfl_down_sync(0xffffffffu, b, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sh[warp] = a;
    sh[kWarps + warp] = b;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    a = 0;
    b = 0;
    for (int w = 0; w < kWarps; ++w) {
      a += sh[w];
      b += sh[kWarps + w];
    }
  }
}

// One chunk of one tensor under rule R (an update rule, or a norms rule of phase 1).
template <Rule R, class P, class G>
__global__ void __launch_bounds__(kThreads)
    optim_chunk_kernel(const __grid_constant__ UpdateTable table, const GroupScalars gs, const int* found_inf,
                       const float* steps, double* partials) {
  using namespace optim_kernels;
  if (skip_step(found_inf)) return;
  const int s = table.block_slot[blockIdx.x];
  const int64_t chunk = table.block_chunk[blockIdx.x];
  const Slot& slot = table.slots[s];
  TensorScalars ts = slot.ts;
  if constexpr (R == Rule::lamb_apply || R == Rule::larc_apply || R == Rule::larc_apply_mom) ts.step = steps[slot.index];
  float* const master = slot.master;
  P* const param = static_cast<P*>(slot.param);
  // Without a master copy the parameter is f32 (check_fused_args) and is the weight itself.
  float* const w = master ? master : static_cast<float*>(slot.param);
  const G* const grad = static_cast<const G*>(slot.grad);
  float* const mbuf = slot.m;
  float* const vbuf = slot.v;
  const int64_t begin = chunk * kChunk;
  const int64_t end = begin + kChunk < slot.n ? begin + kChunk : slot.n;
  double sum_a = 0, sum_b = 0;

  auto one = [&](int64_t i) {
    float wi = w[i], gi = 0.0f, mi = 0.0f, vi = 0.0f, ai = 0.0f, bi = 0.0f;
    if constexpr (rule_reads_grad(R)) gi = load1(grad, i);
    if constexpr (rule_uses_m(R)) mi = mbuf[i];
    if constexpr (rule_uses_v(R)) vi = vbuf[i];
    optim_element<R>(gs, ts, gi, wi, mi, vi, ai, bi);
    if constexpr (rule_writes_w(R)) {
      w[i] = wi;
      if (master) store1(param, i, wi);
    }
    if constexpr (rule_writes_m(R)) mbuf[i] = mi;
    if constexpr (rule_writes_v(R)) vbuf[i] = vi;
    if constexpr (rule_is_norms(R)) {
      sum_a += double(ai) * double(ai);
      sum_b += double(bi) * double(bi);
    }
  };

  int64_t scalar_from = begin;
  if (slot.vec) {
    const int64_t groups = (end - begin) / 4;
    for (int64_t k = threadIdx.x; k < groups; k += kThreads) {
      const int64_t i = begin + 4 * k;
      float wv[4], gv[4] = {0, 0, 0, 0}, mv[4] = {0, 0, 0, 0}, vv[4] = {0, 0, 0, 0};
      load4(w, i, wv);
      if constexpr (rule_reads_grad(R)) load4(grad, i, gv);
      if constexpr (rule_uses_m(R)) load4(mbuf, i, mv);
      if constexpr (rule_uses_v(R)) load4(vbuf, i, vv);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        float a = 0.0f, b = 0.0f;
        optim_element<R>(gs, ts, gv[j], wv[j], mv[j], vv[j], a, b);
        if constexpr (rule_is_norms(R)) {
          sum_a += double(a) * double(a);
          sum_b += double(b) * double(b);
        }
      }
      if constexpr (rule_writes_w(R)) {
        store4(w, i, wv);
        if (master) store4(param, i, wv);
      }
      if constexpr (rule_writes_m(R)) store4(mbuf, i, mv);
      if constexpr (rule_writes_v(R)) store4(vbuf, i, vv);
    }
    scalar_from = begin + 4 * groups;
  }
  for (int64_t i = scalar_from + threadIdx.x; i < end; i += kThreads) one(i);

  if constexpr (rule_is_norms(R)) {
    block_sum2(sum_a, sum_b);
    if (threadIdx.x == 0) {
      const int64_t at = int64_t(slot.partial_base) + chunk;
      partials[2 * at] = sum_a;
      partials[2 * at + 1] = sum_b;
    }
  }
}

// Phase 1b: warp k of the grid finishes tensor k of the table.
__global__ void __launch_bounds__(kNormThreads)
    norms_finish_kernel(const __grid_constant__ NormTable table, int count, FusedOptim kind, float lr,
                        float trust_coeff, float eps, bool clip, const int* found_inf, const double* partials,
                        float* steps) {
  if (skip_step(found_inf)) return;
  const int k = int((blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (k >= count) return;  // whole warps only: count is checked per warp
  const NormSlot& s = table.slots[k];
  double a = 0, b = 0;
  for (int32_t c = lane; c < s.nchunks; c += 32) {
    const int64_t at = int64_t(s.partial_base) + c;
    a += partials[2 * at];
    b += partials[2 * at + 1];
  }
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, o);
    b += __shfl_down_sync(0xffffffffu, b, o);
  }
  if (lane == 0)
    steps[s.index] = kind == FusedOptim::lamb ? optim_kernels::lamb_step_scale(a, b, s.n, lr)
                                              : optim_kernels::larc_step_scale(a, b, lr, trust_coeff, s.wd, eps, clip);
}

template <class G>
__global__ void __launch_bounds__(kThreads) nonfinite_kernel(const __grid_constant__ CheckTable table, int* found_inf) {
  const CheckSlot& slot = table.slots[table.block_slot[blockIdx.x]];
  const G* const g = static_cast<const G*>(slot.grad);
  const int64_t begin = int64_t(table.block_chunk[blockIdx.x]) * kChunk;
  const int64_t end = begin + kChunk < slot.n ? begin + kChunk : slot.n;
  bool bad = false;
  int64_t scalar_from = begin;
  if (slot.vec) {
    const int64_t groups = (end - begin) / 4;
    for (int64_t k = threadIdx.x; k < groups; k += kThreads) {
      float x[4];
      load4(g, begin + 4 * k, x);
      for (int j = 0; j < 4; ++j) bad |= optim_kernels::nonfinite_bits(x[j]);
    }
    scalar_from = begin + 4 * groups;
  }
  for (int64_t i = scalar_from + threadIdx.x; i < end; i += kThreads) bad |= optim_kernels::nonfinite_bits(g[i]);
  if (bad) *found_inf = 1;  // every writer stores the same value: no atomic needed
}

// ---- host side
bool aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % uintptr_t(bytes) == 0; }

int64_t chunks_of(int64_t n) { return (n + kChunk - 1) / kChunk; }

// Walks the tensors' chunks and launches whenever the table is full (Note [Multi-tensor launches]).
// fill(i, slot) writes tensor i's slot; launch(table, blocks) launches one kernel.
template <class Table, int K, class SizeOf, class Fill, class Launch>
void for_each_launch(int64_t count, SizeOf&& size_of, Fill&& fill, Launch&& launch) {
  Table t;
  int ns = 0, nb = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = size_of(i);
    if (n == 0) continue;
    const int64_t nch = chunks_of(n);
    int cur = ns++;
    fill(i, t.slots[cur]);
    for (int64_t c = 0; c < nch; ++c) {
      t.block_slot[nb] = uint8_t(cur);
      t.block_chunk[nb] = int32_t(c);
      ++nb;
      const bool last = c == nch - 1;
      if (nb == kMaxBlocks || (last && ns == K)) {
        launch(t, nb);
        nb = 0;
        if (!last) {
          t.slots[0] = t.slots[cur];
          cur = 0;
          ns = 1;
        } else {
          ns = 0;
        }
      }
    }
  }
  if (nb > 0) launch(t, nb);
}

template <class F>
void dispatch_optim_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    default: return f(float{});
  }
}

template <Rule R>
void launch_rule(DType pd, DType gd, const UpdateTable& t, int blocks, const GroupScalars& gs, const int* found_inf,
                 const float* steps, double* partials, Stream stream) {
  dispatch_optim_dtype(pd, [&](auto ptag) {
    using P = decltype(ptag);
    if constexpr (!optim_kernels::rule_reads_grad(R)) {
      // The gradient dtype does not matter: one instantiation.
      optim_chunk_kernel<R, P, float><<<blocks, kThreads, 0, stream>>>(t, gs, found_inf, steps, partials);
      KILN_CUDA_CHECK_LAUNCH("optim_chunk_kernel");
    } else {
      dispatch_optim_dtype(gd, [&](auto gtag) {
        using G = decltype(gtag);
        optim_chunk_kernel<R, P, G><<<blocks, kThreads, 0, stream>>>(t, gs, found_inf, steps, partials);
        KILN_CUDA_CHECK_LAUNCH("optim_chunk_kernel");
      });
    }
  });
}

void launch_any(Rule r, DType pd, DType gd, const UpdateTable& t, int blocks, const GroupScalars& gs,
                const int* found_inf, const float* steps, double* partials, Stream stream) {
  switch (r) {
#define KILN_OPTIM_RULE_CASE(name) \
  case Rule::name: return launch_rule<Rule::name>(pd, gd, t, blocks, gs, found_inf, steps, partials, stream);
    KILN_OPTIM_RULE_CASE(sgd)
    KILN_OPTIM_RULE_CASE(sgd_mom)
    KILN_OPTIM_RULE_CASE(adam)
    KILN_OPTIM_RULE_CASE(radam_plain)
    KILN_OPTIM_RULE_CASE(radam_rect)
    KILN_OPTIM_RULE_CASE(radam_rect_sp)
    KILN_OPTIM_RULE_CASE(qhadam)
    KILN_OPTIM_RULE_CASE(lamb_norms)
    KILN_OPTIM_RULE_CASE(lamb_apply)
    KILN_OPTIM_RULE_CASE(larc_norms)
    KILN_OPTIM_RULE_CASE(larc_apply)
    KILN_OPTIM_RULE_CASE(larc_apply_mom)
#undef KILN_OPTIM_RULE_CASE
  }
}

// Scratch memory from the caching allocator on the current device, returned on every exit path
// (stream-ordered: the kernels queued on `stream` before the free still own it).
struct AsyncScratch {
  void* ptr = nullptr;
  AsyncScratch(size_t bytes, Stream s) {
    if (!bytes) return;
    int device = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&device));
    ptr = device_allocate(bytes, device, s);
  }
  ~AsyncScratch() {
    if (!ptr) return;
    try {
      device_free(ptr);
    } catch (...) {  // a destructor must not throw; the allocator reports misuse on the next call
    }
  }
  AsyncScratch(const AsyncScratch&) = delete;
  AsyncScratch& operator=(const AsyncScratch&) = delete;
};

}  // namespace

void fused_optim_step(const FusedGroupArgs& group, DType param_dtype, DType grad_dtype, const FusedTensorArgs* tensors,
                      int64_t count, const int* found_inf, Stream stream) {
  optim_kernels::check_fused_args("cuda::fused_optim_step", group, param_dtype, grad_dtype, tensors, count);
  KILN_CHECK(count < (int64_t(1) << 31), "cuda::fused_optim_step: ", count, " tensors is too many for one call");
  const GroupScalars gs = optim_kernels::make_group_scalars(group);
  const int psize = dtype_size(param_dtype), gsize = dtype_size(grad_dtype);

  // Tensors grouped by update rule (radam's rule depends on each tensor's step), and the global
  // chunk numbering of the partial sums (lamb / larc).
  std::vector<std::vector<int64_t>> by_rule(optim_kernels::kNumRules);
  std::vector<int32_t> partial_base(size_t(count), 0);
  int64_t total_chunks = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (tensors[i].n == 0) continue;
    KILN_CHECK(chunks_of(tensors[i].n) < (int64_t(1) << 31), "cuda::fused_optim_step: tensor ", i, " has ",
               tensors[i].n, " elements, too many");
    by_rule[size_t(optim_kernels::update_rule(group, tensors[i]))].push_back(i);
    partial_base[size_t(i)] = int32_t(total_chunks);
    total_chunks += chunks_of(tensors[i].n);
    KILN_CHECK(total_chunks < (int64_t(1) << 31), "cuda::fused_optim_step: too many chunks in one call");
  }
  if (total_chunks == 0) return;

  auto make_slot = [&](Rule r, int64_t i, Slot& s) {
    const FusedTensorArgs& t = tensors[i];
    s.param = t.param;
    s.grad = t.grad;
    s.master = t.master;
    s.m = t.exp_avg;
    s.v = t.exp_avg_sq;
    s.n = t.n;
    s.ts = optim_kernels::make_tensor_scalars(group, t);
    s.index = int32_t(i);
    s.partial_base = partial_base[size_t(i)];
    bool vec = aligned(t.param, 4 * psize) && (!t.master || aligned(t.master, 16));
    if (optim_kernels::rule_reads_grad(r)) vec = vec && aligned(t.grad, 4 * gsize);
    if (optim_kernels::rule_uses_m(r)) vec = vec && aligned(t.exp_avg, 16);
    if (optim_kernels::rule_uses_v(r)) vec = vec && aligned(t.exp_avg_sq, 16);
    s.vec = vec ? 1 : 0;
  };
  auto run_rule = [&](Rule r, const std::vector<int64_t>& list, const float* steps, double* partials) {
    for_each_launch<UpdateTable, kSlots>(
        int64_t(list.size()), [&](int64_t k) { return tensors[list[size_t(k)]].n; },
        [&](int64_t k, Slot& s) { make_slot(r, list[size_t(k)], s); },
        [&](const UpdateTable& t, int blocks) {
          launch_any(r, param_dtype, grad_dtype, t, blocks, gs, found_inf, steps, partials, stream);
        });
  };

  if (!optim_kernels::kind_has_norms(group.kind)) {
    for (int r = 0; r < optim_kernels::kNumRules; ++r)
      if (!by_rule[size_t(r)].empty()) run_rule(Rule(r), by_rule[size_t(r)], nullptr, nullptr);
    return;
  }

  // lamb / larc: phases 1, 1b, 2 (Note [Multi-tensor launches]).
  const Rule apply = optim_kernels::update_rule(group, FusedTensorArgs{});
  const std::vector<int64_t>& list = by_rule[size_t(apply)];
  const size_t partial_bytes = size_t(total_chunks) * 2 * sizeof(double);
  AsyncScratch scratch(partial_bytes + size_t(count) * sizeof(float), stream);
  double* partials = static_cast<double*>(scratch.ptr);
  float* steps = reinterpret_cast<float*>(static_cast<char*>(scratch.ptr) + partial_bytes);

  run_rule(optim_kernels::norms_rule(group.kind), list, nullptr, partials);

  NormTable nt;
  int nn = 0;
  auto flush = [&] {
    if (nn == 0) return;
    const int blocks = (nn + kNormThreads / 32 - 1) / (kNormThreads / 32);
    norms_finish_kernel<<<blocks, kNormThreads, 0, stream>>>(nt, nn, group.kind, group.lr, group.trust_coeff,
                                                             group.eps, group.clip, found_inf, partials, steps);
    KILN_CUDA_CHECK_LAUNCH("norms_finish_kernel");
    nn = 0;
  };
  for (int64_t i : list) {
    NormSlot& s = nt.slots[nn++];
    s.n = tensors[i].n;
    s.partial_base = partial_base[size_t(i)];
    s.nchunks = int32_t(chunks_of(tensors[i].n));
    s.index = int32_t(i);
    s.wd = tensors[i].wd;
    if (nn == kNormSlots) flush();
  }
  flush();

  run_rule(apply, list, steps, nullptr);
}

void nonfinite_check(const void* const* grads, const int64_t* n, int64_t count, DType grad_dtype, int* found_inf,
                     Stream stream) {
  optim_kernels::check_nonfinite_args("cuda::nonfinite_check", grads, n, count, grad_dtype);
  KILN_CHECK(found_inf != nullptr, "cuda::nonfinite_check: found_inf is null");
  const int gsize = dtype_size(grad_dtype);
  for (int64_t i = 0; i < count; ++i)
    KILN_CHECK(chunks_of(n[i]) < (int64_t(1) << 31), "cuda::nonfinite_check: tensor ", i, " has ", n[i],
               " elements, too many");
  dispatch_optim_dtype(grad_dtype, [&](auto tag) {
    using G = decltype(tag);
    for_each_launch<CheckTable, kCheckSlots>(
        count, [&](int64_t i) { return n[i]; },
        [&](int64_t i, CheckSlot& s) {
          s.grad = grads[i];
          s.n = n[i];
          s.vec = aligned(grads[i], 4 * gsize) ? 1 : 0;
        },
        [&](const CheckTable& t, int blocks) {
          nonfinite_kernel<G><<<blocks, kThreads, 0, stream>>>(t, found_inf);
          KILN_CUDA_CHECK_LAUNCH("nonfinite_kernel");
        });
  });
}

}  // namespace kiln::cuda
