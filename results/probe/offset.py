"""results/probe/offset.py SEGDIR: per slice of the real sct_dmri series, the cord mask of the mean DW
signal (as segment's QC: median + 5 x 1.4826 MAD, largest 6-connected component), the centroid of
SEGDIR/labels.nii.gz against it (dy > 0 = labels anterior, voxels), and B0 / DW profiles through the
cord. The README's "Why the ROIs sat anterior" figures (mean dy) come from this. Standard library only."""
import sys
import os
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from nifti_tool import read, real_series
R = os.environ.get("SCT_DMRI", os.path.join(ROOT, "..", "shared", "data", "sct_dmri"))
rs = real_series(R)
dwi, mean, mask, b0 = rs["dwi"], rs["mean"], rs["mask"], rs["b0"]
nx, ny, nz = dwi["dim"]
print("dim", dwi["dim"], "aff", dwi["aff"])
fa = read(sys.argv[1] + "/fa.nii.gz")["data"] if len(sys.argv) > 1 and os.path.exists(sys.argv[1] + "/fa.nii.gz") else None
lab = read(sys.argv[1] + "/labels.nii.gz")["data"] if len(sys.argv) > 1 else None
def cen(sel, z):
    n = sx = sy = 0
    for y in range(ny):
        for x in range(nx):
            v = (z * ny + y) * nx + x
            if sel(v): n += 1; sx += x; sy += y
    return (sx / n, sy / n, n) if n else (float("nan"), float("nan"), 0)
for z in range(nz):
    mx, my, mn = cen(lambda v: mask[v], z)
    line = "z%2d mask c=(%.2f,%.2f) n=%d" % (z, mx, my, mn)
    if fa:
        fx, fy, fn = cen(lambda v: fa[v] > 0.5 and abs((v % nx) - mx) < 8 and abs(((v // nx) % ny) - my) < 8, z)
        line += " | FA>0.5 c=(%.2f,%.2f) n=%d dy(fa-mask)=%+.2f" % (fx, fy, fn, fy - my)
    if lab:
        lx, ly, ln = cen(lambda v: lab[v] > 0, z)
        line += " | lab c=(%.2f,%.2f) n=%d  dy(lab-mask)=%+.2f" % (lx, ly, ln, ly - my)
    # AP profile through mask centre column
    xc = int(round(mx)); yc = int(round(my))
    prof = " ".join("%4.0f" % b0[(z * ny + y) * nx + xc] for y in range(max(0, yc - 7), min(ny, yc + 8)))
    profd = " ".join("%4.0f" % mean[(z * ny + y) * nx + xc] for y in range(max(0, yc - 7), min(ny, yc + 8)))
    mk = "".join("#" if mask[(z * ny + y) * nx + xc] else "." for y in range(max(0, yc - 7), min(ny, yc + 8)))
    lk = "".join(str(int(lab[(z * ny + y) * nx + xc])) if lab else "" for y in range(max(0, yc - 7), min(ny, yc + 8)))
    print(line); print("    b0 ", prof); print("    dw ", profd); print("    mask", mk, "lab", lk)
if lab:  # labelled voxels outside the mask dilated by one voxel in-plane (segment's QC count)
    nout = nlab = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if lab[(z * ny + y) * nx + x] == 0: continue
                nlab += 1
                nout += not any(mask[(z * ny + yy) * nx + xx] for yy in (y - 1, y, y + 1) for xx in (x - 1, x, x + 1)
                                if 0 <= yy < ny and 0 <= xx < nx)
    print("outside %d of %d labelled voxels" % (nout, nlab))
