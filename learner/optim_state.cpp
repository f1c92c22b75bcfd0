// Optimizer::state_dict / load_state_dict / save / load: exact save and restore, so training
// resumes bit-exactly (Note [Optimizer] in optimizer.h). Tensors are named "state.<i>.<buffer>"
// with i the flat parameter index (group by group); everything else is JSON metadata under
// "kiln.optimizer". JSON numbers are written with round-trip precision, so doubles come back
// unchanged.
#include <nlohmann/json.hpp>

#include "kiln/kernels/error.h"
#include "kiln/learner/optimizer.h"
#include "kiln/nn/safetensors.h"
#include "kiln/tensor/ops.h"

namespace kiln::optim {

namespace {

using json = nlohmann::json;
constexpr const char* kFormat = "kiln.optimizer/1";
constexpr const char* kMetaKey = "kiln.optimizer";

std::vector<std::string> callback_names(const std::vector<OptimCallback>& cbs) {
  std::vector<std::string> names;
  for (const auto& cb : cbs) names.push_back(cb.name);
  return names;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

OptimizerState Optimizer::state_dict() const {
  OptimizerState sd;
  json j;
  j["format"] = kFormat;
  j["type"] = type_name_;
  j["callbacks"] = callback_names(callbacks_);
  j["frozen_idx"] = frozen_idx_;
  json hypers = json::array();
  for (const auto& g : groups_) hypers.push_back(json(g.hypers));
  j["hypers"] = hypers;
  json params = json::array();
  int64_t flat = 0;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i, ++flat) {
      const ParamState& st = states_[g][i];
      json p;
      p["group"] = g;
      p["shape"] = groups_[g].params[i].shape().vec();
      p["values"] = json(st.values);
      p["do_wd"] = st.do_wd;
      p["force_train"] = st.force_train;
      json buffers = json::array();
      for (const auto& [name, t] : st.buffers) {
        buffers.push_back(name);
        sd.tensors.emplace_back("state." + std::to_string(flat) + "." + name, t.contiguous());
      }
      p["buffers"] = buffers;
      params.push_back(p);
    }
  j["params"] = params;
  std::string extra;
  if (extension_) extension_->save(*this, sd.tensors, extra);
  j["extension"] = extension_ ? extension_->name() : "";
  j["extra"] = extra;
  sd.json = j.dump();
  return sd;
}

void Optimizer::load_state_dict(const OptimizerState& sd) {
  json j = json::parse(sd.json, nullptr, false);
  KILN_CHECK(j.is_object() && j.value("format", "") == kFormat, "optimizer: load_state_dict: not a ", kFormat,
             " state (metadata does not parse or has another format)");
  auto names = callback_names(callbacks_);
  KILN_CHECK(j.contains("callbacks") && j["callbacks"].is_array(), "optimizer: load_state_dict: no callback list");
  auto saved_names = j["callbacks"].get<std::vector<std::string>>();
  KILN_CHECK(saved_names == names, "optimizer: load_state_dict: the state was saved by an optimizer with callbacks [",
             joined(saved_names), "], this one has [", joined(names), "]");
  const json& hypers = j["hypers"];
  KILN_CHECK(hypers.is_array() && int64_t(hypers.size()) == num_groups(), "optimizer: load_state_dict: the state has ",
             hypers.is_array() ? hypers.size() : 0, " parameter groups, this optimizer ", num_groups());
  const json& params = j["params"];
  KILN_CHECK(params.is_array() && int64_t(params.size()) == num_params(), "optimizer: load_state_dict: the state has ",
             params.is_array() ? params.size() : 0, " parameters, this optimizer ", num_params());

  std::map<std::string, Tensor> by_name(sd.tensors.begin(), sd.tensors.end());
  std::vector<Hypers> new_hypers;
  for (const auto& h : hypers) {
    KILN_CHECK(h.is_object(), "optimizer: load_state_dict: a group's hypers are not an object");
    Hypers m;
    for (auto it = h.begin(); it != h.end(); ++it) {
      KILN_CHECK(it.value().is_number(), "optimizer: load_state_dict: hyper-parameter '", it.key(), "' is not a number");
      m[it.key()] = it.value().get<double>();
    }
    new_hypers.push_back(std::move(m));
  }
  std::vector<std::vector<ParamState>> new_states(groups_.size());
  int64_t flat = 0;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i, ++flat) {
      const Tensor& param = groups_[g].params[i];
      const json& p = params[flat];
      KILN_CHECK(p.is_object() && p.value("group", int64_t(-1)) == int64_t(g), "optimizer: load_state_dict: parameter ",
                 flat, " belongs to another group in the state");
      auto shape = p.value("shape", std::vector<int64_t>{});
      KILN_CHECK(Shape(shape) == param.shape(), "optimizer: load_state_dict: parameter ", flat, " has shape ",
                 Shape(shape).str(), " in the state, ", param.shape().str(), " here");
      KILN_CHECK(p.contains("values") && p["values"].is_object() && p.contains("buffers") && p["buffers"].is_array() &&
                     p.value("do_wd", json(true)).is_boolean() && p.value("force_train", json(false)).is_boolean(),
                 "optimizer: load_state_dict: parameter ", flat, "'s entry is malformed");
      ParamState st;
      st.do_wd = p.value("do_wd", true);
      st.force_train = p.value("force_train", false);
      for (auto it = p["values"].begin(); it != p["values"].end(); ++it) {
        KILN_CHECK(it.value().is_number(), "optimizer: load_state_dict: state value '", it.key(), "' of parameter ",
                   flat, " is not a number");
        st.values[it.key()] = it.value().get<double>();
      }
      for (const auto& bname : p["buffers"]) {
        KILN_CHECK(bname.is_string(), "optimizer: load_state_dict: a buffer name of parameter ", flat, " is not a string");
        const std::string key = "state." + std::to_string(flat) + "." + bname.get<std::string>();
        auto it = by_name.find(key);
        KILN_CHECK(it != by_name.end(), "optimizer: load_state_dict: tensor '", key, "' is missing");
        KILN_CHECK(it->second.shape() == param.shape(), "optimizer: load_state_dict: '", key, "' has shape ",
                   it->second.shape().str(), ", the parameter ", param.shape().str());
        KILN_CHECK(it->second.dtype() == DType::f32, "optimizer: load_state_dict: '", key, "' has dtype ",
                   dtype_name(it->second.dtype()), ", expected f32");
        st.buffers[bname.get<std::string>()] = it->second.to(param.device()).clone();
      }
      new_states[g].push_back(std::move(st));
    }
  // Everything checked: now replace (the wrapper's extras may still refuse, before any change).
  const std::string ext = extension_ ? extension_->name() : "";
  KILN_CHECK(j.value("extension", std::string()) == ext, "optimizer: load_state_dict: the state was saved ",
             j.value("extension", std::string()).empty() ? "without a wrapper" : "with wrapper " + j.value("extension", std::string()),
             ", this optimizer has ", ext.empty() ? "none" : ext);
  if (extension_) extension_->load(*this, sd.tensors, j.value("extra", std::string()));
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].hypers = new_hypers[g];
  states_ = std::move(new_states);
  frozen_idx_ = j.value("frozen_idx", int64_t(0));
}

void Optimizer::save(const std::string& path) const {
  OptimizerState sd = state_dict();
  nn::safetensors::save(path, sd.tensors, {{kMetaKey, sd.json}});
}

void Optimizer::load(const std::string& path) {
  nn::safetensors::Contents c = nn::safetensors::load(path);
  auto it = c.metadata.find(kMetaKey);
  KILN_CHECK(it != c.metadata.end(), "optimizer: ", path, " has no '", kMetaKey,
             "' metadata (not an optimizer state file)");
  load_state_dict(OptimizerState{std::move(c.tensors), it->second});
}

}  // namespace kiln::optim
