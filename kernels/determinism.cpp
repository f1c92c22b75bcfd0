#include "kiln/kernels/determinism.h"

#include <atomic>

#include "kiln/kernels/error.h"

namespace kiln {
namespace {
std::atomic<bool> g_deterministic{false};
std::atomic<bool> g_allow_tf32{false};
}

void set_deterministic_algorithms(bool on) { g_deterministic.store(on, std::memory_order_relaxed); }
bool deterministic_algorithms() { return g_deterministic.load(std::memory_order_relaxed); }

void set_allow_tf32(bool on) { g_allow_tf32.store(on, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

void check_deterministic(const char* op, const char* why) {
  KILN_CHECK(!deterministic_algorithms(), op, " has no deterministic implementation (", why,
             ") and deterministic mode is on (set_deterministic_algorithms(false) allows it)");
}

}  // namespace kiln
