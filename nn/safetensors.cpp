// safetensors reading and writing. The reader treats the file as hostile: every number from the
// header is range-checked before it is used as a size or an offset, with overflow-checked
// arithmetic, and the JSON parser's own errors are turned into kiln::Errors.
#include "kiln/nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn::safetensors {

static_assert(std::endian::native == std::endian::little, "safetensors: only little-endian hosts are supported");

using json = nlohmann::json;

static const char* dtype_tag(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::b8: return "BOOL";
  }
  return "?";
}

static bool parse_dtype(const std::string& s, DType& out) {
  for (DType d : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8, DType::b8}) {
    if (s == dtype_tag(d)) {
      out = d;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- writing

std::string save_to_bytes(const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> data;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    KILN_CHECK(!name.empty() && name != "__metadata__", "safetensors::save: invalid tensor name '", name, "'");
    KILN_CHECK(names.insert(name).second, "safetensors::save: tensor name '", name, "' appears twice");
    check_defined(t, "safetensors::save", name.c_str());
    Tensor c = t.cpu().contiguous();
    uint64_t n = uint64_t(c.nbytes());
    header[name] = {{"dtype", dtype_tag(c.dtype())}, {"shape", c.shape().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data section 8-byte aligned, as the reference writer does
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += h;
  for (const Tensor& c : data)
    if (c.numel() > 0) out.append(static_cast<const char*>(c.data_ptr()), size_t(c.nbytes()));
  return out;
}

void save(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::string bytes = save_to_bytes(tensors, metadata);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  KILN_CHECK(f.good(), "safetensors::save: cannot open '", path, "' for writing");
  f.write(bytes.data(), std::streamsize(bytes.size()));
  f.close();
  KILN_CHECK(!f.fail(), "safetensors::save: writing '", path, "' failed");
}

// ---------------------------------------------------------------- reading

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// A non-negative integer from the header, or an error naming what it was.
uint64_t as_count(const json& v, const std::string& src, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    KILN_CHECK(x >= 0, "safetensors '", src, "': ", what, " is negative (", x, ")");
    return uint64_t(x);
  }
  KILN_CHECK(false, "safetensors '", src, "': ", what, " is not an integer (", v.dump(), ")");
  return 0;
}

Entry parse_entry(const std::string& name, const json& e, const std::string& src) {
  KILN_CHECK(!name.empty(), "safetensors '", src, "': a tensor has an empty name");
  KILN_CHECK(e.is_object(), "safetensors '", src, "': entry '", name, "' is not a JSON object");
  for (const char* k : {"dtype", "shape", "data_offsets"})
    KILN_CHECK(e.contains(k), "safetensors '", src, "': tensor '", name, "' has no \"", k, "\"");
  Entry out{name, DType::f32, {}, 0, 0};
  const json& dt = e["dtype"];
  KILN_CHECK(dt.is_string(), "safetensors '", src, "': tensor '", name, "': dtype is not a string");
  KILN_CHECK(parse_dtype(dt.get<std::string>(), out.dtype), "safetensors '", src, "': tensor '", name,
             "' has unsupported dtype \"", dt.get<std::string>(), "\" (supported: F32 F64 F16 BF16 I64 I32 U8 BOOL)");
  const json& sh = e["shape"];
  KILN_CHECK(sh.is_array(), "safetensors '", src, "': tensor '", name, "': shape is not an array");
  KILN_CHECK(sh.size() <= size_t(kMaxDims), "safetensors '", src, "': tensor '", name, "' has ", sh.size(),
             " dimensions, at most ", kMaxDims, " are supported");
  // numel * element size must fit comfortably: sizes are checked one by one with overflow checks.
  uint64_t bytes = uint64_t(dtype_size(out.dtype));
  constexpr uint64_t kLimit = uint64_t(std::numeric_limits<int64_t>::max());
  bool overflow = false;
  for (size_t i = 0; i < sh.size(); ++i) {
    uint64_t d = as_count(sh[i], src, "shape of tensor '" + name + "'");
    KILN_CHECK(d <= kLimit, "safetensors '", src, "': tensor '", name, "' has a dimension of size ", d);
    out.shape.push_back(int64_t(d));
    if (__builtin_mul_overflow(bytes, d, &bytes) || bytes > kLimit) overflow = true;
  }
  // A 0 anywhere makes the product 0 even if an earlier partial product overflowed.
  for (int i = 0; i < out.shape.size(); ++i)
    if (out.shape[i] == 0) overflow = false, bytes = 0;
  KILN_CHECK(!overflow, "safetensors '", src, "': tensor '", name, "' shape ", sh.dump(), " overflows");
  const json& off = e["data_offsets"];
  KILN_CHECK(off.is_array() && off.size() == 2, "safetensors '", src, "': tensor '", name,
             "': data_offsets is not a pair [begin, end]");
  out.begin = as_count(off[0], src, "data_offsets of tensor '" + name + "'");
  out.end = as_count(off[1], src, "data_offsets of tensor '" + name + "'");
  KILN_CHECK(out.begin <= out.end, "safetensors '", src, "': tensor '", name, "' has data_offsets [", out.begin,
             ", ", out.end, "] with begin > end");
  KILN_CHECK(out.end - out.begin == bytes, "safetensors '", src, "': tensor '", name, "' of dtype ",
             dtype_tag(out.dtype), " and shape ", sh.dump(), " needs ", bytes, " bytes, data_offsets [", out.begin,
             ", ", out.end, "] give ", out.end - out.begin);
  return out;
}

}  // namespace

Contents load_from_bytes(const void* data, size_t size, const std::string& src) {
  KILN_CHECK(data != nullptr || size == 0, "safetensors '", src, "': null buffer");
  const char* p = static_cast<const char*>(data);
  KILN_CHECK(size >= 8, "safetensors '", src, "': ", size, " bytes is too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, p, 8);
  KILN_CHECK(n <= kMaxHeaderBytes, "safetensors '", src, "': header length ", n, " is absurd (limit ",
             kMaxHeaderBytes, " bytes)");
  KILN_CHECK(n <= size - 8, "safetensors '", src, "': header length ", n, " exceeds the file size ", size);
  json header;
  // Duplicate top-level keys: nlohmann keeps the last silently, so they are caught while parsing.
  std::set<std::string> keys;
  std::string duplicate;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (depth == 1 && ev == json::parse_event_t::key && parsed.is_string()) {
      std::string k = parsed.get<std::string>();
      if (!keys.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  try {
    header = json::parse(p + 8, p + 8 + n, cb);
  } catch (const json::exception& e) {
    KILN_CHECK(false, "safetensors '", src, "': header is not valid JSON (", e.what(), ")");
  }
  KILN_CHECK(duplicate.empty(), "safetensors '", src, "': tensor name '", duplicate, "' appears twice in the header");
  KILN_CHECK(header.is_object(), "safetensors '", src, "': header is not a JSON object");
  const uint64_t data_size = size - 8 - n;
  const char* base = p + 8 + n;

  Contents out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      KILN_CHECK(it->is_object(), "safetensors '", src, "': __metadata__ is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        KILN_CHECK(m->is_string(), "safetensors '", src, "': metadata value of '", m.key(), "' is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    Entry e = parse_entry(it.key(), *it, src);
    KILN_CHECK(e.end <= data_size, "safetensors '", src, "': tensor '", e.name, "' has data_offsets [", e.begin, ", ",
               e.end, "] outside the data section of ", data_size, " bytes");
    entries.push_back(std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;  // empty tensors occupy no bytes
    KILN_CHECK(!prev || e.begin >= prev->end, "safetensors '", src, "': tensors '", prev->name, "' [", prev->begin,
               ", ", prev->end, ") and '", e.name, "' [", e.begin, ", ", e.end, ") overlap");
    prev = &e;
  }
  for (const Entry& e : entries) {
    const char* bytes = base + e.begin;
    if (e.dtype == DType::b8) {
      for (uint64_t i = 0; i < e.end - e.begin; ++i)
        KILN_CHECK(bytes[i] == 0 || bytes[i] == 1, "safetensors '", src, "': BOOL tensor '", e.name,
                   "' holds byte value ", int(static_cast<unsigned char>(bytes[i])), " (only 0 and 1 are valid)");
    }
    Tensor t = e.end > e.begin ? from_blob(bytes, e.shape, e.dtype) : empty(e.shape, e.dtype);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

Contents load(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  KILN_CHECK(f.good(), "safetensors: cannot open '", path, "'");
  std::streamoff size = f.tellg();
  KILN_CHECK(size >= 0, "safetensors: cannot read the size of '", path, "'");
  std::string bytes(size_t(size), '\0');
  f.seekg(0);
  f.read(bytes.data(), size);
  KILN_CHECK(f.good() || size == 0, "safetensors: reading '", path, "' failed");
  return load_from_bytes(bytes.data(), bytes.size(), path);
}

}  // namespace kiln::nn::safetensors

namespace kiln::nn {

void save_state_dict(const Module& module, const std::string& path, const safetensors::Metadata& metadata) {
  safetensors::save(path, module.state_dict(), metadata);
}

LoadReport load_state_dict(Module& module, const std::string& path, bool strict) {
  return module.load_state_dict(safetensors::load(path).tensors, strict);
}

}  // namespace kiln::nn
