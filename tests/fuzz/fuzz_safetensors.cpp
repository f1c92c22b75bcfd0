// libFuzzer target: nn::safetensors::load_from_bytes on arbitrary bytes. A kiln::Error is the
// expected answer to a bad file; anything else (a crash, a sanitizer report, another exception)
// is a bug.
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/error.h"
#include "kiln/nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::nn::safetensors::Contents c = kiln::nn::safetensors::load_from_bytes(data, size, "fuzz");
    // Touch every tensor so that a wrong size or offset would read out of bounds here.
    size_t sum = 0;
    for (const auto& [name, t] : c.tensors) {
      const auto* p = static_cast<const uint8_t*>(t.data_ptr());
      for (int64_t i = 0; i < t.nbytes(); ++i) sum += p[i];
    }
    (void)sum;
  } catch (const kiln::Error&) {
  }
  return 0;
}
