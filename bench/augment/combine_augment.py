#!/usr/bin/env python3
"""Joins kiln's augmentation table (compare_augment --out on the CPU, bench_augment_cuda --out on
a GPU) and PyTorch's timings (torch_augment.py --out) into one markdown table.

kiln's file: its text above the table is kept; it must say "Copy bandwidth: X GB/s" and its table
must have the columns `shape`, `kiln images/s` and `kiln of floor` (shapes BxCxHxW). Added per row:
PyTorch's images/s, its fraction of the same floor ((B*H*W*C u8 + B*C*H*W*4 f32 bytes) / time /
kiln's copy bandwidth) and ratio = kiln images/s / PyTorch images/s. Goals: --ratio-goal (on that
ratio, every shape) and --floor-goal (percent, on kiln of floor at --goal-shape). The last line,
"headline: ...", is the figure tools/gpu-check puts in its summary.
"""
import argparse
import json
import re
import sys


def parse_md(text):
    """(text above the table, header cells, rows as dicts, copy bandwidth in GB/s or None)."""
    m = re.search(r"Copy bandwidth: ([0-9.]+) GB/s", text)
    bw = float(m.group(1)) if m else None
    pre, header, rows, after = [], None, [], []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(header, cells)))
        elif header is None:
            pre.append(line)
        else:
            after.append(line)
    return pre, header or [], rows, bw


def pct(v):
    return f"{v:.0f}%" if v >= 10 else f"{v:.1f}%"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kiln_md")
    ap.add_argument("torch_json")
    ap.add_argument("--ratio-goal", type=float, default=1.0, help="kiln / PyTorch throughput goal (default 1)")
    ap.add_argument("--floor-goal", type=float, default=0.0, help="kiln's percent of the floor at --goal-shape")
    ap.add_argument("--goal-shape", default="256x3x224x224")
    ap.add_argument("--peer", default="PyTorch", help="peer name in the column headers (default PyTorch)")
    ap.add_argument("--note", action="append", default=[], help="a paragraph to add above the table (repeatable)")
    ap.add_argument("--out", help="also write the combined markdown here")
    args = ap.parse_args()

    with open(args.kiln_md) as f:
        pre, header, rows, bw = parse_md(f.read())
    for col in ("shape", "kiln images/s", "kiln of floor"):
        if col not in header:
            sys.exit(f"combine_augment: {args.kiln_md}: no `{col}` column in its table")
    if not rows:
        sys.exit(f"combine_augment: no table rows in {args.kiln_md}")
    with open(args.torch_json) as f:
        tres = json.load(f)
    skipped = tres.get("skipped")
    cases = {c["shape"]: c for c in tres.get("cases", [])}
    peer = args.peer
    if skipped:
        desc = f"{peer}: not run ({skipped})"
    else:
        where = tres.get("device", "?")
        extra = f", CUDA {tres['torch_cuda']}" if tres.get("torch_cuda") else ""
        extra += f", {tres['threads']} threads" if tres.get("threads") else ""
        desc = (f"{peer}: torch {tres.get('torch_version', '?')} on {where}{extra}, bench/augment/torch_augment.py "
                f"(the same pipeline with torch ops; median of {tres['cases'][0].get('rounds') or tres['cases'][0].get('batches')} "
                f"{'rounds' if 'rounds' in tres['cases'][0] else 'batches'})" if tres.get("cases") else f"{peer}: no cases")

    out = [l for l in pre]
    while out and not out[-1].strip():
        out.pop()
    out += ["", desc + ".", ""]
    for note in args.note:
        out += [note, ""]
    goals = f"ratio = kiln images/s / {peer} images/s (goal >= {args.ratio_goal:g}x)"
    if args.floor_goal > 0:
        goals += f"; kiln of floor goal >= {args.floor_goal:g}% at {args.goal_shape}"
    out += [goals + ".", ""]
    new_cols = [f"{peer} images/s", f"{peer} of floor", f"kiln / {peer}"]
    cols = header + new_cols
    out.append("| " + " | ".join(cols) + " |")
    out.append("|" + "---|" * len(cols))
    ratio_met = ratio_all = 0
    floor_note, head = "", []
    for r in rows:
        t = cases.get(r["shape"])
        kiln_ips = float(r["kiln images/s"])
        kfloor = float(r["kiln of floor"].split("%")[0])
        if r["shape"] == args.goal_shape and args.floor_goal > 0:
            met = kfloor >= args.floor_goal
            floor_note = f"kiln of floor at {args.goal_shape}: {pct(kfloor)} (goal {args.floor_goal:g}%: {'met' if met else 'NOT met'})."
            if not met and "(below)" not in r["kiln of floor"]:
                r["kiln of floor"] += " (below)"
        cells = [r.get(h, "") for h in header]
        if t:
            ratio = kiln_ips / t["images_per_s"]
            ratio_all += 1
            ratio_met += ratio >= args.ratio_goal
            pfloor = f"{100 * t['floor_bytes'] / t['median_s'] / (bw * 1e9):.1f}%" if bw else "—"
            cells += [f"{t['images_per_s']:.0f}" if t["images_per_s"] >= 100 else f"{t['images_per_s']:.1f}", pfloor,
                      f"{ratio:.2f}x" + ("" if ratio >= args.ratio_goal else " (below)")]
            head.append(f"{r['shape']}: {kiln_ips:.0f} img/s, {pct(kfloor)} of floor, {ratio:.2f}x {peer}")
        else:
            cells += ["—", "—", "—"]
            head.append(f"{r['shape']}: {kiln_ips:.0f} img/s, {pct(kfloor)} of floor")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(f"Ratio goal met in {ratio_met} of {ratio_all} shapes. {floor_note}".rstrip())
    out += ["", "headline: " + "; ".join(head)]
    text = "\n".join(out) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
