#!/usr/bin/env python3
"""Joins kiln's tensor-op table (bench_ops_cuda --out) and PyTorch's timings (torch_ops.py --out)
into one markdown file for bench/results/.

kiln's text above its table is kept (it names the GPU and says "Copy bandwidth: X GB/s"); its table
must have the columns `group`, `case`, `dtype`, `shapes` and `kiln (us)`. Added per row, matched on
(case, dtype, shapes): PyTorch's median time and ratio = PyTorch time / kiln time (> 1: kiln is
faster), and PyTorch's figure of the same kind as kiln's `of ceiling`: for memory-bound cases its
rate of the same minimal traffic over kiln's copy bandwidth, for GEMM and conv the direct vendor
call's time (kiln's `vendor (us)`) over PyTorch's. kiln's notes (failures, the cuDNN
algorithms) follow the table. The last line, "headline: ...", is the figure tools/gpu-check puts in
its summary: kiln's goals met per group and the median ratio to PyTorch per group.

  python3 bench/gpu/combine_ops.py KILN.md TORCH.json [--gpu TEXT] [--out FILE.md]
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "augment"))
from combine import gpu_from_nvidia_smi  # noqa: E402
from combine_augment import parse_md  # noqa: E402

NEEDED = ("group", "case", "dtype", "shapes", "kiln (us)")


def key(row):
    return (row["case"], row["dtype"], row["shapes"])


def kiln_notes(text):
    """kiln's lines after its table: the `- ...` notes and its headline."""
    notes, headline, after_table = [], None, False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|"):
            after_table = True
        elif after_table and s.startswith("- "):
            notes.append(s)
        elif s.startswith("headline:"):
            headline = s[len("headline:"):].strip()
    return notes, headline


def number(cell):
    try:
        return float(cell.split()[0].rstrip("%x"))
    except (ValueError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kiln_md", help="bench_ops_cuda --out file")
    ap.add_argument("torch_json", help="torch_ops.py --out file")
    ap.add_argument("--gpu", help="GPU description for the peer line (default: from nvidia-smi)")
    ap.add_argument("--out", help="also write the combined markdown here")
    args = ap.parse_args()

    with open(args.kiln_md) as f:
        text = f.read()
    pre, header, rows, bw = parse_md(text)
    for col in NEEDED:
        if col not in header:
            sys.exit(f"combine_ops: {args.kiln_md}: no `{col}` column in its table")
    if not rows:
        sys.exit(f"combine_ops: no table rows in {args.kiln_md}")
    notes, kiln_headline = kiln_notes(text)
    with open(args.torch_json) as f:
        tres = json.load(f)
    skipped = tres.get("skipped")
    cases = {key(c): c for c in tres.get("cases", [])}

    gpu = args.gpu or gpu_from_nvidia_smi() or tres.get("device") or "unknown GPU"
    if skipped:
        peer = f"PyTorch: not run ({skipped})"
    else:
        peer = (f"PyTorch {tres.get('torch_version', '?')} (CUDA {tres.get('torch_cuda')}, cuDNN {tres.get('cudnn')}) "
                f"on {gpu}, bench/gpu/torch_ops.py: the same cases, inputs and timing; TF32 off, "
                f"cudnn.benchmark on")
    out = list(pre)
    while out and not out[-1].strip():
        out.pop()
    out += ["", peer + ".", "",
            "`PyTorch / kiln` = PyTorch time / kiln time (> 1: kiln is faster); `PyTorch of ceiling` = PyTorch's "
            "rate of the same minimal traffic over kiln's copy bandwidth (memory-bound cases), or the direct "
            "cuBLAS / cuDNN time over PyTorch's (GEMM and conv).", ""]
    cols = header + ["PyTorch (us)", "PyTorch of ceiling", "PyTorch / kiln"]
    out.append("| " + " | ".join(cols) + " |")
    out.append("|" + "---|" * len(cols))
    ratios, met, measured, faster = {}, {}, {}, 0
    group_order = []
    for r in rows:
        g = r["group"]
        if g not in group_order:
            group_order.append(g)
        if r.get("met") in ("yes", "no"):
            measured[g] = measured.get(g, 0) + 1
            met[g] = met.get(g, 0) + (r["met"] == "yes")
        kt = number(r["kiln (us)"])
        t = cases.get(key(r))
        cells = [r.get(h, "") for h in header]
        if t and "median_us" in t:
            pt = t["median_us"]
            if t.get("flops"):  # compute-bound: the same ceiling as kiln's, the vendor's own call
                vt = number(r.get("vendor (us)", ""))
                ceiling = f"{100 * vt / pt:.1f}%" if vt else "—"
            elif bw and t.get("bytes"):
                ceiling = f"{100 * t['bytes'] / (pt * 1e-6) / (bw * 1e9):.1f}%"
            else:
                ceiling = "—"
            ratio_s = "—"
            if kt:
                ratio = pt / kt
                ratios.setdefault(g, []).append(ratio)
                faster += ratio >= 1.0
                ratio_s = f"{ratio:.2f}x"
            cells += [f"{pt:.1f}", ceiling, ratio_s]
        elif t:
            cells += ["failed", "—", "—"]
        else:
            cells += ["—", "—", "—"]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    n_ratios = sum(len(v) for v in ratios.values())
    out.append(f"kiln at least as fast as PyTorch in {faster} of {n_ratios} cases with both figures.")
    torch_failed = [c for c in tres.get("cases", []) if "error" in c]
    if notes or torch_failed:
        out += ["", "Notes:", ""] + notes
        out += [f"- PyTorch failed: {c['group']} / {c['case']} / {c['dtype']} / {c['shapes']}: {c['error']}"
                for c in torch_failed]
    parts = []
    for g in group_order:
        s = g
        if measured.get(g):
            s += f" {met.get(g, 0)}/{measured[g]} goals met"
        if ratios.get(g):
            s += f", {statistics.median(ratios[g]):.2f}x PyTorch"
        parts.append(s)
    headline = "; ".join(parts) if parts else (kiln_headline or "no figures")
    if ratios:
        headline += " (PyTorch: median PyTorch time / kiln time per group)"
    out += ["", f"headline: {headline}"]
    text = "\n".join(out) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
