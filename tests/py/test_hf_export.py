#!/usr/bin/env python3
"""`longscan export`: a model trained by longscan, loaded by Hugging Face transformers, gives
longscan's numbers (TAP output).

1. A causal Mamba LM trained by longscan for a few steps (so no tensor is still at its
   initial value) is exported; MambaForCausalLM.from_pretrained loads the directory with no
   missing, unexpected or mismatched key and no warning; every tensor equals the longscan
   checkpoint's under the documented renaming (bit for bit); transformers' log-probabilities
   equal `longscan score --tsv --vocab-logprobs` within 1e-4 on 3,000 positions; `score -m DIR`
   prints the same bytes as `score -m MODEL.safetensors`; and the directory exported back to a
   longscan file scores the same bytes too.
2. A Mamba classifier exported: MambaModel.from_pretrained takes the backbone (only
   classifier.weight/.bias left over, as documented), and the pooled last hidden state times
   that head gives `longscan predict`'s class probabilities within 1e-4; `predict -m DIR`
   prints the same as the file.

Env: LONGSCAN (default ./build/longscan). Needs torch, transformers, safetensors:
tests/requirements-torch.txt.
"""
import json
import logging
import os
import subprocess
import sys
import tempfile

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
    from safetensors import safe_open
    from transformers import MambaForCausalLM, MambaModel
except ImportError as e:
    print("1..1")
    print(f"not ok 1 - import numpy / torch / transformers / safetensors: {e} "
          "(tests/requirements-torch.txt says how to install them)")
    sys.exit(1)

torch.set_num_threads(1)
transformers.logging.disable_progress_bar()


class Recorder(logging.Handler):
    """Every warning transformers logs while a model loads."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if "fast path is not available" not in msg:  # no CUDA kernels here: expected
            self.messages.append(msg)


def run(*args):
    r = subprocess.run([LONGSCAN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"longscan {args[0]} exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def load_st(path):
    with safe_open(path, framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def hf_name(name):
    """docs/checkpoints.md: longscan name → transformers name."""
    return ("backbone.embeddings.weight" if name == "backbone.embedding.weight" else name)


def load_logged(cls, d):
    rec = Recorder()
    log = logging.getLogger("transformers")
    old = log.level
    log.addHandler(rec)
    log.setLevel(logging.WARNING)
    transformers.logging.disable_default_handler()  # recorded here, not printed
    try:
        model, info = cls.from_pretrained(d, output_loading_info=True)
    finally:
        transformers.logging.enable_default_handler()
        log.removeHandler(rec)
        log.setLevel(old)
    return model.eval(), info, rec.messages


def write_fasta(path, records):
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n{seq}\n")


def lm_case(tmp, rng):
    motif = "".join(rng.choice(list("ACGT"), 37))
    train = {f"t{i}": "".join(motif if rng.random() < 0.5 else
                             "".join(rng.choice(list("ACGT"), 37)) for _ in range(12))
             for i in range(6)}
    write_fasta(os.path.join(tmp, "train.fa"), train)
    model = os.path.join(tmp, "lm.safetensors")
    run("train", "--task", "lm", "--model", "mamba", "--data", os.path.join(tmp, "train.fa"),
        "--d-model", "32", "--layers", "2", "--steps", "12", "--lr", "1e-2", "--seq-len", "200",
        "--batch-size", "4", "--verbosity", "0", "-o", model)
    d = os.path.join(tmp, "lm_hf")
    run("export", "-m", model, "-o", d)
    check(sorted(os.listdir(d)) == ["config.json", "model.safetensors"],
          "export writes config.json and model.safetensors", str(os.listdir(d)))

    ours, _ = load_st(model)
    theirs, meta = load_st(os.path.join(d, "model.safetensors"))
    renamed = {hf_name(k): v for k, v in ours.items()}
    same = set(renamed) == set(theirs) and all(
        renamed[k].dtype == theirs[k].dtype and np.array_equal(renamed[k], theirs[k])
        for k in theirs)
    check(same and meta == {"format": "pt"}, "exported tensors equal the checkpoint's under the "
          "documented names (F32, metadata format=pt)",
          f"only ours: {sorted(set(renamed) - set(theirs))}; only exported: "
          f"{sorted(set(theirs) - set(renamed))}; metadata {meta}")
    moved = [k for k, v in ours.items() if k.endswith(("norm.weight", "mixer.D"))
             and np.all(v == 1.0)]
    check(not moved, "training moved every norm weight and D off its initial 1 (so a mix-up "
          "would show)", str(moved))

    model_hf, info, warnings = load_logged(MambaForCausalLM, d)
    check(all(not info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys",
                                    "error_msgs")) and not warnings,
          "MambaForCausalLM.from_pretrained: no missing, unexpected or mismatched key, no "
          "warning", f"{info}; warnings {warnings}")
    cfg = model_hf.config
    check(cfg.hidden_size == 32 and cfg.num_hidden_layers == 2 and cfg.vocab_size == 5 and
          cfg.tie_word_embeddings and
          model_hf.lm_head.weight.data_ptr() == model_hf.backbone.embeddings.weight.data_ptr(),
          "config.json: sizes as trained, lm_head tied to the embedding",
          json.dumps(cfg.to_dict())[:400])

    seq = "".join(rng.choice(list("ACGTN"), 3000, p=[.24] * 4 + [.04]))
    fa = os.path.join(tmp, "eval.fa")
    write_fasta(fa, {"x": seq})
    out = run("score", "-m", model, "--tsv", "--vocab-logprobs", fa)
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    tokens = np.array([int(r[2]) for r in rows])
    ids = np.array(["ACGTN".index(c) for c in seq])
    nxt = np.array([[float(x) for x in r[4:]] for r in rows])
    with torch.no_grad():
        logits = model_hf(torch.tensor(ids)[None], use_cache=False).logits[0]
    ref = torch.log_softmax(logits.double(), dim=-1).numpy()
    err = np.abs(nxt - ref).max() if nxt.shape == ref.shape else np.inf
    check(np.array_equal(tokens, ids) and err <= TOL,
          f"transformers' log-probs of the exported LM equal longscan's within {TOL} at "
          f"L=3000 (max |diff| {err:.2e})", f"shapes {nxt.shape} {ref.shape}")

    check(run("score", "-m", d, "--tsv", "--vocab-logprobs", fa) == out,
          "score -m DIR prints the same bytes as score -m MODEL.safetensors")
    back = os.path.join(tmp, "back.safetensors")
    run("export", "-m", d, "-o", back)
    check(run("score", "-m", back, "--tsv", "--vocab-logprobs", fa) == out,
          "the directory exported back to a longscan file scores the same bytes")


def classifier_case(tmp, rng):
    a = {f"a{i}": "".join(rng.choice(list("ACGT"), 300, p=[.4, .1, .1, .4])) for i in range(8)}
    b = {f"b{i}": "".join(rng.choice(list("ACGT"), 300, p=[.1, .4, .4, .1])) for i in range(8)}
    write_fasta(os.path.join(tmp, "a.fa"), a)
    write_fasta(os.path.join(tmp, "b.fa"), b)
    model = os.path.join(tmp, "cls.safetensors")
    run("train", "--task", "classify", "--model", "mamba", "--class",
        "at=" + os.path.join(tmp, "a.fa"), "--class", "gc=" + os.path.join(tmp, "b.fa"),
        "--d-model", "16", "--layers", "2", "--steps", "6", "--lr", "1e-2", "--batch-size", "4",
        "--verbosity", "0", "-o", model)
    d = os.path.join(tmp, "cls_hf")
    run("export", "-m", model, "-o", d)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    ls = cfg.get("longscan", {})
    check(cfg.get("architectures") == ["MambaModel"] and ls.get("task") == "classify" and
          ls.get("labels") == ["at", "gc"] and ls.get("n_classes") == 2 and
          ls.get("pool") in ("mean", "last", "first"),
          "classifier config.json: MambaModel, longscan task, labels, n_classes, pool",
          json.dumps(cfg)[:600])
    backbone, info, _ = load_logged(MambaModel, d)
    unexpected = sorted(k.split(".")[-2] + "." + k.split(".")[-1] for k in info["unexpected_keys"])
    check(not info["missing_keys"] and unexpected == ["classifier.bias", "classifier.weight"],
          "MambaModel.from_pretrained takes the whole backbone; only the head is left over",
          str(info))
    head, _ = load_st(os.path.join(d, "model.safetensors"))
    W, bias = head["classifier.weight"], head["classifier.bias"]
    test = os.path.join(tmp, "test.fa")
    seqs = {"ta": "".join(rng.choice(list("ACGT"), 250, p=[.4, .1, .1, .4])),
            "tb": "".join(rng.choice(list("ACGT"), 410, p=[.1, .4, .4, .1]))}
    write_fasta(test, seqs)
    out = run("predict", "-m", model, "--digits", "9", test)
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    worst = 0.0
    for r in rows:
        ids = torch.tensor(["ACGTN".index(c) for c in seqs[r[0]]])[None]
        with torch.no_grad():
            h = backbone(ids, use_cache=False).last_hidden_state[0].double().numpy()
        pooled = {"mean": h.mean(0), "last": h[-1], "first": h[0]}[ls.get("pool", "mean")]
        z = pooled @ W.T.astype(np.float64) + bias
        p = np.exp(z - z.max())
        p /= p.sum()
        worst = max(worst, np.abs(p - np.array([float(x) for x in r[2:]])).max())
    check(len(rows) == 2 and worst <= TOL, f"pooled MambaModel output x classifier head = "
          f"longscan predict's probabilities within {TOL} (max |diff| {worst:.2e})", out)
    check(run("predict", "-m", d, "--digits", "9", test) == out,
          "predict -m DIR prints the same as predict -m MODEL.safetensors")


if __name__ == "__main__":
    rng = np.random.default_rng(61)
    with tempfile.TemporaryDirectory() as tmp:
        for case in (lm_case, classifier_case):
            try:
                case(tmp, rng)
            except Exception as e:  # a crash is a failed test, with its reason
                import traceback
                check(False, f"{case.__name__} ran to the end: {e}", traceback.format_exc())
    sys.exit(finish())
