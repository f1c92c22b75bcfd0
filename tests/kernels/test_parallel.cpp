#include <atomic>
#include <chrono>
#include <thread>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/error.h"

namespace kiln::cpu {
namespace {

TEST(Parallel, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<int> hits(100003, 0);
    parallel_for(0, int64_t(hits.size()), 1000, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    });
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << "index " << i << " threads " << threads;
  }
  set_num_threads(2);
}

TEST(Parallel, ChunkBoundariesDoNotDependOnThreads) {
  std::vector<std::vector<int64_t>> seen;
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    std::vector<int64_t> begins(size_t(num_chunks(1000, 64)), -1);
    parallel_chunks(1000, 64, [&](int64_t c, int64_t b, int64_t e) { begins[size_t(c)] = b * 10000 + e; });
    seen.push_back(begins);
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0], seen[2]);
  set_num_threads(2);
}

TEST(Parallel, ExceptionsPropagate) {
  EXPECT_THROW(parallel_for(0, 1 << 20, 1, [](int64_t b, int64_t) {
                 if (b > 0) KILN_FAIL("boom");
               }),
               Error);
  // The pool is still usable afterwards.
  std::atomic<int64_t> sum{0};
  parallel_for(0, 1000, 10, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 1000);
}

TEST(Parallel, NestedCallsRunSerially) {
  std::atomic<int64_t> sum{0};
  parallel_for(0, 8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(0, 100, 1, [&](int64_t b2, int64_t e2) { sum += e2 - b2; });
  });
  EXPECT_EQ(sum.load(), 800);
}

// Many short jobs back to back, with more workers than cores so that a worker is often preempted
// between noticing a job and registering for it: every task of every job must run exactly once,
// and no job may hang (a late worker once took a task of the next job before it was published:
// the task ran twice or the job's pending count never reached zero).
TEST(Parallel, BackToBackJobsRunEachTaskOnce) {
  set_num_threads(4);
  std::vector<std::atomic<int>> hits(64);
  for (int job = 0; job < 200000; ++job) {
    // Now and then a pause long enough for the workers to go to sleep, so that the next jobs
    // also meet workers that are still waking up.
    if (job % 128 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    const int64_t n = 2 + job % 7;
    for (int64_t i = 0; i < n; ++i) hits[size_t(i)].store(0);
    parallel_chunks(n, 1, [&](int64_t c, int64_t, int64_t) { hits[size_t(c)].fetch_add(1); });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "job " << job << " task " << i;
  }
  set_num_threads(2);
}

TEST(Isa, CapIsRespected) {
  Isa best = detected_isa();
  set_cpu_isa(Isa::baseline);
  EXPECT_EQ(cpu_isa(), Isa::baseline);
  set_cpu_isa(Isa::avx512);
  EXPECT_EQ(cpu_isa(), best);
}

}  // namespace
}  // namespace kiln::cpu
