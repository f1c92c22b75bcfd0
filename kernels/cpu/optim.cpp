// The CPU fused optimizer steps: argument checks, the cut of the work into ranges, threading.
// The inner loops are compiled per ISA in kernels/cpu/vec/optim.cpp.
//
// Why one flat range over all tensors: a model's parameters are many tensors of very different
// sizes. Treating the group as one index space [0, sum of n) lets parallel_for give each thread a
// few large ranges whatever the split into tensors: one pool job per step instead of one per
// tensor, and small tensors never pay thread overhead of their own.
//
// Note [CPU optimizer norms]: lamb and larc need per-tensor sums of squares before the update.
// Each tensor is cut into chunks of kNormChunk elements counted from its own start (so the cut
// depends only on n, never on the thread count); each chunk's sum is computed in double with a
// fixed order of additions (kernels/cpu/vec/optim.cpp) and the chunk sums of a tensor are added in
// chunk order. Same inputs, same bits, for any number of threads.
#include "kiln/kernels/cpu/optim.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/error.h"

namespace kiln::cpu {

using optim_kernels::FusedGroupArgs;
using optim_kernels::FusedTensorArgs;
using optim_kernels::GroupScalars;
using optim_kernels::Rule;
using optim_kernels::TensorScalars;

namespace {

constexpr int64_t kNormChunk = 1 << 14;
// Elements per parallel_for grain: a few tens of microseconds of streaming per range.
constexpr int64_t kUpdateGrain = 1 << 15;
constexpr int64_t kCheckGrain = 1 << 16;

// Calls fn(tensor, begin, end) for the pieces of the flat range [b, e) of a group whose tensor i
// starts at start[i] (start has count + 1 entries, the last one the total).
template <class F>
void for_pieces(const std::vector<int64_t>& start, int64_t b, int64_t e, F&& fn) {
  // The last tensor whose start is <= b (empty tensors share their start with the next one).
  int64_t i = int64_t(std::upper_bound(start.begin(), start.end() - 1, b) - start.begin()) - 1;
  while (b < e) {
    const int64_t te = start[size_t(i) + 1];
    const int64_t pe = std::min(e, te);
    if (pe > b) fn(i, b - start[size_t(i)], pe - start[size_t(i)]);
    b = std::max(b, pe);
    ++i;
  }
}

}  // namespace

void fused_optim_step(const FusedGroupArgs& group, DType param_dtype, DType grad_dtype, const FusedTensorArgs* tensors,
                      int64_t count) {
  optim_kernels::check_fused_args("cpu::fused_optim_step", group, param_dtype, grad_dtype, tensors, count);
  if (count == 0) return;
  const GroupScalars gs = optim_kernels::make_group_scalars(group);
  std::vector<TensorScalars> ts(static_cast<size_t>(count));
  std::vector<Rule> rule(static_cast<size_t>(count));
  std::vector<int64_t> start(size_t(count) + 1, 0);
  for (int64_t i = 0; i < count; ++i) {
    ts[size_t(i)] = optim_kernels::make_tensor_scalars(group, tensors[i]);
    rule[size_t(i)] = optim_kernels::update_rule(group, tensors[i]);
    start[size_t(i) + 1] = start[size_t(i)] + tensors[i].n;
  }
  const int64_t total = start.back();
  if (total == 0) return;

  if (optim_kernels::kind_has_norms(group.kind)) {
    // Phase 1 (Note [CPU optimizer norms]): one work item per (tensor, chunk).
    const Rule norms = optim_kernels::norms_rule(group.kind);
    std::vector<int64_t> chunk_start(size_t(count) + 1, 0);
    for (int64_t i = 0; i < count; ++i)
      chunk_start[size_t(i) + 1] = chunk_start[size_t(i)] + num_chunks(tensors[i].n, kNormChunk);
    const int64_t items = chunk_start.back();
    std::vector<double> sums(size_t(2 * items), 0.0);
    parallel_for(0, items, 1, [&](int64_t b, int64_t e) {
      for_pieces(chunk_start, b, e, [&](int64_t i, int64_t cb, int64_t ce) {
        const FusedTensorArgs& t = tensors[i];
        for (int64_t c = cb; c < ce; ++c) {
          const int64_t item = chunk_start[size_t(i)] + c;
          KILN_ISA_CALL(optim_norms_range, norms, gs, ts[size_t(i)], param_dtype, grad_dtype, t, c * kNormChunk,
                        std::min(t.n, (c + 1) * kNormChunk), &sums[size_t(2 * item)], &sums[size_t(2 * item + 1)]);
        }
      });
    });
    // Phase 1b: each tensor's chunk sums in chunk order, then its step.
    for (int64_t i = 0; i < count; ++i) {
      const FusedTensorArgs& t = tensors[i];
      if (t.n == 0) continue;
      double sa = 0, sb = 0;
      for (int64_t item = chunk_start[size_t(i)]; item < chunk_start[size_t(i) + 1]; ++item) {
        sa += sums[size_t(2 * item)];
        sb += sums[size_t(2 * item + 1)];
      }
      ts[size_t(i)].step = group.kind == optim_kernels::FusedOptim::lamb
                               ? optim_kernels::lamb_step_scale(sa, sb, t.n, group.lr)
                               : optim_kernels::larc_step_scale(sa, sb, group.lr, group.trust_coeff, t.wd, group.eps,
                                                                group.clip);
    }
  }

  // Phase 2 (the only phase of the other kinds): the flat range over all tensors.
  parallel_for(0, total, kUpdateGrain, [&](int64_t b, int64_t e) {
    for_pieces(start, b, e, [&](int64_t i, int64_t tb, int64_t te) {
      KILN_ISA_CALL(optim_update_range, rule[size_t(i)], gs, ts[size_t(i)], param_dtype, grad_dtype, tensors[i], tb, te);
    });
  });
}

bool any_nonfinite(const void* const* grads, const int64_t* n, int64_t count, DType grad_dtype) {
  optim_kernels::check_nonfinite_args("cpu::any_nonfinite", grads, n, count, grad_dtype);
  if (count == 0) return false;
  std::vector<int64_t> start(size_t(count) + 1, 0);
  for (int64_t i = 0; i < count; ++i) start[size_t(i) + 1] = start[size_t(i)] + n[i];
  std::atomic<bool> found{false};
  parallel_for(0, start.back(), kCheckGrain, [&](int64_t b, int64_t e) {
    for_pieces(start, b, e, [&](int64_t i, int64_t tb, int64_t te) {
      if (found.load(std::memory_order_relaxed)) return;
      if (KILN_ISA_CALL(nonfinite_range, grad_dtype, grads[i], tb, te)) found.store(true, std::memory_order_relaxed);
    });
  });
  return found.load();
}

}  // namespace kiln::cpu
