#!/usr/bin/env python3
"""Checkpoints of models/ against mamba_ssm's conventions, read with Python's `safetensors`
(TAP output).

1. Names and shapes: a causal Mamba LM checkpoint written by tests/helpers/model_tool holds
   exactly the state dict of mamba_ssm's MambaLMHeadModel (mixer_seq_simple.py + Mamba in
   mamba_simple.py) for the same sizes: every name, every shape (conv1d.weight 3-D), F32; with
   tied embeddings, the same minus lm_head.weight (PyTorch lists the tied alias, safetensors
   cannot hold it). A BiMamba checkpoint holds Caduceus's BiMambaWrapper names (mixer.mamba_fwd.*,
   mixer.mamba_rev.*) without the tied mamba_rev in_proj/out_proj. Metadata: format=longscan,
   format_version, the config JSON, the caller's extra key.
2. Initial values follow mamba_ssm: A_log = log(1..N) per channel, D = 1, norms 1,
   softplus(dt_proj.bias) in [dt_min, dt_max], uniform bounds of every linear / conv weight
   (out_proj scaled by 1/sqrt(n_layers)), embedding std about 0.02.
3. An independent NumPy (float64) forward of the checkpoint — Mamba LM, BiMamba classifier
   (reverse pass over the flipped sequence, tied in/out projections, outputs added, mean pool)
   and its reverse-complement-equivariant form — matches model_tool's logits within
   |ours - ref| <= 1e-5 + 1e-4*|ref|.

Env: LS_BUILD (default ./build) holds tests/helpers/model_tool.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("LS_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "helpers", "model_tool")

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
            for line in str(detail).splitlines():
                print(f"# {line}")
    return 1 if failed else 0


try:
    import numpy as np
    from safetensors import safe_open
except ImportError as e:
    print("1..1")
    print(f"not ok 1 - import numpy / safetensors: {e} (make test: build/venv)")
    sys.exit(1)


def save(cfg, path, seed=7):
    r = subprocess.run([TOOL, "save", json.dumps(cfg), path, str(seed)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def load(path):
    with safe_open(path, framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def logits_of(path, tokens):
    r = subprocess.run([TOOL, "logits", path, "".join(str(t) for t in tokens)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return np.array([float(x) for x in r.stdout.split()])


# --------------------------------------------------------------------------- expected names

def mamba_ssm_state_dict(D, n_layers, V, N, K, expand, R, tied):
    """Names and shapes of mamba_ssm MambaLMHeadModel.state_dict() (fused_add_norm, RMSNorm)."""
    E = expand * D
    sd = {"backbone.embedding.weight": (V, D)}
    for i in range(n_layers):
        p = f"backbone.layers.{i}."
        sd.update({
            p + "mixer.A_log": (E, N),
            p + "mixer.D": (E,),
            p + "mixer.in_proj.weight": (2 * E, D),
            p + "mixer.conv1d.weight": (E, 1, K),
            p + "mixer.conv1d.bias": (E,),
            p + "mixer.x_proj.weight": (R + 2 * N, E),
            p + "mixer.dt_proj.weight": (E, R),
            p + "mixer.dt_proj.bias": (E,),
            p + "mixer.out_proj.weight": (D, E),
            p + "norm.weight": (D,),
        })
    sd["backbone.norm_f.weight"] = (D,)
    sd["lm_head.weight"] = (V, D)  # state_dict() lists it even when tied
    if tied:
        del sd["lm_head.weight"]  # safetensors keeps one name per storage
    return sd


def caduceus_state_dict(D, n_layers, V, N, K, expand, R, C):
    """Caduceus BiMambaWrapper layers (bidirectional_weight_tie=True) under mamba_ssm's backbone
    names, minus the tied mamba_rev in_proj/out_proj aliases; a classifier head."""
    E = expand * D
    sd = {"backbone.embedding.weight": (V, D)}
    for i in range(n_layers):
        p = f"backbone.layers.{i}."
        for d in ("mamba_fwd", "mamba_rev"):
            q = p + f"mixer.{d}."
            sd.update({q + "A_log": (E, N), q + "D": (E,), q + "conv1d.weight": (E, 1, K),
                       q + "conv1d.bias": (E,), q + "x_proj.weight": (R + 2 * N, E),
                       q + "dt_proj.weight": (E, R), q + "dt_proj.bias": (E,)})
        sd[p + "mixer.mamba_fwd.in_proj.weight"] = (2 * E, D)
        sd[p + "mixer.mamba_fwd.out_proj.weight"] = (D, E)
        sd[p + "norm.weight"] = (D,)
    sd["backbone.norm_f.weight"] = (D,)
    sd["classifier.weight"] = (C, D)
    sd["classifier.bias"] = (C,)
    return sd


def compare_names(tensors, want, what):
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    shapes = [(k, got[k], want[k]) for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    dtypes = [k for k, v in tensors.items() if v.dtype != np.float32]
    check(not missing and not extra and not shapes and not dtypes, what,
          f"missing {missing}\nextra {extra}\nshape (got, want) {shapes}\nnot F32 {dtypes}")


# --------------------------------------------------------------------------- numpy reference

def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def mixer(h, t, pre, io, cfg):
    """One Mamba mixer (mamba_simple.Mamba.forward, slow path) on h (L, D), float64."""
    E, N, K = cfg["expand"] * cfg["d_model"], cfg["d_state"], cfg["d_conv"]
    R = cfg["dt_rank"] or math.ceil(cfg["d_model"] / 16)
    L = h.shape[0]
    xz = h @ t[io + "in_proj.weight"].T
    x, z = xz[:, :E], xz[:, E:]
    w, b = t[pre + "conv1d.weight"][:, 0, :], t[pre + "conv1d.bias"]
    xp = np.concatenate([np.zeros((K - 1, E)), x])
    u = silu(b + sum(w[:, k] * xp[k:k + L] for k in range(K)))
    dbl = u @ t[pre + "x_proj.weight"].T
    dt, B, C = dbl[:, :R], dbl[:, R:R + N], dbl[:, R + N:]
    delta = softplus(dt @ t[pre + "dt_proj.weight"].T + t[pre + "dt_proj.bias"])
    A = -np.exp(t[pre + "A_log"].astype(np.float64))
    s = np.zeros((E, N))
    ys = np.zeros((L, E))
    for i in range(L):
        s = np.exp(delta[i][:, None] * A) * s + (delta[i] * u[i])[:, None] * B[i][None, :]
        ys[i] = (s @ C[i] + t[pre + "D"] * u[i]) * silu(z[i])
    return ys @ t[io + "out_proj.weight"].T


def backbone(tokens, t, cfg):
    eps = cfg["norm_eps"]
    h = t["backbone.embedding.weight"].astype(np.float64)[tokens]
    for i in range(cfg["n_layers"]):
        p = f"backbone.layers.{i}."
        hn = rmsnorm(h, t[p + "norm.weight"], eps)
        if cfg["arch"] == "mamba":
            h = h + mixer(hn, t, p + "mixer.", p + "mixer.", cfg)
        else:  # BiMamba: forward + reverse over the flipped sequence, in/out_proj tied
            io = p + "mixer.mamba_fwd."
            h = h + mixer(hn, t, io, io, cfg) + mixer(hn[::-1], t, p + "mixer.mamba_rev.", io,
                                                       cfg)[::-1]
    return rmsnorm(h, t["backbone.norm_f.weight"], eps)


def reference_logits(tokens, t, cfg):
    tokens = np.array(tokens)
    t = {k: v.astype(np.float64) for k, v in t.items()}
    if cfg["task"] == "lm":
        head = t.get("lm_head.weight", t["backbone.embedding.weight"])
        return (backbone(tokens, t, cfg) @ head.T).ravel()
    pooled = backbone(tokens, t, cfg).mean(0)
    if cfg.get("rc_equivariant"):
        rc = np.where(tokens < 4, 3 - tokens, tokens)[::-1]
        pooled = 0.5 * (pooled + backbone(rc, t, cfg).mean(0))
    return t["classifier.weight"] @ pooled + t["classifier.bias"]


def close(got, want, atol=1e-5, rtol=1e-4):
    err = np.abs(got - want)
    return bool(np.all(err <= atol + rtol * np.abs(want))), float(err.max())


# --------------------------------------------------------------------------- the checks

def main():
    tmp = tempfile.mkdtemp(prefix="test_model_names.")
    try:
        base = {"arch": "mamba", "task": "lm", "vocab": 8, "d_model": 16, "n_layers": 2,
                "d_state": 4, "d_conv": 4, "expand": 2, "dt_rank": 0, "tie_embeddings": False}
        path = os.path.join(tmp, "mamba.safetensors")
        save(base, path)
        t, meta = load(path)
        compare_names(t, mamba_ssm_state_dict(16, 2, 8, 4, 4, 2, 1, tied=False),
                      "mamba LM (untied): names and shapes are mamba_ssm's state dict")
        cfg = json.loads(meta.get("config", "{}"))
        check(meta.get("format") == "longscan" and meta.get("format_version") == "1"
              and cfg.get("d_model") == 16 and cfg.get("dt_rank") == 1
              and meta.get("written_by") == "tests/helpers/model_tool",
              "metadata: format, format_version, config JSON (dt_rank resolved), extra key",
              str(meta))

        # initial values
        E, N, K, R, D, nl = 32, 4, 4, 1, 16, 2
        p = "backbone.layers.1.mixer."
        check(np.allclose(t[p + "A_log"], np.log(np.tile(np.arange(1, N + 1), (E, 1)))),
              "init: A_log = log(1..N) per channel (S4D-real)")
        check(np.all(t[p + "D"] == 1) and np.all(t["backbone.layers.0.norm.weight"] == 1)
              and np.all(t["backbone.norm_f.weight"] == 1), "init: D = 1, norm weights 1")
        dt = np.log1p(np.exp(t[p + "dt_proj.bias"].astype(np.float64)))
        check(dt.min() >= 0.001 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5) and dt.std() > 0,
              "init: softplus(dt_proj.bias) in [dt_min, dt_max]", f"{dt.min()} {dt.max()}")
        bounds = {"dt_proj.weight": R ** -0.5, "in_proj.weight": D ** -0.5,
                  "x_proj.weight": E ** -0.5, "conv1d.weight": K ** -0.5,
                  "conv1d.bias": K ** -0.5, "out_proj.weight": E ** -0.5 / math.sqrt(nl)}
        bad = [(k, float(np.abs(t[p + k]).max()), b) for k, b in bounds.items()
               if not (np.abs(t[p + k]).max() <= b and np.abs(t[p + k]).max() > 0.5 * b)]
        check(not bad, "init: uniform bounds (kaiming a=sqrt 5, dt_rank^-0.5, out_proj / "
              "sqrt(n_layers))", str(bad))
        emb = t["backbone.embedding.weight"]
        check(0.01 < emb.std() < 0.03 and abs(float(emb.mean())) < 0.01,
              "init: embedding ~ N(0, 0.02)", f"std {emb.std()}")

        tokens = [1, 0, 3, 2, 2, 7, 4, 1, 0, 5, 6, 3]
        got, want = logits_of(path, tokens), reference_logits(tokens, t, cfg)
        ok, err = close(got, want)
        check(ok, f"mamba LM logits = NumPy reference (max |diff| {err:.2e})")

        tied = dict(base, tie_embeddings=True)
        path = os.path.join(tmp, "tied.safetensors")
        save(tied, path)
        t, meta = load(path)
        compare_names(t, mamba_ssm_state_dict(16, 2, 8, 4, 4, 2, 1, tied=True),
                      "mamba LM (tied): mamba_ssm's names less the lm_head.weight alias")
        got, want = logits_of(path, tokens), reference_logits(tokens, t, json.loads(meta["config"]))
        ok, err = close(got, want)
        check(ok, f"tied mamba LM logits = NumPy reference (max |diff| {err:.2e})")

        bi = {"arch": "bimamba", "task": "classify", "vocab": 5, "d_model": 16, "n_layers": 2,
              "d_state": 4, "d_conv": 4, "expand": 2, "n_classes": 3, "pool": "mean"}
        for rc in (False, True):
            path = os.path.join(tmp, f"bimamba{int(rc)}.safetensors")
            save(dict(bi, rc_equivariant=rc), path)
            t, meta = load(path)
            compare_names(t, caduceus_state_dict(16, 2, 5, 4, 4, 2, 1, 3),
                          f"bimamba{' rc' if rc else ''}: Caduceus BiMamba names, shapes")
            tokens = [0, 1, 2, 3, 4, 3, 3, 1, 0, 2, 1]
            got = logits_of(path, tokens)
            want = reference_logits(tokens, t, json.loads(meta["config"]))
            ok, err = close(got, want)
            check(ok, f"bimamba{' rc' if rc else ''} classifier logits = NumPy reference "
                      f"(max |diff| {err:.2e})", f"{got} {want}")
    except Exception as e:  # a crash is one failed check, not a traceback without TAP
        check(False, "model_tool ran", repr(e))
    finally:
        subprocess.run(["rm", "-rf", tmp])
    return finish()


if __name__ == "__main__":
    sys.exit(main())
