#!/usr/bin/env python3
"""A Hugging Face transformers Mamba directory read by longscan gives transformers' numbers
(TAP output).

Randomly initialised MambaForCausalLM models (2 layers, hidden 64, state 16; every tensor then
perturbed with noise so that any mix-up of names, norms, biases or layers shows) are saved with
save_pretrained, scored by `longscan score -m DIR --tsv --vocab-logprobs`, and compared with
transformers' own forward (fp32, its sequential CPU path):
  - vocabulary 8 on DNA (ids A C G T N = 0..4) and vocabulary 256 on 8-bit µ-law audio codes
    (config.json's "longscan" object says so), at L = 1 and L = 3,000, and L = 20,000 (more
    positions than one tile of longscan's Mamba layer, MODEL_TILE_ROWS = 16,384);
  - variants: untied lm_head, use_conv_bias false, BF16 and F16 weights, shards with an index,
    a MambaModel directory (no "backbone." prefix);
every next-token log-probability within 1e-4 absolute, and the token column equal to the ids
fed to transformers. A dtype longscan does not read (F64) gives one error line naming the file
and the tensor.

Env: LONGSCAN (default ./build/longscan). Needs torch, transformers, safetensors:
tests/requirements-torch.txt (torch is Debian's CPU-only python3-torch; see that file).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
LONGSCAN = os.environ.get("LONGSCAN", os.path.join(HERE, "..", "..", "build", "longscan"))
TOL = 1e-4

results = []


def check(ok, what, detail=""):
    results.append((bool(ok), what, detail))


def finish():
    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, what, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines()[:20]:
                print(f"# {line}")
    return 1 if failed else 0


try:
    import numpy as np
    import torch
    import transformers
    from transformers import MambaConfig, MambaForCausalLM, MambaModel
except ImportError as e:
    print("1..1")
    print(f"not ok 1 - import numpy / torch / transformers: {e} "
          "(tests/requirements-torch.txt says how to install them)")
    sys.exit(1)

transformers.logging.set_verbosity_error()  # the "fast path is not available" notice
transformers.logging.disable_progress_bar()
torch.set_num_threads(1)


# --------------------------------------------------------------------------- helpers

def make_model(vocab, seed, **kw):
    torch.manual_seed(seed)
    cfg = MambaConfig(vocab_size=vocab, hidden_size=64, state_size=16, num_hidden_layers=2, **kw)
    model = MambaForCausalLM(cfg).eval()
    with torch.no_grad():  # every tensor random, so a wrong mapping cannot hide behind ones
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def add_longscan_data(directory, data):
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["longscan"] = {"data": data}
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def score(model_dir, inputs, *extra):
    """longscan score --tsv --vocab-logprobs: {name: (tokens, logprob, next (L, V))}."""
    r = subprocess.run([LONGSCAN, "score", "-m", model_dir, "--tsv", "--vocab-logprobs",
                        *extra, *inputs], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"longscan score exit {r.returncode}: {r.stderr.strip()}")
    lines = r.stdout.splitlines()
    header = lines[0].split("\t")
    rows = {}
    for line in lines[1:]:
        f = line.split("\t")
        rows.setdefault(f[0], []).append(f)
    out = {}
    for name, rs in rows.items():
        pos = [int(f[1]) for f in rs]
        if pos != list(range(len(rs))):
            raise RuntimeError(f"{name}: positions {pos[:5]}... not 0..{len(rs) - 1}")
        tokens = np.array([int(f[2]) for f in rs])
        lp = np.array([np.nan if f[3] == "NA" else float(f[3]) for f in rs])
        nxt = np.array([[float(x) for x in f[4:]] for f in rs])
        out[name] = (tokens, lp, nxt)
    return header, out


def reference(model, tokens):
    """transformers' log-softmax of the logits, (L, V), float64 from its fp32 logits."""
    with torch.no_grad():
        logits = model(torch.tensor(tokens, dtype=torch.long)[None], use_cache=False).logits[0]
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def compare(what, model, got, expect_tokens=None):
    """One check per record: tokens, the whole next-token distribution, the logprob column."""
    for name, (tokens, lp, nxt) in got.items():
        label = f"{what}, {name} (L={len(tokens)})"
        if expect_tokens is not None and not np.array_equal(tokens, expect_tokens[name]):
            check(False, f"{label}: token ids", f"first ids {tokens[:10]}, expected "
                  f"{expect_tokens[name][:10]}")
            continue
        ref = reference(model, tokens)
        if nxt.shape != ref.shape:
            check(False, f"{label}: shape", f"longscan {nxt.shape}, transformers {ref.shape}")
            continue
        err = np.abs(nxt - ref)
        worst = np.unravel_index(np.argmax(err), err.shape)
        col = ref[np.arange(len(tokens) - 1), tokens[1:]]  # log p(x_t | x_<t), t >= 1
        lp_err = np.max(np.abs(lp[1:] - col)) if len(tokens) > 1 else 0.0
        ok = err.max() <= TOL and np.isnan(lp[0]) and lp_err <= TOL
        check(ok, f"{label}: next-token log-probs within {TOL} of transformers "
              f"(max |diff| {err.max():.2e}, logprob column {lp_err:.2e})",
              f"worst at position {worst[0]}, id {worst[1]}: longscan {nxt[worst]:.9g}, "
              f"transformers {ref[worst]:.9g}; first logprob {lp[0]} (expected NA)")


def write_fasta(path, records):
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n")
            for i in range(0, len(seq), 80):
                f.write(seq[i:i + 80] + "\n")


def write_wav(path, samples, rate=8000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(s)) for s in samples))


DNA_IDS = {c: i for i, c in enumerate("ACGTN")}


# --------------------------------------------------------------------------- cases

def main(tmp):
    rng = np.random.default_rng(16)
    dna = {"one": "G", "long": "".join(rng.choice(list("ACGTN"), 3000, p=[.24] * 4 + [.04])),
           "tile": "".join(rng.choice(list("ACGT"), 20000))}
    fasta = os.path.join(tmp, "dna.fa")
    write_fasta(fasta, dna)
    dna_ids = {k: np.array([DNA_IDS[c] for c in v]) for k, v in dna.items()}

    # vocabulary 8 on DNA: one, 3,000 and 20,000 positions; then batched (padding) too
    model = make_model(8, 1)
    d = os.path.join(tmp, "v8")
    model.save_pretrained(d)
    header, got = score(d, [fasta])
    check(header[:4] == ["name", "pos", "token", "logprob"] and
          header[4:] == [f"next_{v}" for v in range(8)], "--tsv --vocab-logprobs header",
          str(header))
    compare("vocab 8, DNA", model, got, dna_ids)
    _, batched = score(d, [fasta], "--batch-size", "3")
    compare("vocab 8, DNA, three records in one padded batch", model, batched, dna_ids)

    # a vocabulary larger than both alphabets (a text tokenizer's, say): the DNA ids 0..4 are
    # the model's own ids, and a score is its probability over the whole vocabulary
    small = os.path.join(tmp, "dna_small.fa")
    write_fasta(small, {"one": dna["one"], "long": dna["long"][:500]})
    model = make_model(1000, 3)
    d = os.path.join(tmp, "v1000")
    model.save_pretrained(d)
    _, got = score(d, [small])
    compare("vocab 1000, DNA", model, got, {"one": dna_ids["one"], "long": dna_ids["long"][:500]})

    # vocabulary 256 on 8-bit µ-law audio codes (the "longscan" object says how to encode)
    model = make_model(256, 2)
    d = os.path.join(tmp, "v256")
    model.save_pretrained(d)
    add_longscan_data(d, {"kind": "audio", "sample_rate": 8000, "audio_codes": "mulaw8"})
    noise = np.clip(rng.normal(0, 6000, 3000), -32768, 32767)
    write_wav(os.path.join(tmp, "long.wav"), noise)
    write_wav(os.path.join(tmp, "one.wav"), [1234])
    _, got = score(d, [os.path.join(tmp, "long.wav"), os.path.join(tmp, "one.wav")])
    got = {os.path.basename(k): v for k, v in got.items()}
    distinct = len(set(got["long.wav"][0])) if "long.wav" in got else 0
    check(set(got) == {"long.wav", "one.wav"} and distinct > 100,
          f"vocab 256: both audio files scored, {distinct} distinct codes in the long one",
          str(sorted(got)))
    compare("vocab 256, mu-law audio", model, got)

    # variants of the directory, each against transformers loading the same directory
    base = make_model(8, 3)
    variants = {
        "untied lm_head": (make_model(8, 4, tie_word_embeddings=False), {}),
        "use_conv_bias false": (make_model(8, 5, use_conv_bias=False), {}),
        "BF16 weights": (base.to(torch.bfloat16), {}),
        "F16 weights": (make_model(8, 6).to(torch.float16), {}),
        "shards + index": (make_model(8, 7), {"max_shard_size": "40KB"}),
        "MambaModel (no backbone. prefix)": (make_model(8, 8).backbone, {}),
    }
    short = os.path.join(tmp, "short.fa")
    write_fasta(short, {"s": dna["long"][:500]})
    for what, (m, kw) in variants.items():
        d = os.path.join(tmp, "variant")
        shutil.rmtree(d, ignore_errors=True)
        m.save_pretrained(d, **kw)
        files = sorted(os.listdir(d))
        if "shards" in what:
            check("model.safetensors.index.json" in files and
                  sum(f.startswith("model-") for f in files) > 1, f"{what}: written as shards",
                  str(files))
        ref_model = MambaForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
        try:
            _, got = score(d, [short])
        except RuntimeError as e:
            check(False, f"{what}: longscan reads it", str(e))
            continue
        compare(what, ref_model, got, {"s": dna_ids["long"][:500]})

    # a dtype longscan does not read: one line naming the file and the tensor
    d = os.path.join(tmp, "f64")
    make_model(8, 9).double().save_pretrained(d)
    r = subprocess.run([LONGSCAN, "score", "-m", d, short], capture_output=True, text=True)
    lines = r.stderr.splitlines()
    check(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
          "model.safetensors: tensor 'backbone." in lines[0] and "dtype F64" in lines[0],
          "F64 weights: exit 1 and one line naming the file, tensor and dtype",
          f"exit {r.returncode}, stderr {r.stderr!r}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        try:
            main(tmp)
        except Exception as e:  # a crash is a failed test, with its reason
            import traceback
            check(False, f"test ran to the end: {e}", traceback.format_exc())
    sys.exit(finish())
