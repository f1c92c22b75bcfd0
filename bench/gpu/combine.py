#!/usr/bin/env python3
"""Joins kiln's GPU optimizer table (bench_optim_cuda --out) and PyTorch's timings
(torch_optim.py --out) into one markdown table: per case kiln's and PyTorch's median step time,
ratio = PyTorch time / kiln time (> 1: kiln is faster; goal >= 1.0), and kiln's GB/s as a fraction
of the copy bandwidth measured in kiln's run (goal >= 85% at 125M). The header names the GPU and
driver (nvidia-smi) and the torch version. The last line, "headline: ...", is the figure that
tools/gpu-check puts in its summary.
"""
import argparse
import json
import re
import subprocess
import sys

RATIO_GOAL = 1.0
BW_GOAL = 85.0  # percent of the copy bandwidth, at 125M


def parse_kiln(text):
    """Rows of kiln's table as dicts keyed by its header, and the copy bandwidth in GB/s."""
    bw = None
    m = re.search(r"Copy bandwidth: ([0-9.]+) GB/s", text)
    if m:
        bw = float(m.group(1))
    rows, header = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None if not line else header
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            if cells and cells[0] == "mix":
                header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(dict(zip(header, cells)))
    return rows, bw


def gpu_from_nvidia_smi():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    if not line:
        return None
    name, _, driver = line.partition(",")
    return f"{name.strip()}, driver {driver.strip()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kiln_md", help="bench_optim_cuda --out file")
    ap.add_argument("torch_json", help="torch_optim.py --out file")
    ap.add_argument("--out", help="also write the combined markdown here")
    ap.add_argument("--gpu", help="GPU description for the header (default: from nvidia-smi)")
    args = ap.parse_args()

    with open(args.kiln_md) as f:
        kiln_rows, bw = parse_kiln(f.read())
    if not kiln_rows:
        sys.exit(f"combine: no table rows in {args.kiln_md}")
    with open(args.torch_json) as f:
        torch_res = json.load(f)
    skipped = torch_res.get("skipped")
    torch_cases = {(c["mix"], c["size"], c["optimizer"]): c for c in torch_res.get("cases", [])}

    gpu = args.gpu or gpu_from_nvidia_smi() or torch_res.get("device") or "unknown GPU"
    if skipped:
        peer = f"PyTorch (not run: {skipped})"
    else:
        peer = f"PyTorch {torch_res['torch_version']} (CUDA {torch_res.get('torch_cuda')})"
    out = [f"# kiln vs PyTorch: fused optimizer steps on {gpu}", ""]
    out.append(f"GPU: {gpu}. Peer: {peer}; AdamW {torch_res.get('adamw_impl', '?')}"
               f"{' (' + torch_res['adamw_note'] + ')' if torch_res.get('adamw_note') else ''}, "
               f"SGD(momentum=0.9) {torch_res.get('sgd_impl', '?')}.")
    out.append("")
    bw_s = f"Copy bandwidth (kiln's run, device to device, read + write): {bw:.1f} GB/s. " if bw else ""
    out.append(bw_s + f"Median time per step, both timed the same way (Note [GPU timing] in bench/cuda/gpu_bench.h). "
               f"ratio = PyTorch time / kiln time (goal >= {RATIO_GOAL:.1f}); `of copy bw` = kiln's minimal "
               f"traffic per second / copy bandwidth (goal >= {BW_GOAL:.0f}% at 125M).")
    out.append("")
    out.append("| mix | size | tensors | optimizer | kiln (us) | PyTorch (us) | ratio | kiln GB/s | kiln of copy bw |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    ratio_met = ratio_all = bw_met = bw_all = 0
    head_ratio, head_bw = [], []
    for r in kiln_rows:
        key = (r["mix"], r["size"], r["optimizer"])
        kt = float(r["median (us)"])
        frac = float(r["of copy bw"].rstrip("%"))
        t = torch_cases.get(key)
        ratio_s, torch_s = "—", "—"
        if t:
            ratio = t["median_us"] / kt
            ratio_all += 1
            ratio_met += ratio >= RATIO_GOAL
            ratio_s = f"{ratio:.2f}x" + ("" if ratio >= RATIO_GOAL else " (below)")
            torch_s = f"{t['median_us']:.1f}"
        frac_s = f"{frac:.1f}%"
        if r["size"] == "125M":
            bw_all += 1
            bw_met += frac >= BW_GOAL
            if frac < BW_GOAL:
                frac_s += " (below)"
            if r["optimizer"] == "AdamW":
                head_bw.append(f"{r['mix']} {frac:.0f}%")
                if t:
                    head_ratio.append(f"{r['mix']} {t['median_us'] / kt:.2f}x")
        out.append(f"| {r['mix']} | {r['size']} | {r['tensors']} | {r['optimizer']} | {kt:.1f} | {torch_s} | "
                   f"{ratio_s} | {r['GB/s']} | {frac_s} |")
    out.append("")
    out.append(f"Ratio goal met in {ratio_met} of {ratio_all} cases; bandwidth goal (125M) met in {bw_met} of {bw_all}.")
    headline = "AdamW 125M: " + ", ".join(head_bw) + " of copy bw"
    if head_ratio:
        headline += "; vs PyTorch " + ", ".join(head_ratio)
    out.append("")
    out.append(f"headline: {headline}")
    text = "\n".join(out) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
