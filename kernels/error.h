#pragma once
// kiln::Error and KILN_CHECK: the one way library code reports a failure (DESIGN.md section 2).
// The message names the file:line, the failed condition and the values the caller passes.
#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when a device has no implementation of an op yet (e.g. CUDA before that backend lands).
class NotSupportedError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class T, class... Rest>
void append_all(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append_all(os, rest...);
}
template <class... Args>
[[noreturn]] void throw_error(const char* file, int line, const char* cond, const Args&... args) {
  std::ostringstream os;
  append_all(os, args...);
  os << " [" << file << ":" << line;
  if (cond && *cond) os << ", check `" << cond << "` failed";
  os << "]";
  throw Error(os.str());
}
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  append_all(os, args...);
  return os.str();
}
}  // namespace detail

}  // namespace kiln

// KILN_CHECK(cond, "op: what is wrong ", value, ...): throws kiln::Error when cond is false.
#define KILN_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) [[unlikely]]                                                  \
      ::kiln::detail::throw_error(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
  } while (0)

// KILN_FAIL("message", values...): unconditional error.
#define KILN_FAIL(...) ::kiln::detail::throw_error(__FILE__, __LINE__, "", __VA_ARGS__)
