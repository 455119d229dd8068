"""torchvision's own transforms, fed the data loader's random draws, for test/torchvision-parity.test.ts.

Usage: python3 torchvision_reference.py <spec.json> <out.bin>. spec = {"command": ..., ...}; the answer is JSON
(boxes, plans, cmyk) or raw float32 (pixels) in out.bin.

The random source is replaced below torchvision, never torchvision itself: torch.Tensor.uniform_, torch.rand,
torch.randint and torch.randperm return the draws the TypeScript side recorded, in order, and the test fails when a
case leaves draws unused or asks for more. uniform_ turns a uniform u in [0, 1) into a float32 the way torch's CPU
kernel does (u * float32(to - from) + from in double, rounded to float32).
"""
import json
import sys

import numpy as np
import torch
from PIL import Image, ImageOps
import torchvision.transforms as T
import torchvision.transforms.functional as F


class Draws:
    def __init__(self):
        self.items = []

    def load(self, items):
        self.items = list(items)

    def take(self, kind):
        if not self.items:
            raise RuntimeError(f"torchvision asked for a '{kind}' draw but none is left")
        k, v = self.items.pop(0)
        if k != kind:
            raise RuntimeError(f"torchvision asked for a '{kind}' draw, the next recorded one is '{k}'")
        return v

    def done(self):
        if self.items:
            raise RuntimeError(f"{len(self.items)} recorded draws left unused: {self.items[:4]}")


draws = Draws()


def uniform_(self, a=0.0, b=1.0, generator=None):
    u = draws.take('u')
    lo = np.float32(float(a))
    width = np.float32(np.float32(float(b)) - lo)
    self.fill_(float(np.float32(u * float(width) + float(lo))))
    return self


def rand(*size, **kwargs):
    return torch.tensor([np.float32(draws.take('u'))], dtype=torch.float32).reshape(*size) if size else torch.tensor(np.float32(draws.take('u')))


def randint(low, high=None, size=None, **kwargs):
    if high is None:
        low, high = 0, low
    v = low + draws.take('i')
    if not (low <= v < high):
        raise RuntimeError(f'randint draw {v} outside [{low}, {high})')
    return torch.tensor([v]).reshape(size)


def randperm(n, **kwargs):
    p = draws.take('perm')
    if sorted(p) != list(range(n)):
        raise RuntimeError(f'randperm draw {p} is not a permutation of {n}')
    return torch.tensor(p)


torch.Tensor.uniform_ = uniform_
torch.rand = rand
torch.randint = randint
torch.randperm = randperm

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def boxes(spec):
    out = []
    for c in spec['cases']:
        draws.load(c['draws'])
        img = torch.empty((1, c['h'], c['w']), dtype=torch.uint8)
        i, j, h, w = T.RandomResizedCrop.get_params(img, c['scale'], c['ratio'])
        draws.done()
        out.append([j, i, w, h])
    log_ratio = torch.log(torch.tensor(spec['cases'][0]['ratio'])).tolist() if spec['cases'] else []
    return {'boxes': out, 'logRatio': log_ratio}


def eval_plans(spec):
    """T.Resize(short) then T.CenterCrop(size) on PIL images of each size; resize and crop are recorded, not run."""
    calls = []
    real_resize, real_crop = Image.Image.resize, Image.Image.crop

    def resize(self, size, resample=None, *args, **kwargs):
        calls.append(('resize', list(size)))
        return Image.new(self.mode, tuple(size))

    def crop(self, box=None):
        calls.append(('crop', list(box)))
        return real_crop(self, box)

    Image.Image.resize, Image.Image.crop = resize, crop
    try:
        t = T.Compose([T.Resize(spec['short'], interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(spec['size'])])
        out = []
        for w, h in spec['sizes']:
            calls.clear()
            res = t(Image.new('L', (w, h)))
            rw, rh = next((s for k, s in calls if k == 'resize'), [w, h])
            box = next((b for k, b in calls if k == 'crop'), [0, 0, rw, rh])
            assert res.size == (spec['size'], spec['size']), res.size
            out.append([rw, rh, box[0], box[1]])
        return {'plans': out}
    finally:
        Image.Image.resize, Image.Image.crop = real_resize, real_crop


def load(path, exif, high_byte=False):
    """torchvision's ImageFolder loader (open, convert('RGB')); with exif, ImageOps.exif_transpose first; with
    high_byte (16-bit gray PNGs, mode 'I'), the high byte of each value instead of convert's clipping at 255."""
    with open(path, 'rb') as f:
        img = Image.open(f)
        if exif:
            img = ImageOps.exif_transpose(img)
        if high_byte:
            assert img.mode in ('I', 'I;16'), img.mode
            img = Image.fromarray((np.asarray(img).astype(np.int64) >> 8).astype(np.uint8), 'L')
        return img.convert('RGB')


def modes(spec):
    """PIL's mode, size and EXIF orientation of each file: what kind of input torchvision sees."""
    out = []
    for path in spec['paths']:
        with Image.open(path) as img:
            out.append([img.mode, list(img.size), img.getexif().get(0x0112, 1), 'icc_profile' in img.info])
    return {'modes': out}


def pixels(spec):
    S, P = spec['size'], spec['patch']
    G = S // P
    out = []
    for c in spec['cases']:
        if c['mode'] == 'train':
            steps = [
                T.RandomResizedCrop(S, scale=tuple(c['scale']), ratio=tuple(c['ratio']), interpolation=T.InterpolationMode.BICUBIC),
                T.RandomHorizontalFlip(c['flipP']),
                T.ToTensor(),
            ]
            if c.get('jitter'):
                j = c['jitter']
                # ColorJitter on the float tensor (after ToTensor): the tensor implementation the loader follows.
                steps.append(T.RandomApply([T.ColorJitter(j['brightness'], j['contrast'], j['saturation'], j['hue'])], p=j['p']))
            steps.append(T.Normalize(MEAN, STD))
        else:
            steps = [T.Resize(spec['short'], interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(S), T.ToTensor(), T.Normalize(MEAN, STD)]
        draws.load(c.get('draws', []))
        x = T.Compose(steps)(load(c['path'], c['exif'], c.get('highByte', False)))
        draws.done()
        x = x.permute(1, 2, 0).contiguous().numpy().astype(np.float32)  # HWC
        out.append(x.reshape(G, P, G, P, 3).transpose(0, 2, 1, 3, 4).reshape(G * G, P * P * 3).tobytes())
    return b''.join(out)


def cmyk_table(spec):
    """Pillow's convert('RGB') of CMYK (C, C, C, K) for every C, K: 65536 R values, row K-major."""
    c = np.tile(np.arange(256, dtype=np.uint8), 256)
    k = np.arange(256, dtype=np.uint8).repeat(256)
    arr = np.stack([c, c, c, k], -1).reshape(256, 256, 4)
    return np.asarray(Image.fromarray(arr, 'CMYK').convert('RGB'))[..., 0].astype(np.uint8).tobytes()


def main():
    spec = json.load(open(sys.argv[1]))
    result = {'boxes': boxes, 'eval_plans': eval_plans, 'pixels': pixels, 'cmyk_table': cmyk_table, 'modes': modes}[spec['command']](spec)
    with open(sys.argv[2], 'wb') as f:
        f.write(result if isinstance(result, bytes) else json.dumps(result).encode())


if __name__ == '__main__':
    main()
