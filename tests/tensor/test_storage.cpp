// CPU storage allocation: the per-thread cache of small blocks (Note [Small block cache] in
// tensor/storage.cpp) must hand out aligned, distinct blocks and survive cross-thread frees.
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "support/fixtures.h"

namespace kiln {
namespace {

bool aligned64(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 64 == 0; }

TEST(Storage, SmallBlocksAreDistinctAlignedAndKeepTheirValues) {
  // Sizes on both sides of every cached class (64 .. 512 bytes) and beyond it.
  std::vector<Tensor> live;
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> batch;
    for (int64_t n = 1; n <= 140; ++n) {
      Tensor t = full({n}, double(n + 1000 * round));
      EXPECT_TRUE(aligned64(t)) << n;
      batch.push_back(t);
    }
    // Keep every other tensor, drop the rest: their blocks go to the cache and are reused next round.
    for (size_t i = 0; i < batch.size(); i += 2) live.push_back(batch[i]);
  }
  std::set<void*> seen;
  for (const Tensor& t : live) {
    EXPECT_TRUE(seen.insert(t.data_ptr()).second) << "two live tensors share a block";
    const float v = t.to_vector<float>()[0];
    for (float x : t.to_vector<float>()) EXPECT_EQ(x, v);
    EXPECT_EQ(int64_t(v) % 1000, t.numel());  // the value this tensor was filled with
  }
}

TEST(Storage, FreedSmallBlockIsReusedOnTheSameThread) {
  // Drain the cache of this size class, so the next free is certainly cached.
  std::vector<Tensor> hold;
  for (int i = 0; i < 40; ++i) hold.push_back(empty({16}));
  Tensor a = empty({16});
  void* p = a.data_ptr();
  a = Tensor();
  Tensor b = empty({16});
  EXPECT_EQ(b.data_ptr(), p);
}

TEST(Storage, BlocksFreedOnAnotherThread) {
  std::vector<Tensor> made;
  for (int64_t n = 1; n <= 64; ++n) made.push_back(full({n}, double(n)));
  std::vector<Tensor> from_thread;
  std::thread worker([&] {
    made.clear();  // frees main-thread blocks into this thread's cache
    for (int64_t n = 1; n <= 64; ++n) from_thread.push_back(full({n}, double(-n)));
  });
  worker.join();  // the worker's cache is emptied at its exit
  for (int64_t n = 1; n <= 64; ++n) {
    Tensor t = full({n}, double(n));
    EXPECT_EQ(t.to_vector<float>().back(), float(n));
    EXPECT_EQ(from_thread[size_t(n - 1)].to_vector<float>().back(), float(-n));
  }
  from_thread.clear();  // blocks allocated by the exited thread are freed here
}

}  // namespace
}  // namespace kiln
