#!/usr/bin/env python3
"""examples/fill_results.py — docs/results.md's table from the recipes' metrics.

    examples/fill_results.py METRICS.jsonl...                 print the table
    examples/fill_results.py --write docs/results.md METRICS.jsonl...   replace it in the file

METRICS.jsonl: one metrics JSON per line, as examples/run_all.sh and bench/gpu_recipes.sh
collect them (a metrics/<run>.json file works too). Runs are grouped by recipe and group (the
rows of the recipes' summary.tsv); a group's runs come from the last file that has any (a
later call's re-run replaces an earlier one; give the files oldest first); each row of the table gets the mean over its runs with the
sample standard deviation (n-1) and the range when there are several (seeds, or folds), the
parameter count, the mean training time (loading included) and steps, the device (the GPU's
name from the run's machine, else the CPU's, with the precision of `train`) and the commit.
The published column is fixed text from ../shared/research/science-anchors.md (as
docs/results.md had it). Rows with no run read "not yet measured"; a run of a group the table
does not list is added at the end. Nothing is estimated: every number is copied or averaged
from the JSON.
"""
import json
import math
import re
import sys

NOT_MEASURED = "not yet measured on the H100"
GB_PUB = {"human_nontata_promoters": "CNN .861, HyenaDNA .944, Caduceus-Ph .946 (official "
                                     "train/test)",
          "human_enhancers_cohn": "CNN .702, HyenaDNA .729, Caduceus-Ph .747"}
GUE_PUB = {"prom_core_notata": "DNABERT-2 117M: 0.6804 (test); bar: dev ≥ 0.70",
           "prom_core_tata": "DNABERT-2: 0.7417 (test)", "tf0": "DNABERT-2: 0.7199 (test)",
           "tf1": "DNABERT-2: 0.7606 (test)", "tf2": "DNABERT-2: 0.6652 (test)",
           "tf3": "DNABERT-2: 0.5854 (test)", "tf4": "DNABERT-2: 0.7743 (test)"}
APES_PUB = {1024: "Mamba 7M: .300 (5 species, chance .20)", 16384: "Mamba 7M: .315",
            262144: "Mamba 7M: .566",
            1048576: "Mamba 7M: .813; Mamba 1.4M: .717; HyenaDNA 1.4M: .549"}
LENGTH_NAME = {1024: "1K", 4096: "4K", 16384: "16K", 262144: "256K", 1048576: "1M"}


def rows():
    """(recipe, group, task label, metric text, published text) in the table's order."""
    out = []
    for t in ["prom_core_notata", "prom_core_tata", "tf0", "tf1", "tf2", "tf3", "tf4"]:
        star = " ★" if t == "prom_core_notata" else ""
        out.append(("gue", t, f"GUE {t}{star}", "MCC (dev)", GUE_PUB[t]))
    for i, d in enumerate(["human_nontata_promoters", "human_enhancers_cohn"]):
        metric = ("accuracy, mean ± sd over 5 folds (5-fold CV on the test split; **not** the "
                  "published protocol)") if i == 0 else "as above"
        out.append(("genomic-benchmarks", d, f"GB {d}", metric, GB_PUB[d]))
    for model in ["bimamba", "mamba", "transformer"]:
        for L in [1024, 16384, 262144, 1048576]:
            name = {"bimamba": "bimamba", "mamba": "mamba",
                    "transformer": "Transformer (16K window)"}[model]
            star = " ★" if model == "bimamba" and L == 1048576 else ""
            metric = ("accuracy (dev windows; 4 species, chance .25)"
                      if (model, L) == ("bimamba", 1024) else "as above")
            if (model, L) == ("bimamba", 1048576):
                metric = "as above; bar: ≥ .70, rising with L"
            pub = APES_PUB[L] if model == "bimamba" else "(as above)" if model == "mamba" else "—"
            out.append(("great-apes", f"{model}.L{L}",
                        f"Great apes, {name}, {LENGTH_NAME[L]}{star}", metric, pub))
    out.append(("bacteria-species", "bimamba.L1024", "Bacteria species, 1K",
                "accuracy (dev windows, unseen strains; chance .25)", "—"))
    out.append(("bacteria-species", "bimamba.L16384", "Bacteria species, 16K", "as above", "—"))
    out.append(("fsdd-digits", "digits", "FSDD digits, raw waveform ★",
                "accuracy (test, 300 files)", "bar: ≥ .97"))
    out.append(("fsdd-lm", "lm", "FSDD µ-law LM",
                "NLL bits/sample (test), 8-bit µ-law µ=255 fixed full scale, 8 kHz",
                "bigram floor 5.4474 (same encoding, same test samples); bar ≤ 3.5; SC09 "
                "16 kHz Mamba 6.1M 1.852 (other data)"))
    out.append(("fsdd-lm", "lm.d256x6", "FSDD µ-law LM, 6 blocks of 256", "as above",
                "as above"))
    for i, L in enumerate([1024, 16384, 1048576]):
        metric = "perplexity (held-out 20:56,000,001-60,194,304)" if i == 0 else "as above"
        if L == 1048576:
            metric = "as above; claim: falls with context"
        pub = "≈ 2.7–3.0 for small models (hg38; read off figures)" if i == 0 else "as above"
        out.append(("chr20-lm", f"mamba.L{L}", f"chr20 next-base LM, context {LENGTH_NAME[L]}",
                    metric, pub))
    return out


def load(paths):
    runs = []
    for file_no, path in enumerate(paths):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # a .jsonl file holds one object a line; a metrics/<run>.json file one object
        chunks = [text] if not path.endswith(".jsonl") else text.splitlines()
        for lineno, chunk in enumerate(chunks, 1):
            if not chunk.strip():
                continue
            try:
                run = json.loads(chunk)
                run["_file"] = file_no
                runs.append(run)
            except json.JSONDecodeError as e:
                sys.exit(f"fill_results.py: {path}:{lineno}: not JSON ({e.msg})")
    return runs


def device_text(run):
    """'NVIDIA H100 80GB HBM3, bf16' from the machine ('GPU; CPU, N cores') and the command."""
    machine = run.get("machine", "")
    dev = run.get("device", "")
    where = machine.split(";")[0].strip() if dev.startswith("cuda") and ";" in machine \
        else (machine or dev)
    m = re.search(r"--precision (\w+)", run.get("train_command", ""))
    precision = m.group(1) if m else ("bf16" if dev.startswith("cuda") else "fp32")
    return f"{where} ({dev}, {precision})" if dev else where


def fmt(metric, v):
    return f"{v:.3f}" if metric in ("nll_bits_per_token", "perplexity") else f"{v:.3f}"


def cell(runs):
    metric = runs[0]["metric"]
    values = [float(r["value"]) for r in runs]
    n = len(values)
    mean = sum(values) / n
    unit = " bits/sample" if metric == "nll_bits_per_token" else ""
    if n == 1:
        return f"{fmt(metric, mean)}{unit}"
    sd = math.sqrt(max(0.0, sum((v - mean) ** 2 for v in values) / (n - 1)))
    kind = "folds" if runs[0].get("recipe") == "genomic-benchmarks" else "seeds"
    return (f"{fmt(metric, mean)} ± {fmt(metric, sd)}{unit} ({n} {kind}: "
            f"{fmt(metric, min(values))}–{fmt(metric, max(values))})")


def join_unique(values):
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return ", ".join(seen)


def row_cells(runs):
    params = join_unique(f"{int(r['params']):,}" for r in runs if r.get("params") is not None)
    secs = [float(r["train_seconds"]) for r in runs if r.get("train_seconds") is not None]
    steps = [int(r["train_steps"]) for r in runs if r.get("train_steps") is not None]
    training = f"{sum(secs) / len(secs):.0f} s" if secs else "—"
    if steps:
        training += f", {round(sum(steps) / len(steps)):,} steps"
    if len(runs) > 1:
        training += f" (mean of {len(runs)})"
    # the regularisation of issue 14, as the runs record it (absent in older metrics)
    augment = join_unique(r["augment"] for r in runs if r.get("augment"))
    if augment:
        training += f"; augment {augment}"
    dropout = join_unique(f"{r['dropout']:g}" for r in runs if r.get("dropout") is not None)
    if dropout:
        training += f"; dropout {dropout}"
    best = [int(r["best_step"]) for r in runs
            if r.get("checkpoint") == "best" and r.get("best_step") is not None]
    if best:
        held = join_unique(f"{100 * r['holdout']:g} %" for r in runs
                           if r.get("holdout") is not None)
        training += (f"; evaluated at the lowest loss on {held or 'a part'} of train held out "
                     f"(step {round(sum(best) / len(best)):,}{' mean' if len(best) > 1 else ''})")
    return (cell(runs), params or "—", training, join_unique(device_text(r) for r in runs),
            join_unique(str(r.get("commit", "")) for r in runs))


def table(runs):
    # a row is the runs of its group in the LAST file that has any: a later call's runs (a
    # re-run with other settings, e.g. the regularised ones) replace an earlier call's
    by_key = {}
    for r in runs:
        got = by_key.setdefault((r["recipe"], r["group"]), [])
        if got and got[0]["_file"] < r["_file"]:
            got.clear()
        got.append(r)
    lines = ["| task | metric (split) | published | ours | params | training | device | "
             "commit |", "|---|---|---|---|---:|---|---|---|"]
    listed = set()
    for recipe, group, label, metric, pub in rows():
        listed.add((recipe, group))
        got = by_key.get((recipe, group))
        if got:
            ours, params, training, device, commit = row_cells(got)
        else:
            ours, params, training, device, commit = NOT_MEASURED, "—", "—", "—", "—"
        lines.append(f"| {label} | {metric} | {pub} | {ours} | {params} | {training} | "
                     f"{device} | {commit} |")
    for key, got in by_key.items():
        if key in listed:
            continue
        ours, params, training, device, commit = row_cells(got)
        lines.append(f"| {key[0]} {key[1]} | {got[0]['metric']} ({got[0]['split']}) | — | "
                     f"{ours} | {params} | {training} | {device} | {commit} |")
    return lines


def write(path, lines):
    with open(path, encoding="utf-8") as f:
        doc = f.read().split("\n")
    start = next((i for i, l in enumerate(doc) if l.startswith("| task | metric (split) |")),
                 None)
    if start is None:
        sys.exit(f"fill_results.py: {path}: no table starting '| task | metric (split) |'")
    end = start
    while end < len(doc) and doc[end].startswith("|"):
        end += 1
    doc[start:end] = lines
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(doc))
    import os
    os.replace(path + ".tmp", path)


def main(argv):
    target = None
    if argv[:1] == ["--write"]:
        if len(argv) < 2:
            sys.exit("fill_results.py: --write needs a file")
        target, argv = argv[1], argv[2:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    lines = table(load(argv))
    if target:
        write(target, lines)
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
