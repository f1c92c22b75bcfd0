// 2-d convolutions on CUDA through cuDNN 9's convolution API (cudnn_cnn.h): the forward pass,
// the input gradient and the weight gradient. The bias passes are in conv_bias.cu.
//
// Note [cuDNN algorithm cache]
// cuDNN offers several algorithms per pass (implicit GEMM, FFT, Winograd, ...) whose speed
// depends on the shape, so the first call of each (direction, dtype, geometry, device,
// deterministic mode, TF32 flag) runs cudnnFind*AlgorithmEx, which times the algorithms on the
// call's own buffers, and keeps the fastest one that succeeded (in deterministic mode, the fastest
// whose result is bit-reproducible, determinism == CUDNN_DETERMINISTIC; when there is none, the op
// is refused through check_deterministic). The choice is cached in a map under a mutex; later
// calls only look it up. The search gets a workspace as large as the hungriest algorithm asks for
// (capped at kMaxSearchWorkspace, halved while the allocation fails) from the caching allocator;
// each run then takes exactly the chosen algorithm's workspace from the allocator and gives it
// back once its kernels are queued (stream-ordered reuse makes that safe).
//
// Math types: f16/bf16 search with CUDNN_TENSOR_OP_MATH; f32 with CUDNN_FMA_MATH (true FP32)
// unless allow_tf32(), then CUDNN_DEFAULT_MATH (cuDNN may use TF32 tensor cores); f64 with
// CUDNN_DEFAULT_MATH. A run uses the math type the search reported for its algorithm.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/conv.h"
#include "kiln/kernels/determinism.h"
#include "kiln/kernels/error.h"

#if KILN_HAVE_CUDNN
#include <cudnn.h>

#include "kiln/kernels/cuda/handle_pool.h"
#endif

namespace kiln::cuda {

// ---- the algorithm cache (with or without cuDNN) -----------------------------------------------

namespace {

// Everything the choice depends on (Note [cuDNN algorithm cache]).
using CacheKey = std::array<int64_t, 19>;

int current_device() {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

CacheKey make_key(ConvDirection dir, DType dtype, const Conv2dGeom& g) {
  const int64_t flags = int64_t(current_device()) * 4 + (deterministic_algorithms() ? 2 : 0) + (allow_tf32() ? 1 : 0);
  return {int64_t(dir), int64_t(dtype), g.B, g.C, g.H, g.W, g.O, g.OH, g.OW, g.KH,
          g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.groups, flags};
}

struct AlgorithmCache {
  std::mutex mu;
  std::map<CacheKey, ConvAlgorithm> map;
  std::atomic<int64_t> searches{0};
};

AlgorithmCache& cache() {
  static auto* c = new AlgorithmCache;  // never destroyed, like the handles (Note [Vendor handles])
  return *c;
}

}  // namespace

ConvAlgorithm conv2d_cached_algorithm(ConvDirection direction, DType dtype, const Conv2dGeom& g) {
  AlgorithmCache& c = cache();
  const CacheKey key = make_key(direction, dtype, g);
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.map.find(key);
  return it == c.map.end() ? ConvAlgorithm{} : it->second;
}

int64_t conv2d_algorithm_searches() { return cache().searches.load(); }

void conv2d_clear_algorithm_cache() {
  AlgorithmCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.map.clear();
}

#if KILN_HAVE_CUDNN

namespace {

#define KILN_CUDNN_CHECK(call)                                                                                 \
  do {                                                                                                         \
    cudnnStatus_t kiln_st_ = (call);                                                                           \
    KILN_CHECK(kiln_st_ == CUDNN_STATUS_SUCCESS, "cuDNN error ", cudnnGetErrorString(kiln_st_), " from ", #call); \
  } while (0)

constexpr size_t kMaxSearchWorkspace = size_t(1) << 30;

// ---- handles (Note [Vendor handles]) -------------------------------------------------------------

cudnnHandle_t create_handle(int) {
  cudnnHandle_t h = nullptr;
  KILN_CUDNN_CHECK(cudnnCreate(&h));
  return h;
}

HandlePool<cudnnHandle_t>& pool() {
  static auto* p = new HandlePool<cudnnHandle_t>(&create_handle);
  return *p;
}

cudnnHandle_t bound_handle(Stream stream) {
  thread_local ThreadHandles<cudnnHandle_t> mine(&pool());
  cudnnHandle_t h = mine.get(current_device());
  KILN_CUDNN_CHECK(cudnnSetStream(h, stream));
  return h;
}

// ---- descriptors ------------------------------------------------------------------------------------

int to_int(int64_t v, const char* op, const char* what) {
  KILN_CHECK(v >= 0 && v < (int64_t(1) << 31), op, ": ", what, " = ", v, " does not fit cuDNN's int sizes");
  return int(v);
}

cudnnDataType_t data_type(DType d, const char* op) {
  switch (d) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: KILN_FAIL(op, ": dtype ", dtype_name(d), " is not a floating dtype (f32, f64, f16, bf16)");
  }
}

cudnnMathType_t search_math(DType d) {
  switch (d) {
    case DType::f16:
    case DType::bf16: return CUDNN_TENSOR_OP_MATH;
    case DType::f32: return allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    default: return CUDNN_DEFAULT_MATH;
  }
}

// The four descriptors of one convolution, destroyed on scope exit (also when a check throws).
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  bool f64 = false;

  // Set up in set(), not in a constructor, so that the destructor also runs when a check in the
  // middle of the set-up throws.
  Descriptors() = default;
  void set(const char* op, DType dtype, const Conv2dGeom& g) {
    const cudnnDataType_t t = data_type(dtype, op);
    f64 = dtype == DType::f64;
    KILN_CHECK(g.B * g.C * g.H * g.W < (int64_t(1) << 31) && g.B * g.O * g.OH * g.OW < (int64_t(1) << 31) &&
                   g.O * g.cg() * g.KH * g.KW < (int64_t(1) << 31),
               op, ": tensors of 2^31 elements or more are not supported by cuDNN's convolution API (input [", g.B,
               ", ", g.C, ", ", g.H, ", ", g.W, "], output [", g.B, ", ", g.O, ", ", g.OH, ", ", g.OW, "])");
    KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, t, to_int(g.B, op, "B"), to_int(g.C, op, "C"),
                                                to_int(g.H, op, "H"), to_int(g.W, op, "W")));
    KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, t, to_int(g.B, op, "B"), to_int(g.O, op, "O"),
                                                to_int(g.OH, op, "OH"), to_int(g.OW, op, "OW")));
    KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, t, CUDNN_TENSOR_NCHW, to_int(g.O, op, "O"),
                                                to_int(g.cg(), op, "C/groups"), to_int(g.KH, op, "KH"),
                                                to_int(g.KW, op, "KW")));
    // f16/bf16 compute in f32 ("pseudo half"), f32 in f32, f64 in f64.
    KILN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv, to_int(g.PH, op, "padding"), to_int(g.PW, op, "padding"), to_int(g.SH, op, "stride"),
        to_int(g.SW, op, "stride"), to_int(g.DH, op, "dilation"), to_int(g.DW, op, "dilation"),
        CUDNN_CROSS_CORRELATION, f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT));
    KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, to_int(g.groups, op, "groups")));
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, search_math(dtype)));
    // cuDNN's own output size must be the tensor layer's (it is not for a transposed convolution
    // whose output_padding is not smaller than its stride: such shapes are refused here).
    int n = 0, c = 0, h = 0, wd = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv, x, w, &n, &c, &h, &wd));
    KILN_CHECK(n == g.B && c == g.O && h == g.OH && wd == g.OW, op, ": cuDNN computes an output of [", n, ", ", c,
               ", ", h, ", ", wd, "] for this convolution, kiln expects [", g.B, ", ", g.O, ", ", g.OH, ", ", g.OW,
               "] (output_padding >= stride is not supported on CUDA)");
  }
  ~Descriptors() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

// A workspace from the caching allocator, returned when the scope ends (after the launches that use
// it are queued on the stream).
struct Workspace {
  void* p = nullptr;
  size_t bytes = 0;
  Workspace(size_t n, Stream s) : bytes(n) {
    if (n > 0) p = device_allocate(n, current_device(), s);
  }
  ~Workspace() {
    if (p) device_free(p);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

// The largest workspace the search can get: the hungriest algorithm's need, capped, halved while
// the allocator refuses (down to 1 MiB, then none: the algorithms without workspace remain).
size_t search_workspace_bytes(size_t want, Stream s, void** out) {
  size_t bytes = std::min(want, kMaxSearchWorkspace);
  *out = nullptr;
  while (bytes > 0) {
    try {
      *out = device_allocate(bytes, current_device(), s);
      return bytes;
    } catch (const Error&) {
      bytes = bytes / 2 >= (size_t(1) << 20) ? bytes / 2 : 0;
    }
  }
  return 0;
}

// Looks up the choice for this convolution, searching once if it is not cached (Note [cuDNN
// algorithm cache]). Perf is the cudnnConvolution*AlgoPerf_t of the direction; size(algo, &bytes)
// asks one algorithm's workspace under conv's current math type; find(count, &returned, perf, ws,
// bytes) runs the search. Leaves conv set to the chosen math type.
template <class Perf, class SizeFn, class FindFn>
ConvAlgorithm choose(const char* op, ConvDirection dir, DType dtype, const Conv2dGeom& g, int algo_count, Stream s,
                     cudnnConvolutionDescriptor_t conv, SizeFn&& size, FindFn&& find) {
  AlgorithmCache& c = cache();
  const CacheKey key = make_key(dir, dtype, g);
  ConvAlgorithm hit;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.map.find(key);
    if (it != c.map.end()) hit = it->second;
  }
  if (hit.found) {
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, cudnnMathType_t(hit.math_type)));
    return hit;
  }
  // Searched outside the lock (it takes milliseconds); two threads meeting a new shape at once both
  // search, and the first result stored is kept.
  size_t want = 0;
  for (int a = 0; a < algo_count; ++a) {
    size_t b = 0;
    if (size(a, &b) == CUDNN_STATUS_SUCCESS) want = std::max(want, b);
  }
  void* ws = nullptr;
  const size_t ws_bytes = search_workspace_bytes(want, s, &ws);
  std::vector<Perf> perf(static_cast<size_t>(algo_count));
  int returned = 0;
  const cudnnStatus_t st = find(algo_count, &returned, perf.data(), ws, ws_bytes);
  if (ws) device_free(ws);
  KILN_CHECK(st == CUDNN_STATUS_SUCCESS, op, ": cuDNN's algorithm search failed: ", cudnnGetErrorString(st));
  c.searches.fetch_add(1);
  const bool det = deterministic_algorithms();
  bool any = false;
  ConvAlgorithm pick;
  for (int i = 0; i < returned; ++i) {  // sorted fastest first
    const Perf& p = perf[size_t(i)];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    any = true;
    if (det && p.determinism != CUDNN_DETERMINISTIC) continue;
    pick = {true, int(p.algo), int(p.mathType), int64_t(p.memory), p.time, p.determinism == CUDNN_DETERMINISTIC};
    break;
  }
  if (!pick.found) {
    if (any) check_deterministic(op, "cuDNN has no deterministic algorithm for this shape");
    KILN_FAIL(op, ": cuDNN has no algorithm for this convolution (input [", g.B, ", ", g.C, ", ", g.H, ", ", g.W,
              "], weight [", g.O, ", ", g.cg(), ", ", g.KH, ", ", g.KW, "], groups ", g.groups, ", dtype ",
              dtype_name(dtype), ")");
  }
  // The workspace the algorithm needs with the math type it runs with, asked once here rather than
  // at every call (it can exceed what the search reported when the math type differs).
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, cudnnMathType_t(pick.math_type)));
  size_t need = 0;
  if (size(pick.algo, &need) == CUDNN_STATUS_SUCCESS)
    pick.workspace_bytes = std::max(pick.workspace_bytes, int64_t(need));
  ConvAlgorithm kept;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    kept = c.map.emplace(key, pick).first->second;
  }
  if (kept.math_type != pick.math_type)
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, cudnnMathType_t(kept.math_type)));
  return kept;
}

// alpha = 1, beta = 0 in the type cuDNN expects: double for f64 compute, float otherwise.
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  bool f64;
  explicit Scalars(bool is_f64) : f64(is_f64) {}
  const void* one() const { return f64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return f64 ? static_cast<const void*>(&d0) : &f0; }
};

// cuDNN refuses empty tensors: an empty output needs nothing, and an output with an empty input
// (B = 0 for the weight gradient, no channels on the other side) is all zeros. Returns true when
// the call is done.
bool empty_result(DType dtype, int64_t out_numel, bool empty_input, void* out, Stream s) {
  if (out_numel == 0) return true;
  if (!empty_input) return false;
  KILN_CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(out_numel) * size_t(dtype_size(dtype)), s));
  return true;
}

}  // namespace

cudnnContext* cudnn_handle(Stream stream) { return bound_handle(stream); }

void conv2d_forward(DType dtype, const Conv2dGeom& g, const void* x, const void* w, void* y, Stream stream) {
  const char* op = "conv2d";
  if (empty_result(dtype, g.B * g.O * g.OH * g.OW, g.C == 0, y, stream)) return;
  Descriptors d;
  d.set(op, dtype, g);
  cudnnHandle_t h = bound_handle(stream);
  const ConvAlgorithm a = choose<cudnnConvolutionFwdAlgoPerf_t>(
      op, ConvDirection::forward, dtype, g, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, stream, d.conv,
      [&](int algo, size_t* b) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, cudnnConvolutionFwdAlgo_t(algo), b);
      },
      [&](int n, int* ret, cudnnConvolutionFwdAlgoPerf_t* p, void* ws, size_t bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, d.x, x, d.w, w, d.conv, d.y, y, n, ret, p, ws, bytes);
      });
  Workspace ws(size_t(a.workspace_bytes), stream);
  const Scalars k(d.f64);
  KILN_CUDNN_CHECK(cudnnConvolutionForward(h, k.one(), d.x, x, d.w, w, d.conv, cudnnConvolutionFwdAlgo_t(a.algo), ws.p,
                                           ws.bytes, k.zero(), d.y, y));
}

void conv2d_backward_data(DType dtype, const Conv2dGeom& g, const void* dy, const void* w, void* dx, Stream stream) {
  const char* op = "conv2d_backward_data";
  if (empty_result(dtype, g.B * g.C * g.H * g.W, g.O == 0, dx, stream)) return;
  Descriptors d;
  d.set(op, dtype, g);
  cudnnHandle_t h = bound_handle(stream);
  const ConvAlgorithm a = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
      op, ConvDirection::backward_data, dtype, g, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, stream, d.conv,
      [&](int algo, size_t* b) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x,
                                                            cudnnConvolutionBwdDataAlgo_t(algo), b);
      },
      [&](int n, int* ret, cudnnConvolutionBwdDataAlgoPerf_t* p, void* ws, size_t bytes) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, w, d.y, dy, d.conv, d.x, dx, n, ret, p, ws, bytes);
      });
  Workspace ws(size_t(a.workspace_bytes), stream);
  const Scalars k(d.f64);
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardData(h, k.one(), d.w, w, d.y, dy, d.conv,
                                                cudnnConvolutionBwdDataAlgo_t(a.algo), ws.p, ws.bytes, k.zero(), d.x,
                                                dx));
}

void conv2d_backward_weight(DType dtype, const Conv2dGeom& g, const void* dy, const void* x, void* dw,
                            Stream stream) {
  const char* op = "conv2d_backward_weight";
  if (empty_result(dtype, g.O * g.cg() * g.KH * g.KW, g.B == 0, dw, stream)) return;
  Descriptors d;
  d.set(op, dtype, g);
  cudnnHandle_t h = bound_handle(stream);
  const ConvAlgorithm a = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
      op, ConvDirection::backward_weight, dtype, g, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, stream, d.conv,
      [&](int algo, size_t* b) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w,
                                                              cudnnConvolutionBwdFilterAlgo_t(algo), b);
      },
      [&](int n, int* ret, cudnnConvolutionBwdFilterAlgoPerf_t* p, void* ws, size_t bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, x, d.y, dy, d.conv, d.w, dw, n, ret, p, ws,
                                                             bytes);
      });
  Workspace ws(size_t(a.workspace_bytes), stream);
  const Scalars k(d.f64);
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, k.one(), d.x, x, d.y, dy, d.conv,
                                                  cudnnConvolutionBwdFilterAlgo_t(a.algo), ws.p, ws.bytes, k.zero(),
                                                  d.w, dw));
}

#else  // no cuDNN in this build

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  KILN_FAIL(op, ": kiln was built without cuDNN (cudnn.h or libcudnn was not found when CMake configured the "
                "build), so CUDA convolutions are not available");
}
}  // namespace

void conv2d_forward(DType, const Conv2dGeom&, const void*, const void*, void*, Stream) { no_cudnn("conv2d"); }
void conv2d_backward_data(DType, const Conv2dGeom&, const void*, const void*, void*, Stream) {
  no_cudnn("conv2d_backward_data");
}
void conv2d_backward_weight(DType, const Conv2dGeom&, const void*, const void*, void*, Stream) {
  no_cudnn("conv2d_backward_weight");
}
cudnnContext* cudnn_handle(Stream) { no_cudnn("cudnn_handle"); }

#endif

}  // namespace kiln::cuda
