"""PyTorch reference of the engine's step, for the benchmark's ratios: the same AIM pretraining step (prefix-causal
trunk, identity-attention pretraining head, normalised-pixel loss, backward, global-norm clipping, AdamW) in fp32 eager
mode with TF32 off, plus a 4096^3 fp32 GEMM. Reads one JSON config from argv[1]; prints one JSON line per result.
Eager PyTorch keeps every activation for the backward; when that does not fit the GPU (aim-600M at batch 64 needs
about as much as an 80 GB card holds), the step is measured again with each block checkpointed
(torch.utils.checkpoint: its input kept, the rest recomputed in the backward), which is what the engine does, and
the result says which ("checkpointed": true). "checkpoint": true in the config asks for that mode from the start.

Usage: python3 torch_step.py '{"width":768,"depth":12,"heads":12,"mlpDim":3072,"headWidth":2048,"headDepth":12,
        "headMlpDim":8192,"imageSize":224,"patchSize":14,"batch":32,"steps":5}'
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
# AIM_TORCH_DEVICE=cpu runs it without a GPU (a smoke test of the script; the bench only calls it with CUDA).
dev = os.environ.get("AIM_TORCH_DEVICE", "cuda")


class Block(nn.Module):
    def __init__(self, d, heads, hidden, identity_attention=False):
        super().__init__()
        self.heads = heads
        self.identity = identity_attention
        self.norm_1 = nn.LayerNorm(d, eps=1e-6)
        self.norm_2 = nn.LayerNorm(d, eps=1e-6)
        if not identity_attention:
            self.qkv = nn.Linear(d, 3 * d, bias=False)
            self.proj = nn.Linear(d, d, bias=False)
        self.fc1 = nn.Linear(d, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, d, bias=False)

    def forward(self, x, mask):
        if self.identity:
            x = x + self.norm_1(x)
        else:
            b, k, d = x.shape
            qkv = self.qkv(self.norm_1(x)).reshape(b, k, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            if hasattr(F, "scaled_dot_product_attention"):  # PyTorch >= 2.0: its fused kernel, the stronger baseline
                a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            else:
                s = (qkv[0] @ qkv[1].transpose(-1, -2)) / (d // self.heads) ** 0.5
                a = s.masked_fill(~mask, float("-inf")).softmax(-1) @ qkv[2]
            x = x + self.proj(a.transpose(1, 2).reshape(b, k, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm_2(x))))


class Aim(nn.Module):
    def __init__(self, c):
        super().__init__()
        p = c["patchSize"] ** 2 * 3
        k = (c["imageSize"] // c["patchSize"]) ** 2
        self.k = k
        self.embed = nn.Linear(p, c["width"])
        self.embed_norm = nn.LayerNorm(c["width"], eps=1e-6)
        self.pos = torch.randn(k, c["width"], device=dev) * 0.02
        self.blocks = nn.ModuleList([Block(c["width"], c["heads"], c["mlpDim"]) for _ in range(c["depth"])])
        self.post = nn.LayerNorm(c["width"], eps=1e-6)
        self.proj = nn.Linear(c["width"], c["headWidth"])
        self.head_pos = torch.randn(k, c["headWidth"], device=dev) * 0.02
        self.head = nn.ModuleList([Block(c["headWidth"], 1, c["headMlpDim"], True) for _ in range(c["headDepth"])])
        self.dec_norm = nn.LayerNorm(c["headWidth"], eps=1e-6)
        self.pred = nn.Linear(c["headWidth"], p)
        self.checkpointed = False

    def block(self, blk, x, mask):
        if self.checkpointed:
            return checkpoint(blk, x, mask, use_reentrant=False)
        return blk(x, mask)

    def forward(self, patches, prefix):
        b = patches.shape[0]
        q = torch.arange(self.k, device=dev)
        mask = (q[None, None, :] < prefix[:, None, None]) | (q[None, None, :] <= q[None, :, None])
        mask = mask[:, None]  # [B, 1, K, K]
        x = self.embed_norm(self.embed(patches)) + self.pos
        for blk in self.blocks:
            x = self.block(blk, x, mask)
        x = self.proj(self.post(x)) + self.head_pos
        for blk in self.head:
            x = self.block(blk, x, None)
        pred = self.pred(self.dec_norm(x))
        t = patches[:, 1:]
        t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True, unbiased=True) + 1e-6).sqrt()
        w = (q[None, 1:] >= prefix[:, None]).float()
        per = ((pred[:, :-1] - t) ** 2).mean(-1)
        return (per * w).sum() / w.sum()


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


def main():
    c = json.loads(sys.argv[1])
    torch.manual_seed(0)
    model = Aim(c).to(dev)
    model.checkpointed = bool(c.get("checkpoint", False))
    decay = [p for n, p in model.named_parameters() if p.ndim == 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
    )
    b = c["batch"]
    p = c["patchSize"] ** 2 * 3
    patches = torch.randn(b, model.k, p, device=dev)

    def step(i):
        prefix = torch.randint(1, model.k, (b,), device=dev)
        opt.zero_grad(set_to_none=True)
        loss = model(patches, prefix)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    def warm_up():
        """Two steps; False when eager ran out of GPU memory (the caller retries checkpointed)."""
        try:
            for i in range(2):
                step(i)
            sync()
            return True
        except torch.cuda.OutOfMemoryError:
            if model.checkpointed:
                raise
            return False

    # The retry happens outside the except block, so the failed step's tensors (held by the traceback) are freed.
    eager_peak = None
    if not warm_up():
        eager_peak = torch.cuda.max_memory_allocated() / 2**30
        opt.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        model.checkpointed = True
        warm_up()
    steps = c.get("steps", 5)
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    sync()
    seconds = (time.perf_counter() - t0) / steps
    result = {"kind": "step", "stepMs": seconds * 1e3, "imagesPerSecond": b / seconds, "loss": float(loss),
              "checkpointed": model.checkpointed,
              "peakGiB": torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else None}
    if eager_peak is not None:
        result["eagerOutOfMemoryAtGiB"] = eager_peak
    print(json.dumps(result), flush=True)

    # The GEMM rate needs a GPU free of the step's tensors.
    del model, opt, patches
    if dev == "cuda":
        torch.cuda.empty_cache()
    n = c.get("gemmN", 4096)
    a = torch.randn(n, n, device=dev)
    bm = torch.randn(n, n, device=dev)
    for _ in range(3):
        a @ bm
    sync()
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        a @ bm
    sync()
    print(json.dumps({"kind": "gemm", "n": n, "tflops": 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12}), flush=True)


if __name__ == "__main__":
    main()
