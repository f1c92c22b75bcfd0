// Module::summary: fastai-like table of the leaf modules' outputs and parameter counts.
#include <iomanip>
#include <sstream>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

static std::string shape_text(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

std::string Module::summary(const std::vector<Tensor>& sample_inputs) {
  KILN_CHECK(!sample_inputs.empty(), type_name_, ".summary: needs at least one sample input");
  struct Row {
    std::string type, shape;
    int64_t params = 0;
    bool trainable = false;
  };
  std::vector<Row> rows;
  std::vector<HookHandle> handles;
  // Remove the hooks however the forward pass ends.
  struct Remove {
    std::vector<HookHandle>& h;
    ~Remove() {
      for (auto& x : h) x.remove();
    }
  } remove{handles};
  for (auto& [name, m] : named_modules()) {
    if (!m->children_.empty()) continue;
    handles.push_back(m->register_forward_hook([&rows](Module& mod, const std::vector<Tensor>&, Tensor& y) {
      Row r;
      r.type = mod.type_name();
      r.shape = y.defined() ? shape_text(y.shape()) : "-";
      for (const Tensor& p : mod.parameters(false)) {
        r.params += p.numel();
        r.trainable = r.trainable || ag::requires_grad(p);
      }
      rows.push_back(r);
    }));
  }
  {
    ag::NoGradGuard ng;
    if (sample_inputs.size() == 1) (*this)(sample_inputs[0]);
    else (*this)(sample_inputs);
  }
  int64_t total = 0, trainable = 0;
  for (const Tensor& p : parameters()) {
    total += p.numel();
    if (ag::requires_grad(p)) trainable += p.numel();
  }
  std::ostringstream os;
  const std::string rule(64, '=');
  os << type_name_ << " (Input shape: " << shape_text(sample_inputs[0].shape()) << ")\n" << rule << "\n";
  os << std::left << std::setw(22) << "Layer (type)" << std::setw(22) << "Output Shape" << std::setw(11) << "Param #"
     << "Trainable\n"
     << rule << "\n";
  for (const Row& r : rows) {
    os << std::left << std::setw(22) << r.type << std::setw(22) << r.shape << std::setw(11) << r.params
       << (r.params ? (r.trainable ? "True" : "False") : "") << "\n";
  }
  os << rule << "\n";
  os << "Total params: " << total << "\n";
  os << "Total trainable params: " << trainable << "\n";
  os << "Total non-trainable params: " << (total - trainable) << "\n";
  return os.str();
}

}  // namespace kiln::nn
