// CUDA copy / cast over a Loop (kernels/cuda/copy.h). Three paths, picked on the host:
//  - contiguous (one coalesced dim with unit strides): same dtype copies bytes with 16-byte vector
//    loads and stores when both pointers are 16-byte aligned (a byte tail follows); otherwise one
//    element per thread, converted;
//  - transposed (Note [Tiled transpose]): the source is contiguous along the destination's
//    second-innermost dim; 32x32 tiles staged through shared memory so reads and writes both coalesce;
//  - anything else: one element per thread, the linear index split into per-dim indices (32-bit
//    division when the element count fits, int64 offsets always).
// Same-dtype copies run on unsigned integers of the element size (bit-exact, fewer instantiations).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/copy.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 16;  // grid-stride loops cover the rest
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // block of 32 x 8 threads, each moving 4 elements of a tile

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)); }

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// ---- contiguous

__global__ void copy_bytes_vec16_kernel(uint4* out, const uint4* in, int64_t n16, char* out_tail,
                                        const char* in_tail, int tail) {
  const int64_t stride = grid_threads();
  for (int64_t i = global_thread(); i < n16; i += stride) out[i] = in[i];
  const int64_t t = global_thread();
  if (t < tail) out_tail[t] = in_tail[t];
}

template <class To, class From>
__global__ void copy_contiguous_kernel(To* out, const From* in, int64_t n) {
  const int64_t stride = grid_threads();
  for (int64_t i = global_thread(); i < n; i += stride) out[i] = convert<To>(in[i]);
}

// ---- strided

struct Geometry {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t out_strides[kMaxDims];
  int64_t in_strides[kMaxDims];
};

// Index: the type the linear index is split in (uint32_t when n < 2^32: 32-bit division is several
// times cheaper than 64-bit). The loop counter itself is int64 so that i + stride cannot wrap.
template <class To, class From, class Index>
__global__ void copy_strided_kernel(To* out, const From* in, Geometry g, int64_t n) {
  const int64_t stride = grid_threads();
  for (int64_t i = global_thread(); i < n; i += stride) {
    Index r = Index(i);
    int64_t oo = 0, io = 0;
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < g.ndim) {
        const Index size = Index(g.sizes[d]);
        const Index q = r / size;
        const int64_t k = int64_t(r - q * size);
        oo += k * g.out_strides[d];
        io += k * g.in_strides[d];
        r = q;
      }
    }
    out[oo] = convert<To>(in[io]);
  }
}

// ---- transposed
//
// Note [Tiled transpose]
// Dims A = ndim-2 and B = ndim-1 of the loop, where the source has unit stride along A and the
// destination unit stride along B (permute / transpose(...).contiguous(), NHWC <-> NCHW, the copies
// of cat and stack from transposed views). A block moves one 32x32 tile: it reads the tile with
// threadIdx.x running along A (coalesced reads), keeps it in shared memory as tile[b][a] with rows
// padded to 33 elements (the column reads below then hit 32 different banks), and writes it with
// threadIdx.x running along B (coalesced writes). The outer dims are a batch on gridDim.z. Every
// block runs the same tile loops (they depend on blockIdx only), so the __syncthreads are uniform.
struct TileGeometry {
  int64_t A, B;           // sizes of the two tiled dims
  int64_t in_stride_b;    // source stride along B (its stride along A is 1)
  int64_t out_stride_a;   // destination stride along A (its stride along B is 1)
  int nbatch_dims;        // outer dims, outermost first
  int64_t batch_sizes[kMaxDims];
  int64_t batch_out_strides[kMaxDims];
  int64_t batch_in_strides[kMaxDims];
  int64_t batch;          // product of batch_sizes
};

template <class To, class From>
__global__ void copy_tiled_kernel(To* out, const From* in, TileGeometry g) {
  __shared__ __align__(8) unsigned char raw[kTile * (kTile + 1) * sizeof(From)];
  From* tile = reinterpret_cast<From*>(raw);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles_a = (g.A + kTile - 1) / kTile, tiles_b = (g.B + kTile - 1) / kTile;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    int64_t oo = 0, io = 0, r = z;
    for (int d = g.nbatch_dims - 1; d >= 0; --d) {
      const int64_t k = r % g.batch_sizes[d];
      r /= g.batch_sizes[d];
      oo += k * g.batch_out_strides[d];
      io += k * g.batch_in_strides[d];
    }
    for (int64_t ta = blockIdx.y; ta < tiles_a; ta += gridDim.y) {
      for (int64_t tb = blockIdx.x; tb < tiles_b; tb += gridDim.x) {
        const int64_t a0 = ta * kTile, b0 = tb * kTile;
        for (int k = ty; k < kTile; k += kTileRows) {
          const int64_t a = a0 + tx, b = b0 + k;
          if (a < g.A && b < g.B) tile[k * (kTile + 1) + tx] = in[io + a + b * g.in_stride_b];
        }
        __syncthreads();
        for (int k = ty; k < kTile; k += kTileRows) {
          const int64_t a = a0 + k, b = b0 + tx;
          if (a < g.A && b < g.B) out[oo + a * g.out_stride_a + b] = convert<To>(tile[tx * (kTile + 1) + k]);
        }
        __syncthreads();  // the tile is refilled by the next iteration
      }
    }
  }
}

// Tiling pays when both tiled dims fill most of a tile.
constexpr int64_t kMinTiledSize = 16;

bool transposed(const Loop& L) {
  if (L.ndim < 2) return false;
  const int a = L.ndim - 2, b = L.ndim - 1;
  return L.strides[1][a] == 1 && L.strides[0][b] == 1 && L.sizes[a] >= kMinTiledSize && L.sizes[b] >= kMinTiledSize;
}

template <class To, class From>
void launch(const Loop& L, To* out, const From* in, int64_t n, Stream s) {
  if (L.ndim == 1 && L.strides[0][0] == 1 && L.strides[1][0] == 1) {
    copy_contiguous_kernel<To, From><<<blocks_for(n), kThreads, 0, s>>>(out, in, n);
    KILN_CUDA_CHECK_LAUNCH("copy_contiguous_kernel");
    return;
  }
  if (transposed(L)) {
    TileGeometry g{};
    const int a = L.ndim - 2, b = L.ndim - 1;
    g.A = L.sizes[a];
    g.B = L.sizes[b];
    g.in_stride_b = L.strides[1][b];
    g.out_stride_a = L.strides[0][a];
    g.nbatch_dims = L.ndim - 2;
    g.batch = 1;
    for (int d = 0; d < g.nbatch_dims; ++d) {
      g.batch_sizes[d] = L.sizes[d];
      g.batch_out_strides[d] = L.strides[0][d];
      g.batch_in_strides[d] = L.strides[1][d];
      g.batch *= L.sizes[d];
    }
    const int64_t tiles_a = (g.A + kTile - 1) / kTile, tiles_b = (g.B + kTile - 1) / kTile;
    const dim3 grid(unsigned(std::min<int64_t>(tiles_b, kMaxBlocks)), unsigned(std::min<int64_t>(tiles_a, 65535)),
                    unsigned(std::min<int64_t>(g.batch, 65535)));
    copy_tiled_kernel<To, From><<<grid, dim3(kTile, kTileRows), 0, s>>>(out, in, g);
    KILN_CUDA_CHECK_LAUNCH("copy_tiled_kernel");
    return;
  }
  Geometry g{};
  g.ndim = L.ndim;
  for (int d = 0; d < L.ndim; ++d) {
    g.sizes[d] = L.sizes[d];
    g.out_strides[d] = L.strides[0][d];
    g.in_strides[d] = L.strides[1][d];
  }
  if (n <= int64_t(UINT32_MAX))
    copy_strided_kernel<To, From, uint32_t><<<blocks_for(n), kThreads, 0, s>>>(out, in, g, n);
  else
    copy_strided_kernel<To, From, uint64_t><<<blocks_for(n), kThreads, 0, s>>>(out, in, g, n);
  KILN_CUDA_CHECK_LAUNCH("copy_strided_kernel");
}

// Same-dtype copies move the bits as an unsigned integer of the element size.
template <class F>
void dispatch_bits(int size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    case 8: f(uint64_t{}); return;
  }
  KILN_FAIL("copy_cast: unexpected element size ", size);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void copy_cast(const Loop& loop_in, DType dst, void* out, DType src, const void* in, Stream stream) {
  KILN_CHECK(loop_in.nops >= 2 && loop_in.ndim >= 0 && loop_in.ndim <= kMaxDims, "copy_cast: bad loop (",
             loop_in.nops, " operands, ", loop_in.ndim, " dims)");
  const int64_t n = loop_in.numel();
  if (n == 0) return;
  Loop loop = loop_in;
  if (loop.ndim == 0) {  // a single element: one dim of size 1
    loop.ndim = 1;
    loop.sizes[0] = 1;
    loop.strides[0][0] = loop.strides[1][0] = 0;
  }
  if (dst == src) {
    const int es = dtype_size(dst);
    const bool contiguous = loop.ndim == 1 && loop.strides[0][0] == 1 && loop.strides[1][0] == 1;
    if (contiguous && aligned16(out) && aligned16(in)) {
      const int64_t nbytes = n * es, n16 = nbytes / 16;
      const int tail = int(nbytes % 16);
      copy_bytes_vec16_kernel<<<blocks_for(std::max<int64_t>(n16, tail)), kThreads, 0, stream>>>(
          static_cast<uint4*>(out), static_cast<const uint4*>(in), n16, static_cast<char*>(out) + n16 * 16,
          static_cast<const char*>(in) + n16 * 16, tail);
      KILN_CUDA_CHECK_LAUNCH("copy_bytes_vec16_kernel");
      return;
    }
    dispatch_bits(es, [&](auto bits) {
      using B = decltype(bits);
      launch<B, B>(loop, static_cast<B*>(out), static_cast<const B*>(in), n, stream);
    });
    return;
  }
  dispatch_dtype(dst, [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch_dtype(src, [&](auto from_tag) {
      using From = decltype(from_tag);
      if constexpr (!std::is_same_v<To, From>)
        launch<To, From>(loop, static_cast<To*>(out), static_cast<const From*>(in), n, stream);
    });
  });
}

}  // namespace kiln::cuda
