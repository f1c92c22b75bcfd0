// CUDA tensors (tensor/tensor.cpp Note [Copies between devices], kernels/cuda/copy.h): round trips
// CPU -> CUDA -> CPU bit for bit for every dtype, casts on the device equal to the CPU's, strided and
// transposed (tiled) copies, broadcasting and non-contiguous destinations on both sides, non_blocking
// copies through pinned memory, item / to_vector / printing, and the errors for a missing device.
// Every GPU test runs in guard mode (cuda::set_guard_bytes) and checks the guards at its end.
// Without a usable GPU the GPU tests skip; the no-device error test runs only then.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/device.h"
#include "support/fixtures.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/runtime.h"
#include "support/cuda_parity.h"
#endif

namespace kiln::test {
namespace {

TEST(CudaTensorNoGpu, AllocatingWithoutAGpuIsAClearError) {
  if (cuda::device_usable()) GTEST_SKIP() << "a GPU is present";
  try {
    (void)empty({2}, DType::f32, kCUDA);
    ADD_FAILURE() << "allocating on cuda:0 without a GPU succeeded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
#if KILN_HAVE_CUDA
    EXPECT_NE(msg.find("not available"), std::string::npos) << msg;
#else
    EXPECT_NE(msg.find("built without CUDA"), std::string::npos) << msg;
#endif
  }
}

#if KILN_HAVE_CUDA

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                            DType::i64, DType::i32, DType::u8,  DType::b8};

// Values of every dtype that all casts handle the same way on both devices: non-negative (casting
// a negative float to u8 is undefined), below 128, with fractions, and some zeros (for bool).
Tensor values(const Shape& shape, DType dtype, int salt = 0) {
  const int64_t n = shape.numel();
  std::vector<double> v(size_t(n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double((i * 37 + salt * 11) % 113) * 0.25 + ((i % 7 == 0) ? 0.0 : 1.0);
  for (int64_t i = 0; i < n; i += 5) v[size_t(i)] = 0.0;
  return from_vector<double>(v, shape).to(dtype);
}

// Guard mode for the whole test; the guards are checked at its end.
class CudaTensor : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda::device_usable(&why)) GTEST_SKIP() << "CUDA test skipped: " << why;
    active_ = true;
    cuda::set_guard_bytes(256);
  }
  void TearDown() override {
    if (!active_) return;
    std::string report;
    EXPECT_TRUE(cuda::check_guards(&report)) << report;
    cuda::set_guard_bytes(0);
  }
  bool active_ = false;
};

TEST_F(CudaTensor, RoundTripIsBitExactForEveryDtype) {
  for (DType d : kAllDTypes) {
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(1000003)}) {
      const Tensor x = values({n}, d);
      const Tensor g = x.to(kCUDA);
      EXPECT_TRUE(g.device().is_cuda());
      EXPECT_TRUE(bit_identical(g.cpu(), x)) << dtype_name(d) << " n=" << n;
    }
    // Non-contiguous views go through the staging path on the way up (and arrive contiguous), and
    // the same views of a CUDA tensor come down through the device's copy kernel.
    auto views = [](const Tensor& t) {
      return std::vector<Tensor>{t.permute({2, 0, 1}), t.slice(2, 1, 6, 2), t.permute({1, 2, 0}).slice(0, 1, 4)};
    };
    const Tensor base = values({3, 5, 7}, d, 3);
    const std::vector<Tensor> host_views = views(base), device_views = views(base.to(kCUDA));
    for (size_t k = 0; k < host_views.size(); ++k) {
      const Tensor up = host_views[k].to(kCUDA);
      EXPECT_TRUE(up.is_contiguous());
      EXPECT_TRUE(bit_identical(up.cpu(), host_views[k])) << dtype_name(d) << " view " << k;
      EXPECT_TRUE(bit_identical(device_views[k].cpu(), host_views[k])) << dtype_name(d) << " view " << k;
    }
  }
}

TEST_F(CudaTensor, CastsOnTheDeviceEqualTheCpu) {
  for (DType from : kAllDTypes) {
    const Tensor x = values({37, 41}, from, 1);
    const Tensor g = x.to(kCUDA);
    for (DType to : kAllDTypes) {
      // contiguous
      Tensor expect = empty(x.shape(), to);
      expect.copy_(x);
      Tensor got = empty(x.shape(), to, kCUDA);
      got.copy_(g);
      EXPECT_TRUE(bit_identical(got.cpu(), expect)) << dtype_name(from) << " -> " << dtype_name(to);
      // transposed source (tiled path) and strided source (every other column)
      Tensor et = empty({41, 37}, to);
      et.copy_(x.t());
      Tensor gt = empty({41, 37}, to, kCUDA);
      gt.copy_(g.t());
      EXPECT_TRUE(bit_identical(gt.cpu(), et)) << dtype_name(from) << " -> " << dtype_name(to) << " transposed";
      Tensor es = empty({37, 21}, to);
      es.copy_(x.slice(1, 0, 41, 2));
      Tensor gs = empty({37, 21}, to, kCUDA);
      gs.copy_(g.slice(1, 0, 41, 2));
      EXPECT_TRUE(bit_identical(gs.cpu(), es)) << dtype_name(from) << " -> " << dtype_name(to) << " strided";
      // to(dtype) on the device
      EXPECT_TRUE(bit_identical(g.to(to).cpu(), x.to(to))) << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

TEST_F(CudaTensor, TransposedCopiesUseTilesOfAnySize) {
  for (DType d : {DType::f32, DType::f16, DType::i64, DType::u8}) {
    for (auto [a, b] : {std::pair<int64_t, int64_t>{1, 1}, {33, 65}, {1024, 1000}, {16, 17}, {5, 300}}) {
      const Tensor x = values({a, b}, d, int(a));
      const Tensor g = x.to(kCUDA);
      EXPECT_TRUE(bit_identical(g.t().contiguous().cpu(), x.t().contiguous())) << dtype_name(d) << " " << a << "x" << b;
      // a transposed destination: writing a contiguous source into out.t()
      Tensor out = empty({b, a}, d, kCUDA);
      out.t().copy_(g);
      EXPECT_TRUE(bit_identical(out.cpu(), x.t().contiguous())) << dtype_name(d) << " " << a << "x" << b;
    }
  }
  // Batched (3-d) and channels-last <-> channels-first permutes, with a cast.
  const Tensor x3 = values({3, 40, 70}, DType::f32, 5);
  EXPECT_TRUE(bit_identical(x3.to(kCUDA).permute({0, 2, 1}).contiguous().cpu(), x3.permute({0, 2, 1}).contiguous()));
  const Tensor nhwc = values({2, 9, 11, 48}, DType::f32, 6);
  EXPECT_TRUE(bit_identical(nhwc.to(kCUDA).permute({0, 3, 1, 2}).to(DType::bf16).contiguous().cpu(),
                            nhwc.permute({0, 3, 1, 2}).to(DType::bf16).contiguous()));
  const Tensor nchw = values({2, 48, 9, 11}, DType::f16, 7);
  EXPECT_TRUE(
      bit_identical(nchw.to(kCUDA).permute({0, 2, 3, 1}).contiguous().cpu(), nchw.permute({0, 2, 3, 1}).contiguous()));
}

TEST_F(CudaTensor, BroadcastsAndNonContiguousDestinationsOnBothSides) {
  // host -> device with broadcast and cast (staged: transfer, then the device kernel broadcasts)
  const Tensor row = values({5}, DType::f64, 2);
  Tensor g = empty({4, 5}, DType::f32, kCUDA);
  g.copy_(row);
  Tensor e = empty({4, 5}, DType::f32);
  e.copy_(row);
  EXPECT_TRUE(bit_identical(g.cpu(), e));
  // device -> host into a transposed CPU destination with a cast
  Tensor h = empty({5, 4}, DType::i32);
  h.t().copy_(g);
  Tensor he = empty({5, 4}, DType::i32);
  he.t().copy_(e);
  EXPECT_TRUE(bit_identical(h, he));
  // device -> device into a strided slice; a 0-d source broadcast over it
  Tensor wide = values({6, 8}, DType::f32, 9).to(kCUDA);
  Tensor we = values({6, 8}, DType::f32, 9);
  wide.slice(1, 1, 8, 3).copy_(scalar_tensor(2.5, DType::f32).to(kCUDA));
  we.slice(1, 1, 8, 3).copy_(scalar_tensor(2.5, DType::f32));
  EXPECT_TRUE(bit_identical(wide.cpu(), we));
  // a misaligned same-dtype contiguous copy (no 16-byte vector path)
  const Tensor src = values({1001}, DType::u8, 4).to(kCUDA);
  Tensor dst = empty({1003}, DType::u8, kCUDA);
  dst.slice(0, 1, 1002).copy_(src.slice(0, 0, 1001));
  EXPECT_TRUE(bit_identical(dst.slice(0, 1, 1002).cpu(), values({1001}, DType::u8, 4)));
}

TEST_F(CudaTensor, NonBlockingCopiesThroughPinnedMemory) {
  const Tensor x = values({100003}, DType::f32, 8);
  const Tensor pinned = x.pin_memory();
  EXPECT_TRUE(pinned.is_pinned());
  EXPECT_FALSE(x.is_pinned());
  EXPECT_TRUE(pinned.pin_memory().is_same(pinned));
  const Tensor g = pinned.to(kCUDA, true);
  const Tensor back = g.to(kCPU, true);
  EXPECT_TRUE(back.is_pinned());
  cuda::synchronize();
  EXPECT_TRUE(bit_identical(back, x));
  // into an existing tensor, with a cast on the device after the asynchronous transfer
  Tensor h = empty({100003}, DType::f16, kCUDA);
  h.copy_(pinned, true);
  EXPECT_TRUE(bit_identical(h.cpu(), x.to(DType::f16)));
  EXPECT_KILN_ERROR(g.pin_memory(), "only CPU tensors");
}

TEST_F(CudaTensor, ItemVectorsAndPrinting) {
  const Tensor x = tensor({{1.5, -2.0, 3.25}, {0.0, 7.0, -1.0}});
  const Tensor g = x.to(kCUDA);
  EXPECT_EQ(g.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(g.select(0, 1).select(0, 1).item<float>(), 7.0f);
  EXPECT_EQ(g.select(0, 0).select(0, 0).item<bool>(), true);
  std::string gs = g.str(), cs = x.str();
  EXPECT_NE(gs.find("device=cuda:0"), std::string::npos) << gs;
  EXPECT_EQ(gs.substr(0, gs.find("device=")), cs.substr(0, cs.find("device=")));
}

TEST_F(CudaTensor, MissingDeviceIsAClearError) {
  const int n = cuda::device_count();
  EXPECT_KILN_ERROR(empty({2}, DType::f32, Device(DeviceType::CUDA, n)), "does not exist");
  EXPECT_KILN_ERROR(values({2}, DType::f32).to(Device(DeviceType::CUDA, n)), "cuda:" + std::to_string(n));
}

TEST_F(CudaTensor, CopiesBetweenTwoDevices) {
  if (cuda::device_count() < 2) GTEST_SKIP() << "needs two GPUs";
  const Device d1(DeviceType::CUDA, 1);
  const Tensor x = values({300, 7}, DType::f32, 3);
  const Tensor g0 = x.to(kCUDA);
  EXPECT_TRUE(bit_identical(g0.to(d1).cpu(), x));
  Tensor g1 = empty({7, 300}, DType::bf16, d1);
  g1.copy_(g0.t());
  EXPECT_TRUE(bit_identical(g1.cpu(), x.t().to(DType::bf16)));
}

#endif  // KILN_HAVE_CUDA

}  // namespace
}  // namespace kiln::test
