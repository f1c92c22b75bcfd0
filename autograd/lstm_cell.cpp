// The fused LSTM cell node. The forward runs the cell kernel (kernels/cpu/lstm_cell.h) and saves
// only its two inputs: the backward kernel recomputes the gate activations and c from them, so the
// node holds no extra [B, 4H] activation buffer. The device switch lives here because the cell has
// no raw tensor op of its own; CUDA tensors run kernels/cuda/lstm_cell.h, the same cell.
#include "kiln/autograd/lstm_cell.h"

#include "kiln/kernels/cpu/lstm_cell.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/device.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/lstm_cell.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln::ag {
namespace {

constexpr const char* kOp = "lstm_cell";

void check_inputs(const Tensor& gates, const Tensor& c_prev) {
  check_defined(gates, kOp, "gates");
  check_defined(c_prev, kOp, "c_prev");
  KILN_CHECK(is_floating(gates.dtype()), kOp, ": gates must be floating, got ", dtype_name(gates.dtype()));
  KILN_CHECK(gates.dim() == 2 && gates.size(1) % 4 == 0, kOp, ": gates must be [B, 4H], got shape ", gates.shape());
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  KILN_CHECK(c_prev.dim() == 2 && c_prev.size(0) == B && c_prev.size(1) == H, kOp, ": c_prev has shape ",
             c_prev.shape(), ", expected [", B, ", ", H, "] to match gates ", gates.shape());
  KILN_CHECK(c_prev.dtype() == gates.dtype(), kOp, ": c_prev has dtype ", dtype_name(c_prev.dtype()),
             " but gates have ", dtype_name(gates.dtype()));
  check_same_device(gates, c_prev, kOp);
}

LSTMCellOutput forward_raw(const Tensor& gates_in, const Tensor& c_prev_in) {
  const int64_t B = gates_in.size(0), H = gates_in.size(1) / 4;
  LSTMCellOutput out;
  switch (gates_in.device().type) {
    case DeviceType::CPU: {
      Tensor gates = gates_in.contiguous(), c_prev = c_prev_in.contiguous();
      out.h = empty({B, H}, gates.dtype(), gates.device());
      out.c = empty({B, H}, gates.dtype(), gates.device());
      cpu::lstm_cell_forward(gates.dtype(), gates.data_ptr(), c_prev.data_ptr(), out.h.data_ptr(), out.c.data_ptr(), B,
                             H);
      return out;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor gates = gates_in.contiguous(), c_prev = c_prev_in.contiguous();
      out.h = empty({B, H}, gates.dtype(), gates.device());
      out.c = empty({B, H}, gates.dtype(), gates.device());
      cuda::lstm_cell_forward(gates.dtype(), gates.data_ptr(), c_prev.data_ptr(), out.h.data_ptr(),
                              out.c.data_ptr(), B, H, cuda::prepare(gates.device().index));
      return out;
#endif
      unsupported_device(kOp, gates_in.device());
    }
  }
  return out;
}

// dgates [B, 4H] and dc_prev [B, H] (undefined unless want_dc_prev).
std::vector<Tensor> backward_raw(const Tensor& gates, const Tensor& c_prev, const Tensor& dh_in, const Tensor& dc_in,
                                 bool want_dc_prev) {
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  switch (gates.device().type) {
    case DeviceType::CPU: {
      Tensor dh = dh_in.to(gates.dtype()).contiguous(), dc = dc_in.to(gates.dtype()).contiguous();
      Tensor dgates = empty({B, 4 * H}, gates.dtype(), gates.device());
      Tensor dc_prev = want_dc_prev ? empty({B, H}, gates.dtype(), gates.device()) : Tensor();
      cpu::lstm_cell_backward(gates.dtype(), gates.data_ptr(), c_prev.data_ptr(), dh.data_ptr(), dc.data_ptr(),
                              dgates.data_ptr(), want_dc_prev ? dc_prev.data_ptr() : nullptr, B, H);
      return {dgates, dc_prev};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor dh = dh_in.to(gates.dtype()).contiguous(), dc = dc_in.to(gates.dtype()).contiguous();
      Tensor dgates = empty({B, 4 * H}, gates.dtype(), gates.device());
      Tensor dc_prev = want_dc_prev ? empty({B, H}, gates.dtype(), gates.device()) : Tensor();
      cuda::lstm_cell_backward(gates.dtype(), gates.data_ptr(), c_prev.data_ptr(), dh.data_ptr(), dc.data_ptr(),
                               dgates.data_ptr(), want_dc_prev ? dc_prev.data_ptr() : nullptr, B, H,
                               cuda::prepare(gates.device().index));
      return {dgates, dc_prev};
#endif
      unsupported_device(kOp, gates.device());
    }
  }
  return {};
}

}  // namespace

LSTMCellOutput lstm_cell(const Tensor& gates_in, const Tensor& c_prev_in) {
  check_inputs(gates_in, c_prev_in);
  // Contiguous once, so the saved tensors are the ones the backward kernel reads.
  Tensor gates = gates_in.contiguous(), c_prev = c_prev_in.contiguous();
  LSTMCellOutput out = forward_raw(gates, c_prev);
  if (!any_requires_grad({&gates_in, &c_prev_in})) return out;
  SavedTensor sg(gates, kOp), sc(c_prev, kOp);
  std::vector<Tensor> hc =
      record(kOp, {gates_in, c_prev_in}, {out.h, out.c}, [sg, sc](const Grads& g) -> std::vector<Tensor> {
        std::vector<Tensor> d = backward_raw(sg.get(), sc.get(), g[0], g[1], g.needs[1]);
        if (!g.needs[0]) d[0] = Tensor();
        return d;
      });
  return {hc[0], hc[1]};
}

}  // namespace kiln::ag
