# Reference point for bench/loader.bench.ts: Python + Pillow running the same per-image work on one core (decode,
# torchvision RandomResizedCrop(224, scale=(0.4, 1)) bicubic, flip p=0.5, ImageNet normalise, MAE patchify).
# Usage: python3 bench/pillow_reference.py DIR_OF_JPEGS   (needs Pillow, numpy, torchvision; no network)
import glob
import sys
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

torch.set_num_threads(1)
files = sorted(glob.glob(f"{sys.argv[1]}/*.jpg"))
blobs = [open(f, "rb").read() for f in files]
crop = transforms.RandomResizedCrop(224, scale=(0.4, 1.0), interpolation=transforms.InterpolationMode.BICUBIC)
flip = transforms.RandomHorizontalFlip()
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def work(blob):
    import io

    img = Image.open(io.BytesIO(blob)).convert("RGB")
    x = np.asarray(flip(crop(img)), dtype=np.float32) / 255.0  # [H, W, 3]
    x = (x - mean) / std
    p = 14
    return x.reshape(16, p, 16, p, 3).transpose(0, 2, 1, 3, 4).reshape(256, p * p * 3)  # [K, p*p*3]


def resize_only(blob):
    import io

    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB").resize((224, 224), Image.BICUBIC))


for name, fn in [("Pillow decode + resize 224 (bicubic)", resize_only), ("Pillow full train transform", work)]:
    for b in blobs[:20]:
        fn(b)
    t = time.perf_counter()
    n = 0
    for _ in range(2):
        for b in blobs:
            fn(b)
            n += 1
    print(f"{name:60s} {n / (time.perf_counter() - t):.1f} images/s (1 thread)")
