#!/usr/bin/python3
"""bench/mqar_torch.py — a PyTorch re-implementation of longscan's Transformer LM on MQAR, for
the diagnosis in bench/results/synth-mqar-transformer-diagnosis-*.txt (not a test, not part
of the build; Debian's python3-torch, which `make` installs, runs it).

The model is longscan's (docs/models.md): token embedding N(0, 0.02) tied to the LM head,
pre-norm blocks of RMSNorm → attention (fused qkv with bias, GPT-NeoX RoPE on all head dims,
base 10000, causal) → out_proj, then RMSNorm → fc1 → GELU → fc2, final RMSNorm; the init of
docs/models.md (U(±1/√fan_in), out_proj and fc2 divided by √(2·layers)); AdamW (0.9, 0.999,
eps 1e-8, decay 0.1 on weight matrices only), clip 1, linear warm-up over 5 % then cosine to
lr/10; loss on the answers only. The data is MQAR as io/synth.c lays it out (keys, values,
queries in power-law slots; the answer is not in the input unless --show-answers), drawn
with numpy, not longscan's generator. Knobs change one thing each, to see what matters.

  bench/mqar_torch.py --len 64 --pairs 8 --vocab 256 --steps 1500            # with MLPs
  bench/mqar_torch.py --len 64 --pairs 8 --vocab 256 --steps 1500 --mlp 0    # attention only
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--len", type=int, default=64)
p.add_argument("--pairs", type=int, default=8)
p.add_argument("--vocab", type=int, default=256)
p.add_argument("--d", type=int, default=64, help="d_model")
p.add_argument("--layers", type=int, default=2)
p.add_argument("--heads", type=int, default=2)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--steps", type=int, default=1500)
p.add_argument("--bs", type=int, default=32)
p.add_argument("--wd", type=float, default=0.1)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--show-answers", action="store_true", help="the old layout: answers in input")
p.add_argument("--mlp", type=int, default=-1, help="bit i: block i has an MLP (-1: all)")
p.add_argument("--mlp-mult", type=int, default=4, help="MLP width / d_model")
p.add_argument("--emb-std", type=float, default=0.02)
p.add_argument("--abs-pos", action="store_true", help="learned absolute positions, no RoPE")
p.add_argument("--layernorm", action="store_true", help="LayerNorm instead of RMSNorm")
p.add_argument("--zero-fc2", action="store_true", help="fc2 initialised to zero")
p.add_argument("--zero-out", action="store_true", help="attention out_proj initialised to zero")
p.add_argument("--oracle", action="store_true",
               help="add an embedding of the previous token to the input (a given prev-token head)")
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(1)


def mqar(n, rng):
    L, P, V = a.len, a.pairs, a.vocab
    half, S = V // 2, (L - 2 * P) // 2
    ids = np.zeros((n, L), np.int64)
    tgt = np.zeros((n, L), bool)
    w = 1.0 / np.arange(1, S + 1)
    for b in range(n):
        k = 1 + rng.choice(half - 1, P, replace=False)
        v = half + rng.choice(V - half, P, replace=False)
        q = 2 * P + 2 * rng.choice(S, P, replace=False, p=w / w.sum())
        ids[b, 0:2 * P:2], ids[b, 1:2 * P:2] = k, v
        ids[b, q], ids[b, q + 1], tgt[b, q + 1] = k, v, True
    return torch.tensor(ids), torch.tensor(tgt)


class Norm(nn.Module):
    def __init__(s, d):
        super().__init__()
        s.w = nn.Parameter(torch.ones(d))

    def forward(s, x):
        if a.layernorm:
            x = x - x.mean(-1, keepdim=True)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * s.w


def rope(x):  # (B, H, L, hd)
    hd = x.shape[-1]
    half = hd // 2
    inv = 10000.0 ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    th = torch.arange(x.shape[2], dtype=torch.float64)[:, None] * inv[None]
    c, s = th.cos().float(), th.sin().float()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)


def uinit(lin, fan_in, scale=1.0):
    nn.init.uniform_(lin.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
    lin.weight.data *= scale
    if lin.bias is not None:
        nn.init.zeros_(lin.bias)


class Block(nn.Module):
    def __init__(s, i):
        super().__init__()
        d, F_ = a.d, a.mlp_mult * a.d
        s.has_mlp = (a.mlp >> i) & 1 if a.mlp >= 0 else True
        s.n1, s.qkv, s.o = Norm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.n2, s.f1, s.f2 = Norm(d), nn.Linear(d, F_), nn.Linear(F_, d)
        r = 1 / math.sqrt(2 * a.layers)
        uinit(s.qkv, d)
        uinit(s.o, d, 0.0 if a.zero_out else r)
        uinit(s.f1, d)
        uinit(s.f2, F_, 0.0 if a.zero_fc2 else r)
        s.p = None

    def forward(s, x):
        B, L, D = x.shape
        q, k, v = s.qkv(s.n1(x)).view(B, L, 3, a.heads, D // a.heads).permute(2, 0, 3, 1, 4)
        if not a.abs_pos:
            q, k = rope(q), rope(k)
        sc = q @ k.transpose(-1, -2) / math.sqrt(D // a.heads)
        sc = sc.masked_fill(torch.triu(torch.ones(L, L, dtype=torch.bool), 1), float("-inf"))
        s.p = sc.softmax(-1)
        x = x + s.o((s.p @ v).transpose(1, 2).reshape(B, L, D))
        return x + s.f2(F.gelu(s.f1(s.n2(x)))) if s.has_mlp else x


class LM(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(a.vocab, a.d)
        nn.init.normal_(s.emb.weight, 0, a.emb_std)
        s.prev = nn.Embedding(a.vocab, a.d)
        nn.init.normal_(s.prev.weight, 0, a.emb_std)
        s.pos = nn.Parameter(torch.randn(a.len, a.d) * 0.02) if a.abs_pos else None
        s.blocks = nn.ModuleList([Block(i) for i in range(a.layers)])
        s.nf = Norm(a.d)

    def forward(s, ids, tgt):
        inp = ids if a.show_answers else ids.masked_fill(tgt, 0)
        x = s.emb(inp)
        if a.oracle:
            x = x + s.prev(F.pad(inp, (1, 0))[:, :-1])
        if s.pos is not None:
            x = x + s.pos
        for b in s.blocks:
            x = b(x)
        h = s.nf(x)[:, :-1][tgt[:, 1:]]
        return h @ s.emb.weight.t(), ids[:, 1:][tgt[:, 1:]]


m = LM()
mats = [q for n, q in m.named_parameters() if q.dim() == 2 and n.startswith("blocks")]
rest = [q for n, q in m.named_parameters() if not (q.dim() == 2 and n.startswith("blocks"))]
opt = torch.optim.AdamW([{"params": mats, "weight_decay": a.wd},
                         {"params": rest, "weight_decay": 0.0}], lr=a.lr, eps=1e-8)
warm = max(1, a.steps // 20)


def schedule(t):
    if t <= warm:
        return t / warm
    return 0.1 + 0.45 * (1 + math.cos(math.pi * (t - warm) / (a.steps - warm)))


rng = np.random.default_rng(a.seed)
vids, vtgt = mqar(300, np.random.default_rng(12345))
P = a.pairs
t0 = time.process_time()
for step in range(1, a.steps + 1):
    for g in opt.param_groups:
        g["lr"] = a.lr * schedule(step)
    logits, y = m(*mqar(a.bs, rng))
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    if step % 100 == 0 or step == a.steps:
        with torch.no_grad():
            lg, yy = m(vids, vtgt)
            acc = (lg.argmax(-1) == yy).float().mean().item()
            # block 0's attention from each value of the pairs to its key, per head
            prev = m.blocks[0].p[:, :, torch.arange(1, 2 * P, 2), torch.arange(0, 2 * P - 1, 2)]
        print(f"step {step} loss {loss.item():.4f} valid accuracy {acc:.4f} "
              f"prev-token attention {' '.join(f'{x:.2f}' for x in prev.mean((0, 2)).tolist())} "
              f"cpu {time.process_time() - t0:.0f}s", flush=True)
with torch.no_grad():
    lg, yy = m(vids, vtgt)
    ok = (lg.argmax(-1) == yy).view(len(vids), -1).float()
print("accuracy by query rank", " ".join(f"{x:.2f}" for x in ok.mean(0).tolist()))
