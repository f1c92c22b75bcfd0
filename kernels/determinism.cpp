#include "kiln/kernels/determinism.h"

#include <atomic>

#include "kiln/kernels/error.h"

namespace kiln {
namespace {
std::atomic<bool> g_deterministic{false};
}

void set_deterministic_algorithms(bool on) { g_deterministic.store(on, std::memory_order_relaxed); }
bool deterministic_algorithms() { return g_deterministic.load(std::memory_order_relaxed); }

void check_deterministic(const char* op, const char* why) {
  KILN_CHECK(!deterministic_algorithms(), op, " has no deterministic implementation (", why,
             ") and deterministic mode is on (set_deterministic_algorithms(false) allows it)");
}

}  // namespace kiln
