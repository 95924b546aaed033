#!/usr/bin/env python3
"""examples/great-apes/baselines.py — what signal the great-apes windows carry, without a
neural model: a cross-check of the recipe's numbers (numpy only; reads the data in place).

    examples/great-apes/baselines.py markov K [--no-n]   order-(K-1) Markov chain per species
    examples/great-apes/baselines.py kmers K             species-specific K-mers (N removed)

markov: each species' K-mer counts on its train record give P(base | K-1 before); a dev window
goes to the species of highest likelihood. --no-n scores no K-mer that holds an N, so the
number of Ns in a window tells nothing.
kmers: the K-mers found in exactly one species' train record (N removed from every record);
a dev window goes to the species whose specific K-mers it holds the largest share of.
Windows as the recipe evaluates them (longscan eval --seq-len L --stride L/16 --max-windows
N): N evenly spaced windows per dev record, the first at its start, the last at its end; 256
at 1K, 64 at 16K, 32 at 256K, 16 at 1M. Input upper-cased (case is ignored).
DATA: the shared data folder (default ../shared/data beside the repository).
"""
import gzip
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("DATA", os.path.join(HERE, "..", "..", "..", "shared", "data"))
APES = os.path.join(DATA, "dna", "great-apes-chr22")
SPECIES = ["ggor", "hsap", "ppyg", "ptro"]
WINDOWS = [(1024, 256), (16384, 64), (262144, 32), (1048576, 16)]
N_CODE = 4
LUT = np.full(256, N_CODE, np.uint8)
for i, c in enumerate(b"ACGT"):
    LUT[c] = LUT[c + 32] = i


def load(split, species, drop_n=False):
    path = os.path.join(APES, split, species + ".fa.gz")
    with gzip.open(path) as f:
        seq = b"".join(line.strip() for line in f if not line.startswith(b">"))
    x = LUT[np.frombuffer(seq, np.uint8)]
    return x[x != N_CODE] if drop_n else x


def kmer_codes(x, k, base):
    n = len(x) - k + 1
    c = np.zeros(n, np.int64)
    for j in range(k):
        c = c * base + x[j:j + n]
    return c


def window_starts(n, length, count):
    return np.linspace(0, max(n - length, 0), count).astype(np.int64)


def evaluate(score_windows):
    """score_windows(species, L, starts) -> {species: scores per window}; prints accuracy."""
    for length, count in WINDOWS:
        right = total = 0
        for true in SPECIES:
            scores = score_windows(true, length, count)
            best = np.argmax(np.stack([scores[s] for s in SPECIES]), axis=0)
            right += int(np.sum(best == SPECIES.index(true)))
            total += len(best)
        print(f"L={length}: accuracy {right / total:.3f} over {total} windows", flush=True)


def markov(k, no_n):
    logp = {}
    for s in SPECIES:
        counts = np.bincount(kmer_codes(load("train", s), k, 5), minlength=5 ** k) + 0.5
        table = counts.reshape(-1, 5)
        logp[s] = np.log(table / table.sum(1, keepdims=True)).ravel()
    has_n = np.array([N_CODE in [(c // 5 ** j) % 5 for j in range(k)] for c in range(5 ** k)])

    def score(true, length, count):
        codes = kmer_codes(load("dev", true), k, 5)
        out = {}
        for s in SPECIES:
            per = np.where(has_n[codes], 0.0, logp[s][codes]) if no_n else logp[s][codes]
            cum = np.concatenate([[0.0], np.cumsum(per)])
            a = window_starts(len(codes) + k - 1, length, count)
            b = np.minimum(a + length - k + 1, len(codes))
            out[s] = cum[b] - cum[a]
        return out
    evaluate(score)


def kmers(k):
    sets = {s: np.unique(kmer_codes(load("train", s, drop_n=True), k, 4)) for s in SPECIES}
    found, times = np.unique(np.concatenate(list(sets.values())), return_counts=True)
    once = found[times == 1]
    specific = {s: np.intersect1d(sets[s], once, assume_unique=True) for s in SPECIES}
    for s in SPECIES:
        print(f"{s}: {len(specific[s])} species-specific {k}-mers", flush=True)

    def score(true, length, count):
        codes = kmer_codes(load("dev", true, drop_n=True), k, 4)
        out = {}
        for s in SPECIES:
            cum = np.concatenate([[0], np.cumsum(np.isin(codes, specific[s]))])
            a = window_starts(len(codes) + k - 1, length, count)
            b = np.minimum(a + length - k + 1, len(codes))
            out[s] = (cum[b] - cum[a]) / len(specific[s])
        return out
    evaluate(score)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("markov", "kmers") or not argv[1].isdigit():
        sys.exit(__doc__.split("\n\n")[1])
    k = int(argv[1])
    if not 1 <= k <= (9 if argv[0] == "markov" else 31):
        sys.exit(f"baselines.py: K {k} out of range")
    print(f"# great apes baseline: {' '.join(argv)} (data {os.path.realpath(APES)})")
    if argv[0] == "markov":
        markov(k, "--no-n" in argv[2:])
    else:
        kmers(k)


if __name__ == "__main__":
    main(sys.argv[1:])
