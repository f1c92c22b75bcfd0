// safetensors: round trips, hostile files, PyTorch interop (fixture from tools/golden/gen_state_dicts.py,
// and a kiln-written file read back by torch through tools/golden/check_kiln_file.py).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "kiln/nn/containers.h"
#include "kiln/nn/safetensors.h"
#include "support/fixtures.h"

namespace kiln::nn {
namespace {

namespace st = safetensors;

// Every dtype, a 0-d, a 0-size and a non-contiguous tensor; values arange(numel) (bool: % 2).
// check_kiln_file.py expects exactly these names, shapes and order.
st::NamedTensors every_dtype() {
  auto ar = [](int64_t n, const Shape& s, DType d) { return arange(n, DType::f64).reshape(s).to(d); };
  return {
      {"f32", ar(6, {2, 3}, DType::f32)},   {"f64", ar(4, {4}, DType::f64)},
      {"f16", ar(3, {3, 1}, DType::f16)},   {"bf16", ar(5, {5}, DType::bf16)},
      {"i64", ar(4, {2, 2}, DType::i64)},   {"i32", ar(3, {3}, DType::i32)},
      {"u8", ar(7, {7}, DType::u8)},        {"bool", remainder(arange(6, DType::i64), 2).reshape({2, 3}).to(DType::b8)},
      {"scalar", scalar_tensor(0.0, DType::f32)}, {"empty", empty({0, 3})},
      {"transposed", arange(6, DType::f32).view({2, 3}).t()},
  };
}

TEST(Safetensors, RoundTripEveryDtypeInMemory) {
  auto src = every_dtype();
  std::string bytes = st::save_to_bytes(src, {{"producer", "kiln"}});
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // data section aligned
  st::Contents c = st::load_from_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(c.metadata, (st::Metadata{{"producer", "kiln"}}));
  ASSERT_EQ(c.tensors.size(), src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(c.tensors[i].first, src[i].first);
    EXPECT_EQ(c.tensors[i].second.dtype(), src[i].second.dtype()) << src[i].first;
    EXPECT_TRUE(test::tensors_equal(c.tensors[i].second, src[i].second)) << src[i].first;
  }
  EXPECT_EQ(c.tensors[8].second.dim(), 0);
}

TEST(Safetensors, RoundTripThroughAFile) {
  std::string path = ::testing::TempDir() + "kiln_st_roundtrip.safetensors";
  st::save(path, every_dtype());
  st::Contents c = st::load(path);
  EXPECT_TRUE(c.metadata.empty());
  EXPECT_EQ(c.tensors.size(), every_dtype().size());
  EXPECT_TRUE(test::tensors_equal(c.tensors[0].second, every_dtype()[0].second));
  EXPECT_KILN_ERROR(st::load(path + ".missing"), "cannot open");
  EXPECT_KILN_ERROR(st::save(path, {{"a", ones({1})}, {"a", ones({1})}}), "appears twice");
  std::remove(path.c_str());
}

// A file image from a header text and n data bytes.
std::string image(const std::string& header, size_t data_bytes = 0, char fill = 0) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, fill);
}

void expect_rejected(const std::string& bytes, const std::string& needle) {
  EXPECT_KILN_ERROR(st::load_from_bytes(bytes.data(), bytes.size(), "evil.safetensors"), needle);
  EXPECT_KILN_ERROR(st::load_from_bytes(bytes.data(), bytes.size(), "evil.safetensors"), "evil.safetensors");
}

TEST(Safetensors, HostileHeadersGiveClearErrors) {
  expect_rejected(std::string(5, '\0'), "too short");
  std::string big(8, '\0');
  uint64_t huge = 1ull << 40;
  std::memcpy(big.data(), &huge, 8);
  expect_rejected(big + "{}", "is absurd");
  uint64_t longer = 100;
  std::string lying(8, '\0');
  std::memcpy(lying.data(), &longer, 8);
  expect_rejected(lying + "{}", "exceeds the file size");
  expect_rejected(image("{\"a\": {"), "not valid JSON");
  expect_rejected(image("[1, 2]"), "not a JSON object");
  expect_rejected(image(R"({"a": 3})"), "entry 'a' is not a JSON object");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1]}})"), "has no \"data_offsets\"");
  expect_rejected(image(R"({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})", 8), "unsupported dtype \"C64\"");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4), "is negative");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4), "not an integer");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4),
                  "overflows");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8), "needs 8 bytes");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8), "begin > end");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 8),
                  "outside the data section of 8 bytes");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                        R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                        8),
                  "overlap");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                        R"( "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                        8),
                  "'a' appears twice");
  expect_rejected(image(R"({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})", 2, 7), "byte value 7");
  expect_rejected(image(R"({"__metadata__": {"k": 1}})"), "metadata value of 'k' is not a string");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],)"
                        R"( "data_offsets": [0, 4]}})",
                        4),
                  "dimensions");
  // A well-formed one with an empty tensor parses.
  std::string ok = image(R"({"e": {"dtype": "I64", "shape": [0], "data_offsets": [0, 0]}})");
  EXPECT_EQ(st::load_from_bytes(ok.data(), ok.size()).tensors.at(0).second.numel(), 0);
}

// ---- PyTorch interop

// Test-only stand-ins with PyTorch's parameter names (the real Linear/Conv2d/BatchNorm2d are
// branch nn_layers, which also compares model outputs against the fixture).
class Holder : public Module {
 public:
  Holder(const std::string& type, const std::vector<std::pair<std::string, Shape>>& params,
         const std::vector<std::pair<std::string, Tensor>>& buffers = {})
      : Module(type) {
    for (auto& [n, s] : params) register_parameter(n, zeros(s));
    for (auto& [n, t] : buffers) register_buffer(n, t);
  }
};

std::shared_ptr<Sequential> torch_like_mlp() {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Holder>("Linear", std::vector<std::pair<std::string, Shape>>{{"weight", {3, 4}}, {"bias", {3}}}),
      std::make_shared<Holder>("ReLU", std::vector<std::pair<std::string, Shape>>{}),
      std::make_shared<Holder>("Linear", std::vector<std::pair<std::string, Shape>>{{"weight", {2, 3}}, {"bias", {2}}})});
}

std::shared_ptr<Sequential> torch_like_cbr() {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Holder>("Conv2d",
                               std::vector<std::pair<std::string, Shape>>{{"weight", {4, 3, 3, 3}}, {"bias", {4}}}),
      std::make_shared<Holder>(
          "BatchNorm2d", std::vector<std::pair<std::string, Shape>>{{"weight", {4}}, {"bias", {4}}},
          std::vector<std::pair<std::string, Tensor>>{{"running_mean", zeros({4})},
                                                      {"running_var", ones({4})},
                                                      {"num_batches_tracked", zeros({}, DType::i64)}}),
      std::make_shared<Holder>("ReLU", std::vector<std::pair<std::string, Shape>>{})});
}

// The entries of the fixture under `prefix`, prefix removed, in file order.
st::NamedTensors sub_dict(const st::Contents& c, const std::string& prefix) {
  st::NamedTensors out;
  for (auto& [n, t] : c.tensors)
    if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

TEST(Safetensors, LoadsTorchStateDicts) {
  st::Contents c = st::load(std::string(KILN_FIXTURE_DIR) + "/state_dicts.safetensors");
  EXPECT_EQ(c.metadata.at("generator"), "gen_state_dicts.py");
  for (auto [prefix, model] : {std::pair{std::string("mlp/sd/"), torch_like_mlp()},
                               std::pair{std::string("cbr/sd/"), torch_like_cbr()}}) {
    st::NamedTensors sd = sub_dict(c, prefix);
    ASSERT_FALSE(sd.empty());
    // Same names in the same order as torch's state_dict().
    auto own = model->state_dict();
    ASSERT_EQ(own.size(), sd.size()) << prefix;
    for (size_t i = 0; i < sd.size(); ++i) EXPECT_EQ(own[i].first, sd[i].first) << prefix;
    EXPECT_TRUE(model->load_state_dict(sd).ok());
    for (auto& [n, t] : model->state_dict()) {
      auto it = std::find_if(sd.begin(), sd.end(), [&](auto& p) { return p.first == n; });
      EXPECT_TRUE(test::tensors_equal(t, it->second)) << prefix << n;
    }
    // Written back by kiln, read again: identical.
    std::string path = ::testing::TempDir() + "kiln_sd.safetensors";
    save_state_dict(*model, path);
    auto fresh = prefix == "mlp/sd/" ? torch_like_mlp() : torch_like_cbr();
    EXPECT_TRUE(load_state_dict(*fresh, path).ok());
    auto a = model->state_dict(), b = fresh->state_dict();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(test::tensors_equal(a[i].second, b[i].second)) << a[i].first;
    std::remove(path.c_str());
  }
  // Running stats are non-trivial (the fixture ran train-mode passes).
  auto bn = sub_dict(c, "cbr/sd/1.");
  EXPECT_EQ(std::find_if(bn.begin(), bn.end(), [](auto& p) { return p.first == "num_batches_tracked"; })
                ->second.item<int64_t>(),
            3);
  // A model whose names do not match: strict fails naming them.
  auto mlp = torch_like_mlp();
  EXPECT_KILN_ERROR(load_state_dict(*mlp, std::string(KILN_FIXTURE_DIR) + "/state_dicts.safetensors"),
                    "missing keys (4): 0.weight 0.bias 2.weight 2.bias");
}

TEST(Safetensors, KilnFileReadsInTorch) {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  std::string path = ::testing::TempDir() + "kiln_for_torch.safetensors";
  st::save(path, every_dtype(), {{"producer", "kiln"}});
  std::string root = std::string(KILN_FIXTURE_DIR) + "/../..";
  std::string cmd = "/usr/bin/python3 " + root + "/tools/golden/check_kiln_file.py " + path;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kiln::nn
