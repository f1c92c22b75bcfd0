"""Golden fixture for tests/tensor/test_shape_ops.cpp: torch.nn.functional.pad in reflect,
replicate, circular and constant modes (1, 2 and 3 padded dims) and Tensor.repeat."""
import torch
import torch.nn.functional as F

from common import save

torch.manual_seed(0)
x3 = torch.randn(2, 3, 5)
x4 = torch.randn(2, 3, 4, 5)
x5 = torch.randn(1, 2, 3, 4, 5)
save("shape_ops", {
    "x3": x3, "x4": x4, "x5": x5,
    "reflect1d": F.pad(x3, (3, 2), mode="reflect"),
    "reflect2d": F.pad(x4, (1, 2, 3, 0), mode="reflect"),
    "replicate1d": F.pad(x3, (4, 1), mode="replicate"),
    "replicate2d": F.pad(x4, (2, 0, 1, 3), mode="replicate"),
    "replicate3d": F.pad(x5, (1, 1, 2, 0, 0, 1), mode="replicate"),
    "reflect3d": F.pad(x5, (1, 1, 2, 0, 1, 1), mode="reflect"),
    "circular2d": F.pad(x4, (2, 1, 1, 2), mode="circular"),
    "constant2d": F.pad(x4, (1, -1, 2, 0), mode="constant", value=0.5),
    "repeat": x3.repeat(2, 1, 3),
})
