"""results/probe/probe.py IN_B0 OUT_B0 MODE [PAR]: a test-time perturbation of the real series' B0 map
(segment's b0.nii.gz): ramp (x exp(PAR mm^-1 along A-P)), gamma PAR, blur, clip (at PAR x the cord's
level), occ_ant / occ_post / occ_both (beyond the cord mask + PAR voxels set dark). probe.sh runs it."""
import sys, math
import os
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from nifti_tool import read, write, real_series
if sys.argv[3].startswith("occ") or sys.argv[3] == "bright_lat":  # these modes need the DW cord mask
    dwmask = real_series(os.environ.get("SCT_DMRI", os.path.join(HERE, "..", "..", "..", "shared", "data",
                                                                 "sct_dmri")))["mask"]
v = read(sys.argv[1]); mode = sys.argv[3]; par = float(sys.argv[4]) if len(sys.argv) > 4 else 0
nx, ny, nz = v["dim"]; d = v["data"]
out = list(d)
lvl = []
for k in range(nz):
    box = sorted(d[(k * ny + j) * nx + i] for j in range(9, 18) for i in range(42, 58))
    lvl.append(box[len(box) // 2])
for k in range(nz):
    for j in range(ny):
        for i in range(nx):
            o = (k * ny + j) * nx + i
            if mode == "ramp":   # x exp(par * (j - 13) * 0.885 mm): par > 0 brightens anterior (j grows anterior)
                out[o] = d[o] * math.exp(par * (j - 13) * 0.885)
            elif mode == "clip":  # bright CSF clipped to par x the cord's level
                out[o] = min(d[o], par * lvl[k])
            elif mode in ("occ_ant", "occ_post", "occ_both"):  # occ_ant / occ_post: beyond the cord (mask + par voxels) set dark
                col = [jj for jj in range(ny) if dwmask[(k * ny + jj) * nx + i]]
                if col:
                    lo, hi = min(col), max(col)  # j grows anterior
                    if (mode in ("occ_ant", "occ_both") and j > hi + par) or (mode in ("occ_post", "occ_both") and j < lo - par):
                        out[o] = 0.3 * lvl[k]
            elif mode == "occ_lat":  # beside the cord (beyond the mask's row extent + PAR voxels) set dark
                row = [ii for ii in range(nx) if dwmask[(k * ny + j) * nx + ii]]
                if row and (i > max(row) + par or i < min(row) - par):
                    out[o] = 0.3 * lvl[k]
            elif mode == "bright_lat":  # beside the cord set to PAR x the cord's level
                row = [ii for ii in range(nx) if dwmask[(k * ny + j) * nx + ii]]
                if row and (i > max(row) + 1 or i < min(row) - 1):
                    out[o] = max(out[o], par * lvl[k]) if abs(i - (max(row) + min(row)) / 2) < (max(row) - min(row)) / 2 + 6 else out[o]
            elif mode == "flipap":
                out[o] = d[(k * ny + (ny - 1 - j)) * nx + i]
            elif mode == "gamma":
                out[o] = d[o] ** par if d[o] > 0 else 0
            elif mode == "blur":  # 1-2-1 in-plane
                s = w = 0
                for dj in (-1, 0, 1):
                    for di in (-1, 0, 1):
                        jj, ii = j + dj, i + di
                        if 0 <= jj < ny and 0 <= ii < nx:
                            ww = (2 - abs(dj)) * (2 - abs(di)); s += ww * d[(k * ny + jj) * nx + ii]; w += ww
                out[o] = s / w
v["data"] = out
write(sys.argv[2], v)
