# Reference point for bench/loader.bench.ts: Python + Pillow + torchvision doing the same per-image work on one core
# (decode, RandomResizedCrop(224, scale=(0.4, 1)) bicubic, flip p=0.5, ToTensor + ImageNet Normalize, MAE patchify),
# on the same photos, and then over the same WebDataset shards read with tarfile and stacked into batches of 64 (what
# webdataset does for a loader worker). Prints one line per measurement: "<label>: <images/s>".
# Usage: python3 bench/pillow_reference.py SHARD_LIST   (needs Pillow, NumPy, torch, torchvision; no network)
import io
import sys
import tarfile
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

torch.set_num_threads(1)
shards = open(sys.argv[1]).read().split()
transform = transforms.Compose(
    [
        transforms.RandomResizedCrop(224, scale=(0.4, 1.0), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ]
)


def patchify(x, p=14):  # [3, H, W] -> [K, p*p*3], MAE layout
    g = x.shape[1] // p
    return x.reshape(3, g, p, g, p).permute(1, 3, 2, 4, 0).reshape(g * g, p * p * 3)


def work(blob):
    return patchify(transform(Image.open(io.BytesIO(blob)).convert("RGB")))


def resize_only(blob):
    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB").resize((224, 224), Image.BICUBIC))


def jpegs():
    for shard in shards:
        with tarfile.open(shard, mode="r|") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".jpg"):
                    yield member.name.rsplit(".", 1)[0], tar.extractfile(member).read()


blobs = [b for _, b in jpegs()]


def rate(label, fn, passes=2):
    for b in blobs[:20]:
        fn(b)
    t = time.perf_counter()
    for _ in range(passes):
        for b in blobs:
            fn(b)
    print(f"{label}: {passes * len(blobs) / (time.perf_counter() - t):.1f}", flush=True)


rate("Pillow decode + resize 224 (bicubic)", resize_only)
rate("Pillow + torchvision train transform", work)

# The whole loader's work in one Python thread: read the tars, group by key, transform, stack batches of 64.
t = time.perf_counter()
n = 0
for _ in range(2):
    batch = []
    for _, blob in jpegs():
        batch.append(work(blob))
        if len(batch) == 64:
            torch.stack(batch)
            n += len(batch)
            batch = []
    if batch:  # the last, partial batch of the pass
        torch.stack(batch)
        n += len(batch)
print(f"tarfile + Pillow + torchvision, batches of 64: {n / (time.perf_counter() - t):.1f}", flush=True)
