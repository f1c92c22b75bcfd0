"""Golden fixture for tests/tensor/test_sort.cpp: torch.sort (ties, NaN, descending, stable),
torch.topk and torch.unique (return_inverse, return_counts).

PyTorch's topk does not specify which of tied elements it returns, so the tied case stores
values only; the distinct case stores indices too."""
import torch

from common import save

torch.manual_seed(0)
nan = float("nan")

# Many ties (small integers) and a few NaNs, sorted along the last dim and along dim 0.
ties = torch.randint(0, 4, (5, 13)).float()
ties[0, 3] = nan
ties[1, 5] = nan
ties[1, 0] = nan
ties[4, 12] = nan
ties[2, 7] = -0.0
out = {"ties": ties}
for desc in (False, True):
    tag = "desc" if desc else "asc"
    v, i = torch.sort(ties, dim=-1, descending=desc, stable=True)
    out[f"sort_{tag}_values"], out[f"sort_{tag}_indices"] = v, i
    v, i = torch.sort(ties, dim=0, descending=desc, stable=True)
    out[f"sort0_{tag}_values"], out[f"sort0_{tag}_indices"] = v, i

ints = torch.randint(-3, 3, (4, 17), dtype=torch.int32)
v, i = torch.sort(ints, dim=1, descending=True, stable=True)
out.update({"ints": ints, "ints_desc_values": v, "ints_desc_indices": i})

halfs = torch.randn(3, 10).half()
halfs[1, 2] = nan
v, i = torch.sort(halfs, dim=1, stable=True)
out.update({"halfs": halfs, "halfs_values": v, "halfs_indices": i})

distinct = torch.randn(6, 20)
for largest in (True, False):
    tag = "largest" if largest else "smallest"
    v, i = torch.topk(distinct, 7, dim=1, largest=largest)
    out[f"topk_{tag}_values"], out[f"topk_{tag}_indices"] = v, i
    v, _ = torch.topk(ties, 6, dim=1, largest=largest)
    out[f"topk_ties_{tag}_values"] = v
out["distinct"] = distinct
v, i = torch.topk(distinct, 2, dim=0)
out["topk0_values"], out["topk0_indices"] = v, i

labels = torch.randint(0, 9, (6, 7)) * 3 - 5
u, inv, cnt = torch.unique(labels, sorted=True, return_inverse=True, return_counts=True)
out.update({"labels": labels, "unique_values": u, "unique_inverse": inv, "unique_counts": cnt})
fl = torch.randint(0, 5, (30,)).double() / 4
u, inv, cnt = torch.unique(fl, return_inverse=True, return_counts=True)
out.update({"flabels": fl, "funique_values": u, "funique_inverse": inv, "funique_counts": cnt})
save("sort", out)
