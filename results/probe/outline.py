"""results/probe/outline.py SEGDIR OUT.png [K ...]: a picture of `cordseg segment --dwi` on the real sct_dmri
series: per slice K (default every other one) the B0 map, the mean DW signal and the FA map, each with the QC
cord (segment's, recomputed by tests/nifti_tool.py, red) and the labels' outline (green). Anterior is up, the
patient's right on the left (radiological). The README's effect figure comes from this. Standard library only."""
import os
import struct
import sys
import zlib
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from nifti_tool import read, real_series

R = os.environ.get("SCT_DMRI", os.path.join(ROOT, "..", "shared", "data", "sct_dmri"))
seg, out = sys.argv[1], sys.argv[2]
rs = real_series(R)
dwi, mean, mask, b0 = rs["dwi"], rs["mean"], rs["mask"], rs["b0"]
nx, ny, nz = dwi["dim"]
n3 = nx * ny * nz
lab = read(seg + "/labels.nii.gz")["data"]
fa = read(seg + "/fa.nii.gz")["data"]
ks = [int(a) for a in sys.argv[3:]] or list(range(nz - 1, -1, -2))
# a 28 x 26 voxel window around the cord's mean centroid; S screen pixels per voxel
pts = [(v % nx, (v // nx) % ny) for v in range(n3) if mask[v]]
cx, cy = round(sum(p[0] for p in pts) / len(pts)), round(sum(p[1] for p in pts) / len(pts))
x0, x1, y0, y1, S, GAP = cx - 14, cx + 14, cy - 13, cy + 13, 8, 6
x0, y0 = max(0, x0), max(0, y0)
x1, y1 = min(nx, x1), min(ny, y1)
tw, th = (x1 - x0) * S, (y1 - y0) * S
W, H = 3 * tw + 2 * GAP, len(ks) * th + (len(ks) - 1) * GAP
img = [[(0, 0, 0)] * W for _ in range(H)]
# screen x grows toward the patient's left; the affine's row 0 says which voxel direction that is
flip_x = dwi["aff"][0][0] < 0  # x index grows toward the patient's left (RAS x decreasing): no flip needed
flip_y = dwi["aff"][1][1] > 0  # y index grows anterior: anterior up means reversing screen rows


def edge(sel, z, x, y):
    return not (0 <= x < nx and 0 <= y < ny) or not sel((z * ny + y) * nx + x)


def put(ox, oy, val, vmax, z):
    for y in range(y0, y1):
        for x in range(x0, x1):
            v = (z * ny + y) * nx + x
            g = max(0, min(255, int(255 * val[v] / vmax)))
            sx = (x - x0) if flip_x else (x1 - 1 - x)
            sy = (y1 - 1 - y) if flip_y else (y - y0)
            m, lb = mask[v], lab[v] > 0
            # neighbours in screen directions: left/right/up/down
            nb = {"l": (x - 1, y) if flip_x else (x + 1, y), "r": (x + 1, y) if flip_x else (x - 1, y),
                  "u": (x, y + 1) if flip_y else (x, y - 1), "d": (x, y - 1) if flip_y else (x, y + 1)}
            for dy in range(S):
                for dx in range(S):
                    c = (g, g, g)
                    side = "l" if dx == 0 else "r" if dx == S - 1 else "u" if dy == 0 else "d" if dy == S - 1 else None
                    if m and side and edge(lambda q: mask[q], z, *nb[side]):
                        c = (230, 40, 40)
                    side = "l" if dx == 1 else "r" if dx == S - 2 else "u" if dy == 1 else "d" if dy == S - 2 else None
                    if lb and side and edge(lambda q: lab[q] > 0, z, *nb[side]):
                        c = (40, 230, 40)
                    img[oy + sy * S + dy][ox + sx * S + dx] = c


for i, z in enumerate(ks):
    oy = i * (th + GAP)
    cord = sorted(b0[v] for v in range(z * nx * ny, (z + 1) * nx * ny) if mask[v])
    cm = sorted(mean[v] for v in range(z * nx * ny, (z + 1) * nx * ny) if mask[v])
    put(0, oy, b0, 1.8 * cord[len(cord) // 2], z)
    put(tw + GAP, oy, mean, 1.4 * cm[len(cm) // 2], z)
    put(2 * (tw + GAP), oy, fa, 1.0, z)
raw = b"".join(b"\0" + bytes([c for p in row for c in p]) for row in img)


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


with open(out, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
print("outline: %d slices (%s) -> %s (%d x %d)" % (len(ks), " ".join(map(str, ks)), out, W, H))
