#include "kiln/tensor/tensor.h"

#include "kiln/kernels/cpu/copy.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/iterator.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/copy.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {

Tensor::Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset,
               DType dtype)
    : impl_(std::make_shared<TensorImpl>()) {
  impl_->storage = std::move(storage);
  impl_->shape = shape;
  impl_->strides = strides;
  impl_->offset = offset;
  impl_->dtype = dtype;
}

int64_t Tensor::size(int64_t dim) const { return impl_->shape[wrap_dim(dim, this->dim(), "Tensor::size")]; }
int64_t Tensor::stride(int64_t dim) const {
  return impl_->strides[wrap_dim(dim, this->dim(), "Tensor::stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const Shape& s = impl_->shape;
  for (int d = s.size() - 1; d >= 0; --d) {
    if (s[d] == 0) return true;
    if (s[d] != 1 && impl_->strides[d] != expected) return false;
    expected *= s[d];
  }
  return true;
}

void* Tensor::data_ptr() const {
  char* base = static_cast<char*>(impl_->storage->data());
  return base ? base + impl_->offset * element_size() : nullptr;
}

void Tensor::check_dtype(DType expected, const char* op) const {
  KILN_CHECK(defined(), op, ": tensor is undefined");
  KILN_CHECK(dtype() == expected, op, ": expected dtype ", dtype_name(expected), ", got ", dtype_name(dtype()));
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  KILN_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  KILN_CHECK(a.device() == b.device(), op, ": tensors are on different devices (", a.device().str(), " and ",
             b.device().str(), ")");
}

template <class T>
T Tensor::item() const {
  KILN_CHECK(defined(), "item: tensor is undefined");
  KILN_CHECK(numel() == 1, "item: tensor has ", numel(), " elements (shape ", shape(), "), expected exactly 1");
  return to_vector<T>()[0];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  KILN_CHECK(defined(), "to_vector: tensor is undefined");
  Tensor src = device().is_cpu() ? *this : cpu();
  std::vector<T> out(size_t(src.numel()));
  if (out.empty()) return out;
  Tensor dst(std::make_shared<Storage>(out.data(), out.size() * sizeof(T), kCPU, nullptr), src.shape(),
             contiguous_strides(src.shape()), 0, dtype_of<T>());
  dst.copy_(src);
  return out;
}

#define KILN_INSTANTIATE_ACCESS(T) \
  template T Tensor::item<T>() const; \
  template std::vector<T> Tensor::to_vector<T>() const;
KILN_INSTANTIATE_ACCESS(float)
KILN_INSTANTIATE_ACCESS(double)
KILN_INSTANTIATE_ACCESS(Half)
KILN_INSTANTIATE_ACCESS(BFloat16)
KILN_INSTANTIATE_ACCESS(int64_t)
KILN_INSTANTIATE_ACCESS(int32_t)
KILN_INSTANTIATE_ACCESS(uint8_t)
#undef KILN_INSTANTIATE_ACCESS
// std::vector<bool> is packed, so bool values come out through uint8_t.
template <>
bool Tensor::item<bool>() const {
  return to(DType::u8).item<uint8_t>() != 0;
}

#if KILN_HAVE_CUDA
namespace {

// Note [Copies between devices]
// CUDA -> CUDA on one device is the copy kernel (kernels/cuda/copy.h) on the device's current
// stream. Between two devices the source is made contiguous on its device and copied over
// (cuda::memcpy_peer_sync), then cast / broadcast / scattered on the destination device when the
// destination is not simply a contiguous tensor of the same dtype and size.
// CPU <-> CUDA moves bytes with one memcpy when both sides are contiguous with the same dtype and
// element count; otherwise the source is first made contiguous in its own dtype on its own device
// (its copy kernel), transferred, and the destination's copy kernel casts and scatters it. A
// transfer is synchronous (the host side may be freed or read at once) except with non_blocking
// when the host side is pinned: then it is queued on the CUDA device's current stream and the
// pinned block is recorded on that stream (Note [Pinned memory]), so freeing the host tensor early
// cannot let a later user overwrite it before the transfer has read it.
bool same_bytes(const Tensor& dst, const Tensor& src) {
  return dst.dtype() == src.dtype() && dst.numel() == src.numel() && dst.is_contiguous() && src.is_contiguous();
}

void copy_on_device(Tensor& dst, const Tensor& src) {
  Loop loop = make_loop(dst.shape(), {&dst, &src});
  cuda::copy_cast(loop, dst.dtype(), dst.data_ptr(), src.dtype(), src.data_ptr(), cuda::prepare(dst.device().index));
}

void transfer(void* dst, const void* src, size_t nbytes, cuda::CopyKind kind, cuda::Stream s, void* host,
              bool non_blocking) {
  if (non_blocking && cuda::is_pinned(host)) {
    cuda::memcpy_async(dst, src, nbytes, kind, s);
    cuda::pinned_record_stream(host, s);
  } else {
    cuda::memcpy_sync(dst, src, nbytes, kind, s);
  }
}

void copy_with_cuda(Tensor& dst, const Tensor& src, bool non_blocking) {
  const Device dd = dst.device(), sd = src.device();
  if (dd.is_cuda() && sd.is_cuda()) {
    if (dd.index == sd.index) {
      copy_on_device(dst, src);
      return;
    }
    const Tensor s = src.contiguous();
    Tensor d = same_bytes(dst, s) ? dst : empty(s.shape(), s.dtype(), dd);
    cuda::memcpy_peer_sync(d.data_ptr(), dd.index, s.data_ptr(), sd.index, size_t(s.nbytes()));
    if (!d.is_same(dst)) copy_on_device(dst, d);
    return;
  }
  if (dd.is_cuda()) {  // host -> device
    const cuda::Stream stream = cuda::prepare(dd.index);
    if (same_bytes(dst, src)) {
      transfer(dst.data_ptr(), src.data_ptr(), size_t(dst.nbytes()), cuda::CopyKind::host_to_device, stream,
               src.data_ptr(), non_blocking);
      return;
    }
    const Tensor h = src.contiguous();
    Tensor d = empty(h.shape(), h.dtype(), dd);
    transfer(d.data_ptr(), h.data_ptr(), size_t(h.nbytes()), cuda::CopyKind::host_to_device, stream, h.data_ptr(),
             non_blocking);
    copy_on_device(dst, d);  // queued on the same stream, after the transfer
    return;
  }
  // device -> host
  const cuda::Stream stream = cuda::prepare(sd.index);
  if (same_bytes(dst, src)) {
    transfer(dst.data_ptr(), src.data_ptr(), size_t(dst.nbytes()), cuda::CopyKind::device_to_host, stream,
             dst.data_ptr(), non_blocking);
    return;
  }
  const Tensor d = src.contiguous();
  Tensor h = empty(d.shape(), d.dtype(), kCPU);
  cuda::memcpy_sync(h.data_ptr(), d.data_ptr(), size_t(d.nbytes()), cuda::CopyKind::device_to_host, stream);
  Loop loop = make_loop(dst.shape(), {&dst, &h});
  cpu::copy_cast(loop, dst.dtype(), dst.data_ptr(), h.dtype(), h.data_ptr());
}

// An uninitialised CPU tensor in pinned memory.
Tensor empty_pinned(const Shape& shape, DType dtype) {
  const size_t nbytes = size_t(shape.numel()) * size_t(dtype_size(dtype));
  void* p = nbytes ? cuda::pinned_allocate(nbytes) : nullptr;
  auto deleter = [](void* q) {
    try {
      cuda::pinned_free(q);
    } catch (...) {  // a deleter must not throw (see tensor/storage.cpp)
    }
  };
  auto st = std::make_shared<Storage>(p, nbytes, kCPU, Storage::Deleter(deleter));
  return Tensor(std::move(st), shape, contiguous_strides(shape), 0, dtype);
}

}  // namespace
#endif

Tensor& Tensor::copy_(const Tensor& src, bool non_blocking) {
  check_defined(*this, "copy_", "self");
  check_defined(src, "copy_", "src");
  Shape b = broadcast_shapes(shape(), src.shape(), "copy_");
  KILN_CHECK(b == shape(), "copy_: source of shape ", src.shape(), " cannot be broadcast to destination shape ",
             shape());
  if (numel() == 0) return *this;
  check_writable(*this, "copy_");
  if (device().is_cpu() && src.device().is_cpu()) {
    Loop loop = make_loop(shape(), {this, &src});
    cpu::copy_cast(loop, dtype(), data_ptr(), src.dtype(), src.data_ptr());
  } else {
#if KILN_HAVE_CUDA
    copy_with_cuda(*this, src, non_blocking);
#else
    (void)non_blocking;
    unsupported_device("copy_", device().is_cpu() ? src.device() : device());
#endif
  }
  bump_version();
  return *this;
}

Tensor Tensor::pin_memory() const {
  KILN_CHECK(defined(), "pin_memory: tensor is undefined");
  KILN_CHECK(device().is_cpu(), "pin_memory: only CPU tensors can be pinned, this one is on ", device().str());
#if KILN_HAVE_CUDA
  if (is_pinned()) return *this;
  Tensor out = empty_pinned(shape(), dtype());
  out.copy_(*this);
  return out;
#else
  KILN_FAIL("pin_memory: kiln was built without CUDA");
#endif
}

bool Tensor::is_pinned() const {
  if (!defined() || !device().is_cpu()) return false;
#if KILN_HAVE_CUDA
  return storage()->data() != nullptr && cuda::is_pinned(storage()->data());
#else
  return false;
#endif
}

void Tensor::record_stream(cuda::Stream s) const {
  KILN_CHECK(defined() && device().is_cuda(), "record_stream: needs a CUDA tensor");
#if KILN_HAVE_CUDA
  if (storage()->data()) cuda::record_stream(storage()->data(), s);
#else
  (void)s;
  KILN_FAIL("record_stream: kiln was built without CUDA");
#endif
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType d) const {
  if (d == dtype()) return *this;
  Tensor out = empty(shape(), d, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device dev) const { return to(dev, false); }

Tensor Tensor::to(Device dev, bool non_blocking) const {
  if (dev == device()) return *this;
#if KILN_HAVE_CUDA
  // A non-blocking download needs a pinned destination to be asynchronous at all.
  Tensor out = non_blocking && dev.is_cpu() ? empty_pinned(shape(), dtype()) : empty(shape(), dtype(), dev);
#else
  Tensor out = empty(shape(), dtype(), dev);
#endif
  out.copy_(*this, non_blocking);
  return out;
}

}  // namespace kiln
