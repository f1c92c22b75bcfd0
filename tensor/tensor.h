#pragma once
// Tensor: a cheap handle (shared ownership) over a TensorImpl = Storage + shape, strides (in
// elements), offset (in elements), dtype. Copying a Tensor copies the handle; views share the
// Storage. Ops are free functions in the other headers of this folder (kiln/tensor/ops.h
// includes them all); the class holds metadata access and the view methods.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/tensor/device.h"
#include "kiln/tensor/dtype.h"
#include "kiln/tensor/shape.h"
#include "kiln/tensor/storage.h"

namespace kiln {

// Defined by the autograd layer; the tensor layer only carries the pointer.
struct AutogradMeta;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  // A view of `storage` with the given geometry.
  Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // Same TensorImpl (not merely the same storage).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int dim() const { return impl_->shape.size(); }
  int64_t numel() const { return impl_->shape.numel(); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  int64_t offset() const { return impl_->offset; }
  int64_t element_size() const { return dtype_size(impl_->dtype); }
  int64_t nbytes() const { return numel() * element_size(); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  bool shares_storage(const Tensor& o) const { return impl_->storage == o.impl_->storage; }

  // ---- version counter (shared by all views of the storage)
  uint64_t version() const { return impl_->storage->version(); }
  void bump_version() const { impl_->storage->bump_version(); }

  // ---- data access (CPU)
  void* data_ptr() const;  // address of element 0 of this view
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>(), "Tensor::data");
    return static_cast<T*>(data_ptr());
  }
  // Value of a one-element tensor as T (converted from its dtype; copied from the device if needed).
  template <class T>
  T item() const;
  // All values in row-major order, converted to T (copied from the device if needed).
  template <class T>
  std::vector<T> to_vector() const;

  // ---- views (share storage)
  Tensor view(const Shape& shape) const;     // needs compatible strides; -1 infers one size
  Tensor reshape(const Shape& shape) const;  // view when possible, else a contiguous copy
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-d transpose (0-d and 1-d returned as is)
  Tensor expand(const Shape& shape) const;   // -1 keeps a size; new leading dims allowed
  Tensor broadcast_to(const Shape& shape) const { return expand(shape); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  // Python-style slice [start:end:step] on dim; negative start/end count from the end, and are
  // clamped to the valid range.
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor unflatten(int64_t dim, const Shape& sizes) const;
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  Tensor contiguous() const;  // this tensor if already contiguous, else a copy
  Tensor clone() const;       // always a contiguous copy

  // ---- conversion
  Tensor to(DType dtype) const;    // this tensor if already of that dtype, else a cast copy
  Tensor to(Device device) const;  // this tensor if already there, else a copy
  // non_blocking (Note [Copies between devices] in tensor.cpp): a CPU -> CUDA copy from pinned
  // memory and a CUDA -> CPU copy (into a pinned result) return before the transfer is done; read
  // the result only after cuda::synchronize() or later work on the same stream.
  Tensor to(Device device, bool non_blocking) const;
  Tensor cpu() const { return to(kCPU); }

  // Copies src (broadcast to this shape, cast to this dtype) into this tensor, in place, between
  // any two devices. non_blocking: see to(Device, bool); without it the copy is complete (as seen
  // from the host) when copy_ returns, except CUDA -> CUDA copies, which are queued on the current
  // stream like every CUDA op.
  Tensor& copy_(const Tensor& src, bool non_blocking = false);

  // ---- pinned memory and streams (CUDA builds; errors otherwise)
  // A copy of this CPU tensor in page-locked memory (this tensor if it already is), from which
  // non_blocking copies to the GPU overlap with compute.
  Tensor pin_memory() const;
  bool is_pinned() const;  // a CPU tensor in page-locked memory
  // Tells the caching allocator that this CUDA tensor's memory is also used by work on stream s, so
  // it is not reused before that work completes (Note [Caching allocator]).
  void record_stream(cuda::Stream s) const;

  std::string str() const;  // readable printing, see print.h

  void check_dtype(DType expected, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Checks that a tensor argument is defined, naming the op and argument.
void check_defined(const Tensor& t, const char* op, const char* arg);
// Checks that all tensors are on the same device.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

}  // namespace kiln
