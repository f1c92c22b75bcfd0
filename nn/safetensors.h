#pragma once
// The safetensors format (https://github.com/huggingface/safetensors), the state-dict format
// shared with PyTorch (DESIGN.md section 4):
//   8 bytes  little-endian u64 N, the header length
//   N bytes  JSON: {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//                   "__metadata__": {"<key>": "<value>", ...}}   (metadata optional)
//   data     the tensors' bytes, row-major, little-endian; offsets are relative to the data start.
// dtypes: F32 F64 F16 BF16 I64 I32 U8 BOOL (kiln's dtypes).
// Files are untrusted: the reader checks every field (header length, JSON, dtype, shapes, offsets
// inside the data and equal to numel * element size, no overlaps, no duplicate names, bool bytes
// 0 or 1) and throws a kiln::Error naming the file and the problem; it never reads out of bounds.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::safetensors {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct Contents {
  NamedTensors tensors;  // in the order of their data in the file (= the order they were saved)
  Metadata metadata;
};

// Header lengths above this are refused (a real header is a few KB per thousand tensors).
inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// Tensors are written contiguous, in the given order; non-CPU tensors are copied to the CPU.
// Names must be unique, non-empty and not "__metadata__".
std::string save_to_bytes(const NamedTensors& tensors, const Metadata& metadata = {});
void save(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

// Parses a file image; `source` names it in errors. The tensors are CPU copies.
Contents load_from_bytes(const void* data, size_t size, const std::string& source = "<memory>");
Contents load(const std::string& path);

}  // namespace kiln::nn::safetensors

namespace kiln::nn {

// module.state_dict() to a safetensors file (PyTorch names, so torch can load it).
void save_state_dict(const Module& module, const std::string& path,
                     const safetensors::Metadata& metadata = {});
// Reads a safetensors file into module.load_state_dict(..., strict).
LoadReport load_state_dict(Module& module, const std::string& path, bool strict = true);

}  // namespace kiln::nn
