#!/usr/bin/env python3
"""test_torch_ops.py — the CPU reference kernels against PyTorch (CPU, float32).

Runs tests/helpers/kops_run (the C ops) on random inputs written to a temp dir and compares
its outputs and gradients with the same computation in PyTorch: F.linear, F.rms_norm,
F.layer_norm, F.silu / F.softplus / F.gelu, F.scaled_dot_product_attention with a
causal / key-padding mask, HF LLaMA's rotate_half RoPE, F.embedding, F.cross_entropy
(ignore_index, weighted mean), masked mean pooling, and torch.optim.AdamW (two param groups,
decay and no decay) with clip_grad_norm_.

PyTorch is large and is not in tests/requirements.txt: without it this prints a TAP skip.
Environment: KOPS_RUN (the helper) or LS_BUILD (build dir holding tests/helpers/kops_run).
Tolerances are stated per check: |ours − torch| <= atol + rtol·|torch|.

Where PyTorch lives but htslib etc. do not (the lent GPU machine), build the helper alone:
  cc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread \
     tests/helpers/kops_run.c common/error.c common/log.c kernels/conv.c kernels/scan.c \
     kernels/cpu/*.c -o /tmp/kops_run \
     -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lm
  KOPS_RUN=/tmp/kops_run python3 tests/gpu/test_torch_ops.py
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"1..0 # SKIP PyTorch not installed ({e.name})")
    sys.exit(0)

HELPER = os.environ.get("KOPS_RUN") or os.path.join(os.environ.get("LS_BUILD", "build"),
                                                    "tests", "helpers", "kops_run")
if not os.access(HELPER, os.X_OK):
    print(f"1..0 # SKIP helper {HELPER} not built")
    sys.exit(0)

SEED = int(os.environ.get("LS_TEST_SEED", "20261124"))
rng = np.random.default_rng(SEED)
torch.manual_seed(SEED)
results = []


def f32(shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def run(op, d, inputs, *params):
    for name, arr in inputs.items():
        arr.tofile(os.path.join(d, name))
    subprocess.run([HELPER, op, d] + [str(p) for p in params], check=True)


def load(d, name, shape, dtype=np.float32):
    return np.fromfile(os.path.join(d, name), dtype=dtype).reshape(shape)


def compare(what, ours, ref, atol, rtol):
    ref = ref.detach().double().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    ours = np.asarray(ours, dtype=np.float64)
    diff = np.abs(ours - ref)
    ok = bool(np.all(diff <= atol + rtol * np.abs(ref)))
    results.append((ok, f"{what}: max |diff| {diff.max():.3g} (atol {atol:g}, rtol {rtol:g})"))


def t(a, grad=True):
    return torch.tensor(a, requires_grad=grad)


def check_linear(d):
    # one block, and several (matmul.h: 128 rows of y/dx, 32 rows of dW per sgemm)
    for M, K, N in ((37, 29, 19), (300, 29, 70)):
        x, w, b, dy = f32((M, K)), f32((N, K)), f32(N), f32((M, N))
        run("linear", d, {"x.f32": x, "w.f32": w, "b.f32": b, "dy.f32": dy}, M, K, N)
        tx, tw, tb = t(x), t(w), t(b)
        y = F.linear(tx, tw, tb)
        y.backward(torch.tensor(dy))
        tag = f"linear {M}x{K}x{N}"
        compare(f"{tag} y", load(d, "y.f32", (M, N)), y, 1e-5, 1e-5)
        compare(f"{tag} dx", load(d, "dx.f32", (M, K)), tx.grad, 1e-5, 1e-5)
        compare(f"{tag} dW", load(d, "dw.f32", (N, K)), tw.grad, 1e-5, 1e-5)
        compare(f"{tag} db", load(d, "db.f32", (N,)), tb.grad, 1e-5, 1e-5)


def check_norms(d):
    M, D, eps = 13, 71, 1e-5
    x, w, b, dy = f32((M, D), -2, 3), f32(D, 0.5, 1.5), f32(D), f32((M, D))
    for op in ("rmsnorm", "layernorm"):
        inputs = {"x.f32": x, "w.f32": w, "dy.f32": dy}
        if op == "layernorm":
            inputs["b.f32"] = b
        run(op, d, inputs, M, D, eps)
        tx, tw, tb = t(x), t(w), t(b)
        y = F.rms_norm(tx, (D,), tw, eps) if op == "rmsnorm" else F.layer_norm(tx, (D,), tw, tb, eps)
        y.backward(torch.tensor(dy))
        compare(f"{op} y", load(d, "y.f32", (M, D)), y, 1e-5, 1e-5)
        compare(f"{op} dx", load(d, "dx.f32", (M, D)), tx.grad, 1e-5, 1e-5)
        compare(f"{op} dw", load(d, "dw.f32", (D,)), tw.grad, 1e-5, 1e-5)
        if op == "layernorm":
            compare(f"{op} db", load(d, "db.f32", (D,)), tb.grad, 1e-5, 1e-5)


def check_act(d):
    n = 5003
    x = f32(n, -12, 30)
    x[:6] = [0.0, 19.5, 20.5, 25.0, -30.0, 60.0]
    z, dy = f32(n, -8, 8), f32(n)
    run("act", d, {"x.f32": x, "z.f32": z, "dy.f32": dy}, n)
    for name, fn in (("silu", F.silu), ("softplus", F.softplus), ("gelu", F.gelu)):
        tx = t(x)
        y = fn(tx)
        y.backward(torch.tensor(dy))
        compare(f"{name} y", load(d, f"y_{name}.f32", (n,)), y, 1e-6, 2e-6)
        compare(f"{name} dx", load(d, f"dx_{name}.f32", (n,)), tx.grad, 1e-6, 2e-6)
    tx, tz = t(x), t(z)
    y = tx * F.silu(tz)
    y.backward(torch.tensor(dy))
    compare("gate y", load(d, "y_gate.f32", (n,)), y, 1e-6, 2e-6)
    compare("gate dx", load(d, "dx_gate.f32", (n,)), tx.grad, 1e-6, 2e-6)
    compare("gate dz", load(d, "dz_gate.f32", (n,)), tz.grad, 1e-6, 2e-6)


def check_attention(d):
    for (B, L, H, hd, causal, lengths) in ((2, 17, 3, 8, 1, [17, 9]), (2, 17, 3, 8, 0, [17, 9]),
                                           (3, 33, 2, 16, 1, [33, 1, 20])):
        qkv, dout = f32((B, L, 3, H, hd), -1.5, 1.5), f32((B, L, H, hd))
        lens = np.array(lengths, dtype=np.int64)
        valid = np.arange(L)[None, :] < lens[:, None]  # (B, L)
        dout = dout * valid[:, :, None, None]          # padded query rows carry no gradient
        run("attention", d, {"qkv.f32": qkv, "dout.f32": dout.astype(np.float32),
                             "lengths.i64": lens}, B, L, H, hd, causal)
        tqkv = t(qkv)
        q, k, v = (tqkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))  # (B, H, L, hd)
        allowed = torch.tensor(valid)[:, None, None, :].expand(B, 1, L, L)
        if causal:
            allowed = allowed & torch.ones(L, L, dtype=torch.bool).tril()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)   # (B, H, L, hd)
        scores = (q @ k.transpose(-1, -2)) / hd ** 0.5
        lse = torch.logsumexp(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, H, L)
        out = out.permute(0, 2, 1, 3)                                       # (B, L, H, hd)
        out.backward(torch.tensor(dout.astype(np.float32)))
        mask_out = torch.tensor(valid)[:, :, None, None]
        tag = f"attention B={B} L={L} H={H} hd={hd} {'causal' if causal else 'bidir'}"
        compare(f"{tag} out", load(d, "out.f32", (B, L, H, hd)), out.detach() * mask_out,
                2e-6, 1e-5)
        compare(f"{tag} lse", load(d, "lse.f32", (B, H, L)),
                lse.detach() * torch.tensor(valid)[:, None, :], 2e-6, 1e-5)
        compare(f"{tag} dqkv", load(d, "dqkv.f32", (B, L, 3, H, hd)), tqkv.grad, 1e-5, 1e-5)


def check_rope(d):
    B, L, H, hd = 2, 12, 3, 16
    for rot, pos0, base in ((16, 3, 10000.0), (8, 0, 10000.0), (16, 50, 500000.0)):
        x, dout = f32((B, L, H, hd)), f32((B, L, H, hd))
        run("rope", d, {"x.f32": x, "dout.f32": dout}, B, L, H, hd, rot, pos0, base)
        # Hugging Face LLaMA: inv_freq, cat((freqs, freqs)), rotate_half; NeoX partial rotary
        inv_freq = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.int64).float() / rot))
        freqs = torch.outer(torch.arange(pos0, pos0 + L).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
        tx = t(x)
        xr, xp = tx[..., :rot], tx[..., rot:]
        rotate_half = torch.cat((-xr[..., rot // 2:], xr[..., :rot // 2]), dim=-1)
        out = torch.cat((xr * cos + rotate_half * sin, xp), dim=-1)
        out.backward(torch.tensor(dout))
        tag = f"rope rot={rot} pos0={pos0} base={base:g}"
        compare(f"{tag} out", load(d, "out.f32", (B, L, H, hd)), out, 1e-5, 1e-5)
        compare(f"{tag} dx", load(d, "dx.f32", (B, L, H, hd)), tx.grad, 1e-5, 1e-5)


def check_embedding(d):
    M, V, D = 50, 11, 70
    ids = rng.integers(0, V, size=M).astype(np.int32)
    table, dout = f32((V, D)), f32((M, D))
    run("embedding", d, {"ids.i32": ids, "table.f32": table, "dout.f32": dout}, M, V, D)
    tt = t(table)
    out = F.embedding(torch.tensor(ids.astype(np.int64)), tt)
    out.backward(torch.tensor(dout))
    compare("embedding out", load(d, "out.f32", (M, D)), out, 0, 0)
    compare("embedding dtable", load(d, "dtable.f32", (V, D)), tt.grad, 1e-6, 1e-6)


def check_xent(d):
    M, V = 41, 23
    logits, weights = f32((M, V), -6, 6), f32(M, 0, 2)
    targets = rng.integers(0, V, size=M).astype(np.int32)
    targets[::5] = -100
    run("xent", d, {"logits.f32": logits, "targets.i32": targets, "weights.f32": weights}, M, V)
    tl = t(logits)
    tt = torch.tensor(targets.astype(np.int64))
    rows = F.cross_entropy(tl, tt, ignore_index=-100, reduction="none")
    w = torch.tensor(weights) * (tt != -100)
    mean = (w * rows).sum() / w.sum()
    mean.backward()
    compare("xent mean", load(d, "mean.f64", (1,), np.float64), mean.detach().reshape(1),
            1e-6, 1e-6)
    compare("xent rows", load(d, "rows.f32", (M,)), rows, 1e-6, 1e-6)
    compare("xent dlogits", load(d, "dlogits.f32", (M, V)), tl.grad, 1e-7, 1e-5)
    # unweighted mean equals F.cross_entropy's own reduction
    plain = F.cross_entropy(tl.detach(), tt, ignore_index=-100)
    ours_plain = (load(d, "rows.f32", (M,)) * (targets != -100)).sum() / (targets != -100).sum()
    compare("xent unweighted mean vs reduction='mean'", np.array([ours_plain]),
            plain.reshape(1), 1e-6, 1e-6)


def check_pool(d):
    B, L, D = 3, 9, 5
    x, dout = f32((B, L, D)), f32((B, D))
    lens = np.array([9, 4, 1], dtype=np.int64)
    run("pool", d, {"x.f32": x, "dout.f32": dout, "lengths.i64": lens}, B, L, D)
    tx = t(x)
    mask = torch.tensor(np.arange(L)[None, :] < lens[:, None], dtype=torch.float32)[:, :, None]
    out = (tx * mask).sum(1) / torch.tensor(lens, dtype=torch.float32)[:, None]
    out.backward(torch.tensor(dout))
    compare("pool mean out", load(d, "out.f32", (B, D)), out, 1e-6, 1e-6)
    compare("pool mean dx", load(d, "dx.f32", (B, L, D)), tx.grad, 1e-7, 1e-6)


def check_adamw(d):
    n1, n2, steps, lr = 300, 77, 5, 1e-2
    for max_norm in (1e9, 1.0):  # no clipping, then clipping every step
        p0 = f32(n1 + n2)
        grads = f32((steps, n1 + n2), -3, 3)
        run("adamw", d, {"params.f32": p0, "grads.f32": grads}, n1, n2, steps, lr, max_norm)
        p1, p2 = t(p0[:n1].copy()), t(p0[n1:].copy())
        opt = torch.optim.AdamW([{"params": [p1], "weight_decay": 0.1},
                                 {"params": [p2], "weight_decay": 0.0}],
                                lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
        norms = []
        for s in range(steps):
            p1.grad, p2.grad = torch.tensor(grads[s, :n1]), torch.tensor(grads[s, n1:])
            norms.append(float(torch.nn.utils.clip_grad_norm_([p1, p2], max_norm,
                                                              foreach=False)))
            opt.step()
        ref = torch.cat([p1.detach(), p2.detach()])
        ours = load(d, "params_out.f32", (n1 + n2,))
        same = int((ours == ref.numpy()).sum())
        tag = f"adamw {steps} steps max_norm={max_norm:g}"
        compare(f"{tag} grad norms", load(d, "norms.f64", (steps,), np.float64), np.array(norms), 0, 1e-6)
        compare(f"{tag} params ({same}/{n1 + n2} bit-identical)", ours, ref, 1e-7, 1e-6)


def main():
    checks = [check_linear, check_norms, check_act, check_attention, check_rope,
              check_embedding, check_xent, check_pool, check_adamw]
    print(f"# torch {torch.__version__}, seed {SEED}")
    with tempfile.TemporaryDirectory() as d:
        for check in checks:
            check(d)
    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, msg) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {msg}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
