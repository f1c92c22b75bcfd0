"""Writes tests/fixtures/state_dicts.safetensors: PyTorch state dicts of small models, with an input and
the model's output, for kiln's state-dict interop tests.

Run with Debian's python3: /usr/bin/python3 tools/golden/gen_state_dicts.py
Keys:
  mlp/sd/<name>   state dict of nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)) (torch order)
  mlp/x, mlp/y    an input [5, 4] and the model's output
  cbr/sd/<name>   state dict of nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
                  after 3 forward passes in train mode (non-trivial running stats), then eval
  cbr/x, cbr/y    an input [2, 3, 5, 5] and the eval-mode output
The file keeps the state dicts' order (it is written in insertion order), so a reader can check it.
"""
import os

import torch
from torch import nn

from common import FIXTURE_DIR, save_path


def main():
    torch.manual_seed(0)
    out = []
    mlp = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    for k, v in mlp.state_dict().items():
        out.append(("mlp/sd/" + k, v))
    x = torch.randn(5, 4)
    out += [("mlp/x", x), ("mlp/y", mlp(x).detach())]

    cbr = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    with torch.no_grad():
        cbr[1].weight.uniform_(0.5, 1.5)
        cbr[1].bias.uniform_(-0.5, 0.5)
    cbr.train()
    for _ in range(3):
        cbr(torch.randn(4, 3, 5, 5) * 2 + 0.5)
    cbr.eval()
    for k, v in cbr.state_dict().items():
        out.append(("cbr/sd/" + k, v))
    x = torch.randn(2, 3, 5, 5)
    out += [("cbr/x", x), ("cbr/y", cbr(x).detach())]
    save_path(os.path.join(FIXTURE_DIR, "state_dicts.safetensors"), out, {"generator": "gen_state_dicts.py",
                                                                           "torch": torch.__version__})


if __name__ == "__main__":
    main()
