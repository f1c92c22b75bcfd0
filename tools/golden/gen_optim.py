"""Writes tests/fixtures/optim.safetensors: 20-step trajectories of PyTorch's optimizers on a fixed
problem, for kiln's optimizer tests (tests/learner/test_optim_torch.cpp).

Run with Debian's python3: /usr/bin/python3 tools/golden/gen_optim.py

The problem: four f32 parameters (shapes below). At step t (0-based) the gradient of parameter k is
    g = (p - target_k) * coef_k + noise_k[t]
computed in f32 in that order (kiln's test computes it the same way). Keys:
  init/<k>, target/<k>, coef/<k>, noise/<k> ([20, *shape])
  <config>/<k>  [20, *shape]: the parameter after each of the 20 steps
Configs (PyTorch 1.13 semantics; the test builds the equal kiln optimizer, named in brackets):
  sgd          SGD(lr=0.1)                                          [SGD]
  sgd_l2       SGD(lr=0.1, weight_decay=0.05)                       [SGD, decouple_wd=false]
  sgd_mom      SGD(lr=0.05, momentum=0.9, weight_decay=0.01)        [SGD mom=0.9, decouple_wd=false]
  sgd_nesterov SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)
  rmsprop      RMSprop(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.01)   [RMSProp sqr_mom=0.9, l2]
  adam         Adam(lr=0.01, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)  [Adam, decouple_wd=false]
  adamw        AdamW(lr=0.01, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1)  [AdamW]
  radam        RAdam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01) [RAdam, l2]
"""
import torch

from common import save

SHAPES = {"w0": (4, 3), "w1": (3,), "w2": (2, 3, 2, 2), "w3": (1,)}
STEPS = 20

CONFIGS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd_l2": lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.05),
    "sgd_mom": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.01),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1),
    "radam": lambda ps: torch.optim.RAdam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
}


def main():
    torch.manual_seed(0)
    out = {}
    problem = {}
    for k, shape in SHAPES.items():
        problem[k] = dict(init=torch.randn(shape), target=torch.randn(shape),
                          coef=torch.rand(shape) * 1.5 + 0.5, noise=torch.randn((STEPS,) + shape) * 0.1)
        for part in ("init", "target", "coef", "noise"):
            out[part + "/" + k] = problem[k][part]
    for name, make in CONFIGS.items():
        params = {k: problem[k]["init"].clone().requires_grad_(True) for k in SHAPES}
        opt = make(list(params.values()))
        traj = {k: [] for k in SHAPES}
        for t in range(STEPS):
            opt.zero_grad()
            for k, p in params.items():
                pr = problem[k]
                with torch.no_grad():
                    p.grad = (p - pr["target"]) * pr["coef"] + pr["noise"][t]
            opt.step()
            for k, p in params.items():
                traj[k].append(p.detach().clone())
        for k in SHAPES:
            out[name + "/" + k] = torch.stack(traj[k])
    save("optim", out)


if __name__ == "__main__":
    main()
