#!/usr/bin/env python3
"""tests/gpu/torch_peer_gpu.py: the PyTorch peer of `gpu_bench` on the same GPU:
the very modules of tests/torch_ref.py (the reference cordseg matches tensor
by tensor), trained with the same loss (focal + Dice, tests/torch_ref.py's
hybrid_loss) and Adam, batch 16, on random inputs, in three forms:
  eager-fp32   fp32 (TF32 allowed, as cordseg's fp32), NCHW
  eager-amp    torch.autocast bf16, channels_last (PyTorch's usual fast path)
  compile-amp  torch.compile of the eager-amp step
One JSON line per (model, size, form); also the measured bf16 and TF32 matmul
peaks (8192^3) the summary divides by. --device cpu is the CPU stand-in the
device check's rehearsal runs (tests/gpu/device-check.sh --rehearse): same
code, no peaks, small sizes.
usage: torch_peer_gpu.py [--models vgg16,resnet50] [--sizes 128,256] [--batch 16]
                         [--steps 20] [--forms eager-fp32,eager-amp,compile-amp]
                         [--device cuda|cpu] [--width-div 1]"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_ref  # noqa: E402  (tests/torch_ref.py: the reference modules)


def matmul_peak(dtype):
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    b = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def bench(model_name, size, batch, steps, form, dev="cuda", width_div=1):
    cls = torch_ref.VGG16UNet if model_name == "vgg16" else torch_ref.ResNet50UNet
    model = cls(in_channels=1, num_classes=9, width_div=width_div).to(dev).train()
    amp = form != "eager-fp32"
    fmt = torch.channels_last if amp else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 1, size, size, device=dev).to(memory_format=fmt)
    y = torch.randint(0, 9, (batch, size, size), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
            z = model(x)
        loss = torch_ref.hybrid_loss(z.float(), y)
        loss.backward()
        opt.step()
        return loss

    fn = torch.compile(step) if form == "compile-amp" else step
    t0 = time.perf_counter()
    for _ in range(3):
        fn()
    sync(dev)
    warm = time.perf_counter() - t0
    ts = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        sync(dev)
        ts.append(time.perf_counter() - t)
    return batch / statistics.median(ts), warm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="vgg16,resnet50")
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--forms", default="eager-fp32,eager-amp,compile-amp")
    ap.add_argument("--compile-sizes", default="128", help="sizes torch.compile runs at (each compile takes ~1 min)")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--width-div", type=int, default=1)
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_peer_gpu: no CUDA device visible to PyTorch", file=sys.stderr)
        return 77
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(json.dumps({"impl": "peak", "bf16_tflops": round(matmul_peak(torch.bfloat16), 1),
                          "tf32_tflops": round(matmul_peak(torch.float32), 1), "gpu": torch.cuda.get_device_name(),
                          "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}), flush=True)
    else:
        print(json.dumps({"impl": "peak", "bf16_tflops": 0, "tf32_tflops": 0, "gpu": "CPU stand-in (rehearsal)",
                          "torch": torch.__version__}), flush=True)
    for m in a.models.split(","):
        for s in (int(v) for v in a.sizes.split(",")):
            for f in a.forms.split(","):
                if f == "compile-amp" and str(s) not in a.compile_sizes.split(","):
                    continue
                try:
                    ips, warm = bench(m, s, a.batch, a.steps, f, a.device, a.width_div)
                    print(json.dumps({"impl": "pytorch-" + f, "model": m, "size": s, "batch": a.batch,
                                      "train_img_s": round(ips, 2), "warmup_s": round(warm, 1)}), flush=True)
                except Exception as e:  # a failed form is reported, the others still run
                    print(json.dumps({"impl": "pytorch-" + f, "model": m, "size": s, "error": str(e)[:200]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
