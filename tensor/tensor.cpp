#include "kiln/tensor/tensor.h"

#include "kiln/kernels/cpu/copy.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/iterator.h"

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

Tensor& Tensor::copy_(const Tensor& src) {
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
    unsupported_device("copy_", device().is_cpu() ? src.device() : device());
  }
  bump_version();
  return *this;
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

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor out = empty(shape(), dtype(), dev);
  out.copy_(*this);
  return out;
}

}  // namespace kiln
