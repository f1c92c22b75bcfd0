"""Golden fixtures for tests/tensor/test_reduce.cpp: var/std (with corrections), logsumexp
(with -inf rows and large values) and vector norms, computed by PyTorch in float64."""
import math

import torch

from common import save

torch.manual_seed(0)
x = torch.randn(5, 7, 3, dtype=torch.float64) * 2 + 0.5

out = {"x": x}
for c in (0, 1, 2):
    out[f"var_all_c{c}"] = torch.var(x, dim=(0, 1, 2), correction=c)
    out[f"var_d1_c{c}"] = torch.var(x, dim=1, correction=c)
    out[f"std_d02_c{c}"] = torch.std(x, dim=(0, 2), correction=c, keepdim=True)
vm_var, vm_mean = torch.var_mean(x, dim=2, correction=1)
out["var_mean_d2_var"] = vm_var
out["var_mean_d2_mean"] = vm_mean

# logsumexp: ordinary, large magnitudes (would overflow without the max shift), -inf entries,
# an all -inf row and a +inf entry.
l = torch.randn(4, 6, dtype=torch.float64)
l[1] = l[1] * 300 + 800
l[2, :3] = -math.inf
l[3] = -math.inf
out["lse_x"] = l
out["lse_d1"] = torch.logsumexp(l, dim=1)
out["lse_d0"] = torch.logsumexp(l[:3], dim=0)
lp = l.clone()
lp[0, 2] = math.inf
out["lse_pinf_x"] = lp
out["lse_pinf_d1"] = torch.logsumexp(lp, dim=1)

# norms over dims and all
for p, name in ((1, "p1"), (2, "p2"), (3, "p3"), (0.5, "p0_5"), (math.inf, "pinf")):
    out[f"norm_{name}_all"] = torch.linalg.vector_norm(x, ord=p)
    out[f"norm_{name}_d1"] = torch.linalg.vector_norm(x, ord=p, dim=1)
    out[f"norm_{name}_d02"] = torch.linalg.vector_norm(x, ord=p, dim=(0, 2), keepdim=True)

save("reduce", out)
