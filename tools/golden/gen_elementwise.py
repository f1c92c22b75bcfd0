"""Golden fixtures for elementwise ops with non-trivial semantics: gelu (exact and tanh), mish,
softplus (default and with beta / threshold), round (half to even).

Run with Debian's python3: /usr/bin/python3 tools/golden/gen_elementwise.py
"""
import torch
import torch.nn.functional as F

from common import save

x = torch.cat([torch.linspace(-12, 12, 481), torch.tensor([-30.0, -20.0, -0.0, 1e-6, -1e-6, 25.0, 40.0])])
x = x.to(torch.float32)
xd = x.double()  # references in f64 from the same (f32) input values
beta, threshold = 2.0, 5.0
round_x = torch.cat([torch.arange(-10.5, 10.75, 0.25), torch.tensor([0.49999997, -0.49999997, 8388607.5,
                                                                      -8388607.5, 8388609.0, 1e20])])
round_x = round_x.to(torch.float32)
half_x = torch.arange(-10.5, 10.75, 0.25, dtype=torch.float32)

save("elementwise", {
    "x": x,
    "gelu": F.gelu(xd),
    "gelu_tanh": F.gelu(xd, approximate="tanh"),
    "mish": F.mish(xd),
    "softplus": F.softplus(xd),
    "softplus_beta": F.softplus(xd, beta=beta, threshold=threshold),
    "beta": beta,
    "threshold": threshold,
    "gelu_f16": F.gelu(x.half().float()).half(),
    "round_x": round_x,
    "round": torch.round(round_x),
    "round_half_x": half_x,
    "round_half": torch.round(half_x),
})
