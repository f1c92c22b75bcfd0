#pragma once
// Shape: a small inline vector of up to kMaxDims int64 values (sizes or strides). It never
// allocates, which keeps per-op overhead on tiny tensors low.
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/kernels/error.h"
#include "kiln/kernels/loop.h"

namespace kiln {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> v) { assign(v.begin(), v.end()); }
  Shape(const std::vector<int64_t>& v) { assign(v.begin(), v.end()); }
  template <class It>
  Shape(It b, It e) { assign(b, e); }
  // n copies of value
  static Shape filled(int n, int64_t value) {
    Shape s;
    KILN_CHECK(n >= 0 && n <= kMaxDims, "Shape: ", n, " dimensions requested, at most ", kMaxDims, " supported");
    s.n_ = n;
    for (int i = 0; i < n; ++i) s.d_[i] = value;
    return s;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  const int64_t* data() const { return d_; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t back() const { return d_[n_ - 1]; }
  int64_t& back() { return d_[n_ - 1]; }
  void push_back(int64_t v) {
    KILN_CHECK(n_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions are not supported");
    d_[n_++] = v;
  }
  void pop_back() { --n_; }
  void insert(int pos, int64_t v) {
    KILN_CHECK(n_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions are not supported");
    for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }
  void resize(int n, int64_t fill = 0) {
    KILN_CHECK(n >= 0 && n <= kMaxDims, "Shape: ", n, " dimensions requested, at most ", kMaxDims, " supported");
    for (int i = n_; i < n; ++i) d_[i] = fill;
    n_ = n;
  }
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i) p *= d_[i];
    return p;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }
  std::string str() const;

  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  template <class It>
  void assign(It b, It e) {
    n_ = 0;
    for (; b != e; ++b) push_back(int64_t(*b));
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Row-major (C-contiguous) strides of a shape.
Shape contiguous_strides(const Shape& shape);
// Wraps a possibly negative dimension index into [0, ndim); throws naming `op` when out of range.
int wrap_dim(int64_t dim, int ndim, const char* op);
// numpy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace kiln
