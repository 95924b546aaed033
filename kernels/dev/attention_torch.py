"""attention_torch.py — the peers of kernels/dev/attention.cu on the same card in the same call:
PyTorch SDPA with each backend it offers (flash, cuDNN fused attention, memory-efficient, and
the default choice), on the anchors' workload: batch 1, 8 heads x 64, bf16, causal.
Timing as the CUDA harness: median of 20 event-timed calls after 3 warm-ups, L2 flushed
(64 MiB) before each call. A measuring tool only (Python is never part of longscan).
Usage: python3 kernels/dev/attention_torch.py [L ...]   (default 4096 16384 65536)
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def bench(fn, reps=20, warm=3):
    flush = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
    times = []
    for r in range(warm + reps):
        flush.zero_()
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        if r >= warm:
            times.append(start.elapsed_time(stop))
    times.sort()
    return (times[reps // 2 - 1] + times[reps // 2]) / 2


def main():
    lengths = [int(x) for x in sys.argv[1:]] or [4096, 16384, 65536]
    print(f"# {torch.cuda.get_device_name()} torch {torch.__version__} "
          f"cudnn {torch.backends.cudnn.version()}")
    backends = [("flash", [SDPBackend.FLASH_ATTENTION]), ("cudnn", [SDPBackend.CUDNN_ATTENTION]),
                ("efficient", [SDPBackend.EFFICIENT_ATTENTION]), ("default", None)]
    print(f"{'backend':10} {'L':>7} {'fwd ms':>9} {'f+b ms':>9}")
    for L in lengths:
        g = torch.Generator(device="cuda").manual_seed(L)
        q, k, v = (torch.randn(1, 8, L, 64, device="cuda", dtype=torch.bfloat16, generator=g)
                   .requires_grad_() for _ in range(3))
        dout = torch.randn(1, 8, L, 64, device="cuda", dtype=torch.bfloat16, generator=g)
        for name, which in backends:
            def fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=True)

            def fwd_bwd():
                F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(dout)

            try:
                if which is None:
                    t_f, t_fb = bench(fwd), bench(fwd_bwd)
                else:
                    with sdpa_kernel(which):
                        t_f, t_fb = bench(fwd), bench(fwd_bwd)
                print(f"{name:10} {L:7d} {t_f:9.3f} {t_fb:9.3f}", flush=True)
            except Exception as e:  # a backend that refuses the shape says so
                print(f"{name:10} {L:7d} unavailable: {str(e).splitlines()[0][:100]}", flush=True)


if __name__ == "__main__":
    main()
