#!/usr/bin/env python3
"""tests/nifti_tool.py: a NIfTI-1 reader/writer in the Python standard library
only (gzip, struct, array), independent of cordseg's C code, for
tests/test_cmd_segment.sh. World coordinates from the sform (else the qform, else
pixdim with x negated, as nibabel does).

  reorient IN OUT AXES    flip voxel axes (e.g. "i", "jk") keeping every voxel's world position
  mirror IN OUT           flip the data along i, affine unchanged (a mirrored patient)
  resample IN OUT MM linear|nearest   in-plane (i, j) resampling to MM pixels about the grid centre
  dice SEG REF [SUBJ EVAL_SLICES_CSV] pooled Dice per ROI; with the csv, compare to evaluate's pooled TP/FP/FN
  side SEG                median world x of every L id below its R id, ventral ids anterior (sform)
  mirrored A B            B == L/R-swapped A flipped along i
  metrics LABELS FA CSV   metrics.csv slice rows == a direct computation from LABELS and FA
  extract LABELS PROBS FA TSV   every FA row of extract_metric.tsv (or metrics.tsv) == a direct computation:
                          bin = mean over the labelled voxels, wa = weighted by the ROI's probability (at most 1),
                          STD() = the SD with those weights over their sum; slices counted from the most inferior
  probs-mean P1 P2 P12    P12 == (P1 + P2) / 2 within 1e-5
  cordqc DWI BVALS LABELS CSV   cord_qc.csv == a direct count: labelled voxels inside the cord of the mean
                          DW signal (median + 5 x 1.4826 MAD, largest 6-connected component, +1 voxel in-plane),
                          cord voxels labelled, the labels' centroid offset
  zero IN OUT / nan IN OUT / thick IN OUT   bad inputs: all zero, one NaN, 5 mm R-L pixels
  set IN OUT V / scale IN OUT F [B] / noorient IN OUT   every voxel V; F x + B; no qform or sform
  axcodes IN              the voxel axes' directions from the affine, e.g. LAS
  atlas LABELS DIR        SCT's warped atlas folder (36 PAM50_atlas_XX maps) whose ROI sums give LABELS back,
                          while the largest single map is another ROI's
  levels LABELS OUT       a level image: each axial slice's labelled voxels at 2 + its rank from the top (C2, C3,
                          ...), one voxel per slice at 20 (L1, a minority)
"""
import array, gzip, math, struct, sys

SWAP = [0, 5, 6, 7, 8, 1, 2, 3, 4]


def read(path):
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    h = raw[:348]
    dim = struct.unpack("<8h", h[40:56])
    dt = struct.unpack("<h", h[70:72])[0]
    pix = struct.unpack("<8f", h[76:108])
    off = int(struct.unpack("<f", h[108:112])[0])
    slope, inter = struct.unpack("<2f", h[112:120])
    qc, sc = struct.unpack("<2h", h[252:256])
    srow = struct.unpack("<12f", h[280:328])
    code = {2: "B", 4: "h", 8: "i", 16: "f", 64: "d", 512: "H"}[dt]
    a = array.array(code)
    a.frombytes(raw[off:off + a.itemsize * dim[1] * dim[2] * dim[3] * max(1, dim[4])])
    data = [float(x) for x in a]
    if slope not in (0.0, 1.0) or inter != 0.0:
        s = slope if slope != 0 else 1.0
        data = [x * s + inter for x in data]
    if sc > 0:
        aff = [list(srow[0:4]), list(srow[4:8]), list(srow[8:12])]
    elif qc > 0:
        raise SystemExit("qform-only files are not needed by the test")
    else:
        aff = [[-pix[1], 0, 0, 0], [0, pix[2], 0, 0], [0, 0, pix[3], 0]]
    nt = dim[4] if dim[0] >= 4 else 1
    return dict(dim=(dim[1], dim[2], dim[3]), nt=nt, pix=list(pix[1:4]), aff=aff, data=data, dt=dt)


def write(path, v, dt=16, oriented=True):
    nx, ny, nz = v["dim"]
    nt = v.get("nt", 1)
    h = bytearray(348)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 4 if nt > 1 else 3, nx, ny, nz, nt, 1, 1, 1)
    struct.pack_into("<h", h, 70, dt)
    struct.pack_into("<h", h, 72, 8 if dt == 2 else 32)
    struct.pack_into("<8f", h, 76, 1.0, v["pix"][0], v["pix"][1], v["pix"][2], 1, 1, 1, 1)
    struct.pack_into("<f", h, 108, 352.0)
    struct.pack_into("<f", h, 112, 1.0)
    h[123] = 2  # xyzt_units mm
    struct.pack_into("<2h", h, 252, 0, 1 if oriented else 0)  # qform 0, sform scanner (or none)
    struct.pack_into("<12f", h, 280, *(v["aff"][0] + v["aff"][1] + v["aff"][2]))
    h[344:348] = b"n+1\0"
    a = array.array("B" if dt == 2 else "f", [int(round(x)) if dt == 2 else x for x in v["data"]])
    with gzip.open(path, "wb") as f:
        f.write(bytes(h) + b"\0\0\0\0" + a.tobytes())


def cord_mask_mean_dw(v, bvals):
    """segment's QC cord, computed independently: the mean of the volumes with b > 50, voxels above its
    median + 5 x 1.4826 MAD, the largest 6-connected 3-D component. Returns (mean, mask) as flat lists."""
    nx, ny, nz = v["dim"]
    n3 = nx * ny * nz
    dws = [t for t in range(v["nt"]) if bvals[t] > 50]
    mean = [sum(v["data"][t * n3 + i] for t in dws) / len(dws) for i in range(n3)]
    srt = sorted(mean)
    med = srt[n3 // 2]
    mad = sorted(abs(x - med) for x in mean)[n3 // 2]
    thr = med + 5.0 * 1.4826 * mad
    comp, best, bsize = [0] * n3, 0, 0
    for s0 in range(n3):
        if comp[s0] or not mean[s0] > thr:
            continue
        cid = s0 + 1
        comp[s0], stack, size = cid, [s0], 0
        while stack:
            i = stack.pop()
            size += 1
            x, y, z = i % nx, (i // nx) % ny, i // (nx * ny)
            for ok, w in ((x > 0, i - 1), (x < nx - 1, i + 1), (y > 0, i - nx), (y < ny - 1, i + nx),
                          (z > 0, i - nx * ny), (z < nz - 1, i + nx * ny)):
                if ok and not comp[w] and mean[w] > thr:
                    comp[w] = cid
                    stack.append(w)
        if size > bsize:
            best, bsize = cid, size
    return mean, [1 if best and c == best else 0 for c in comp]


def real_series(d):
    """the real series in directory d (dmri.nii.gz, bvals.txt, as ../shared/data/sct_dmri): a dict with the
    DWI, its b-values, segment's QC cord (mean DW signal and mask, cord_mask_mean_dw) and b0, the mean of the
    volumes with b <= 50, all flat lists over the DWI's 3-D grid."""
    dwi = read(d + "/dmri.nii.gz")
    bv = [float(x) for x in open(d + "/bvals.txt").read().split()]
    nx, ny, nz = dwi["dim"]
    n3 = nx * ny * nz
    mean, mask = cord_mask_mean_dw(dwi, bv)
    b0s = [t for t in range(dwi["nt"]) if bv[t] <= 50]
    b0 = [sum(dwi["data"][t * n3 + v] for t in b0s) / len(b0s) for v in range(n3)]
    return dict(dwi=dwi, bvals=bv, mean=mean, mask=mask, b0=b0)


def idx(v, i, j, k, t=0):
    nx, ny, nz = v["dim"]
    return ((t * nz + k) * ny + j) * nx + i


def world(v, i, j, k):
    A = v["aff"]
    return [A[r][0] * i + A[r][1] * j + A[r][2] * k + A[r][3] for r in range(3)]


def reorient(v, axes):
    nx, ny, nz = v["dim"]
    n = (nx, ny, nz)
    fl = ["ijk".index(c) for c in axes]
    out = dict(v)
    out["data"] = [0.0] * len(v["data"])
    for t in range(v["nt"]):
        for k in range(nz):
            for j in range(ny):
                for i in range(nx):
                    s = [i, j, k]
                    for a in fl:
                        s[a] = n[a] - 1 - s[a]
                    out["data"][idx(v, i, j, k, t)] = v["data"][idx(v, s[0], s[1], s[2], t)]
    A = [row[:] for row in v["aff"]]
    for a in fl:
        for r in range(3):
            A[r][3] += A[r][a] * (n[a] - 1)
            A[r][a] = -A[r][a]
    out["aff"] = A
    return out


def mirror(v):
    out = reorient(v, "i")
    out["aff"] = v["aff"]
    return out


def resample(v, mm, mode):
    nx, ny, nz = v["dim"]
    mx, my = int(round(nx * v["pix"][0] / mm)), int(round(ny * v["pix"][1] / mm))
    sx, sy = mm / v["pix"][0], mm / v["pix"][1]
    cx, cy, mcx, mcy = (nx - 1) / 2, (ny - 1) / 2, (mx - 1) / 2, (my - 1) / 2
    out = dict(v)
    out["dim"] = (mx, my, nz)
    out["pix"] = [mm, mm, v["pix"][2]]
    out["data"] = [0.0] * (mx * my * nz)
    for k in range(nz):
        for j in range(my):
            y = cy + (j - mcy) * sy
            for i in range(mx):
                x = cx + (i - mcx) * sx
                if mode == "nearest":
                    ii, jj = int(round(x)), int(round(y))
                    val = v["data"][idx(v, ii, jj, k)] if 0 <= ii < nx and 0 <= jj < ny else 0.0
                else:
                    i0, j0 = math.floor(x), math.floor(y)
                    fx, fy, val = x - i0, y - j0, 0.0
                    for dj in (0, 1):
                        for di in (0, 1):
                            ii, jj = i0 + di, j0 + dj
                            if 0 <= ii < nx and 0 <= jj < ny:
                                val += (fx if di else 1 - fx) * (fy if dj else 1 - fy) * v["data"][idx(v, ii, jj, k)]
                out["data"][(k * my + j) * mx + i] = val
    A = [row[:] for row in v["aff"]]
    for r in range(3):
        c0 = [A[r][0] * cx + A[r][1] * cy]
        A[r][0] *= sx
        A[r][1] *= sy
        A[r][3] += c0[0] - (A[r][0] * mcx + A[r][1] * mcy)
    out["aff"] = A
    return out


def dice(seg, ref):
    d = {}
    for c in range(1, 9):
        tp = fp = fn = 0
        for a, b in zip(seg["data"], ref["data"]):
            a, b = int(round(a)), int(round(b))
            tp += a == c and b == c
            fp += a == c and b != c
            fn += a != c and b == c
        d[c] = (2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")
    return d


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "reorient":
        write(args[1], reorient(read(args[0]), args[2]))
    elif cmd == "mirror":
        write(args[1], mirror(read(args[0])))
    elif cmd == "resample":
        write(args[1], resample(read(args[0]), float(args[2]), args[3]))
    elif cmd == "dice":
        d = dice(read(args[0]), read(args[1]))
        print("dice " + " ".join("%d:%.4f" % (c, d[c]) for c in range(1, 9)))
        mean = sum(x for x in d.values() if x == x) / max(1, sum(1 for x in d.values() if x == x))
        print("mean %.4f" % mean)
        if len(args) > 2:
            subj, rows = args[2], {}
            with open(args[3]) as f:
                hdr = f.readline().strip().split(",")
                for line in f:
                    r = dict(zip(hdr, line.strip().split(",")))
                    if r["subject"] != subj:
                        continue
                    t = rows.setdefault(int(r["roi"]), [0, 0, 0])
                    for q, key in enumerate(("tp", "fp", "fn")):
                        t[q] += int(r[key])
            worst = 0.0
            for c, (tp, fp, fn) in rows.items():
                e = (2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")
                if e == e or d[c] == d[c]:
                    worst = max(worst, abs(e - d[c]) if e == e and d[c] == d[c] else 1.0)
            print("max |Dice - evaluate's| %.6f" % worst)
            tol = float(args[4]) if len(args) > 4 else 1e-6
            sys.exit(0 if worst <= tol else 1)
    elif cmd == "side":
        v = read(args[0])
        nx, ny, nz = v["dim"]
        xs = {c: [] for c in range(1, 9)}
        ys = {c: [] for c in range(1, 9)}
        for k in range(nz):
            for j in range(ny):
                for i in range(nx):
                    c = int(round(v["data"][idx(v, i, j, k)]))
                    if c:
                        x, y, _ = world(v, i, j, k)
                        xs[c].append(x)
                        ys[c].append(y)
        med = lambda a: sorted(a)[len(a) // 2]
        # medians: a few stray voxels of a weak model do not move them
        mx = {c: med(xs[c]) for c in xs if len(xs[c]) >= 5}
        my = {c: med(ys[c]) for c in ys if len(ys[c]) >= 5}
        pairs = [c for c in (1, 2, 3, 4) if c in mx and SWAP[c] in mx]
        ok = len(pairs) >= 3 and all(mx[c] < mx[SWAP[c]] for c in pairs)
        ok = ok and all(my[v_] > my[d_] for v_, d_ in ((3, 1), (7, 5)) if v_ in my and d_ in my)
        print("side: median world x " + " ".join("%d:%.2f" % (c, mx[c]) for c in sorted(mx)))
        sys.exit(0 if ok else 1)
    elif cmd == "mirrored":
        a, b = read(args[0]), read(args[1])
        m = mirror(a)
        bad = sum(1 for x, y in zip(m["data"], b["data"]) if SWAP[int(round(x))] != int(round(y)))
        print("mirrored: %d of %d voxels differ" % (bad, len(b["data"])))
        sys.exit(0 if bad == 0 else 1)
    elif cmd == "metrics":
        lab, fa = read(args[0]), read(args[1])
        nx, ny, nz = lab["dim"]
        # the store's slice 0 is the most superior: find k order from the affine's z direction
        kz = lab["aff"][2][2]
        area = lab["pix"][0] * lab["pix"][1]
        worst, n = 0.0, 0
        with open(args[2]) as f:
            hdr = f.readline().strip().split(",")
            for line in f:
                r = dict(zip(hdr, line.strip().split(",")))
                if r["scope"] != "slice":
                    continue
                k, c = int(r["k"]), int(r["roi_id"])
                vals = [fa["data"][idx(fa, i, j, k)] for j in range(ny) for i in range(nx)
                        if int(round(lab["data"][idx(lab, i, j, k)])) == c]
                nv = len(vals)
                if nv != int(r["voxels"]) or abs(nv * area - float(r["area_mm2"])) > 1e-3 * (1 + nv * area):
                    print("metrics: slice k=%d roi %d: %d voxels vs csv %s" % (k, c, nv, r["voxels"]))
                    sys.exit(1)
                if nv:
                    mean = sum(vals) / nv
                    sv = sorted(vals)
                    med = sv[nv // 2] if nv % 2 else 0.5 * (sv[nv // 2 - 1] + sv[nv // 2])
                    sd = math.sqrt(sum((x - mean) ** 2 for x in vals) / (nv - 1)) if nv > 1 else float("nan")
                    for key, want in (("fa_mean", mean), ("fa_median", med), ("fa_sd", sd)):
                        if want == want:
                            worst = max(worst, abs(float(r[key]) - want))
                elif r["empty"] != "1":
                    sys.exit(1)
                n += 1
        print("metrics: %d slice rows, max |FA stat - direct| %.2e (kz %g)" % (n, worst, kz))
        sys.exit(0 if n > 0 and worst < 1e-5 else 1)
    elif cmd == "extract":
        lab, pr, fa = read(args[0]), read(args[1]), read(args[2])
        nx, ny, nz = lab["dim"]
        sets = {"L dorsal column": [1], "L lateral column": [2], "L ventral column": [3], "L gray matter": [4],
                "R dorsal column": [5], "R lateral column": [6], "R ventral column": [7], "R gray matter": [8],
                "white matter": [1, 2, 3, 5, 6, 7], "gray matter": [4, 8], "spinal cord": list(range(1, 9))}
        up = lab["aff"][2][2] > 0  # k toward superior: the I->S index is k

        def ks(group):
            out = []
            for part in group.split(";"):
                a, _, b = part.partition(":")
                out += list(range(int(a), int(b or a) + 1))
            return [k if up else nz - 1 - k for k in out]

        worst, n = 0.0, 0
        with open(args[3]) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            for line in f:
                r = dict(zip(hdr, line.rstrip("\n").split("\t")))
                if r["Metric"] != "FA":
                    continue
                ids, sw, swx, ws = sets[r["Label"]], 0.0, 0.0, []
                for k in ks(r["Slice (I->S)"]):
                    for j in range(ny):
                        for i in range(nx):
                            if r["Method"] == "bin":
                                w = 1.0 if int(round(lab["data"][idx(lab, i, j, k)])) in ids else 0.0
                            else:
                                w = min(1.0, max(0.0, sum(pr["data"][idx(pr, i, j, k, c)] for c in ids)))
                            if w > 0:
                                x = fa["data"][idx(fa, i, j, k)]
                                sw, swx = sw + w, swx + w * x
                                ws.append((w, x))
                if abs(sw - float(r["Size [vox]"])) > 1e-3 * (1 + sw):
                    print("extract: %s %s %s: size %g vs table %s" % (r["Slice (I->S)"], r["Label"], r["Method"], sw,
                                                                      r["Size [vox]"]))
                    sys.exit(1)
                if sw > 0:
                    m = swx / sw
                    sd = math.sqrt(sum(w * (x - m) ** 2 for w, x in ws) / sw)
                    worst = max(worst, abs(float(r["Value"]) - m), abs(float(r["STD()"]) - sd))
                elif r["Value"] != "n/a":
                    sys.exit(1)
                n += 1
        print("extract: %d FA rows, max |value or SD - direct| %.2e" % (n, worst))
        sys.exit(0 if n > 0 and worst < 1e-4 else 1)
    elif cmd == "cordqc":
        dwi, lab = read(args[0]), read(args[2])
        bv = [float(x) for x in open(args[1]).read().split()]
        nx, ny, nz = dwi["dim"]
        _, mask = cord_mask_mean_dw(dwi, bv)
        bsize = sum(mask)
        want, offs = {}, {}
        for k in range(nz):
            n = inside = cov = 0
            li = lj = mi = mj = nm = 0
            for j in range(ny):
                for i in range(nx):
                    labelled = int(round(lab["data"][idx(lab, i, j, k)])) != 0
                    if mask[(k * ny + j) * nx + i]:
                        nm, mi, mj, cov = nm + 1, mi + i, mj + j, cov + labelled
                    if not labelled:
                        continue
                    li, lj = li + i, lj + j
                    n += 1
                    inside += any(mask[(k * ny + jj) * nx + ii] for jj in (j - 1, j, j + 1) for ii in (i - 1, i, i + 1)
                                  if 0 <= ii < nx and 0 <= jj < ny)
            want[k] = (n, inside, sum(mask[k * nx * ny:(k + 1) * nx * ny]), cov)
            if n and nm:  # labels' centroid - cord's, in world mm (RAS+): anterior = +y, the patient's left = -x
                d = [dwi["aff"][r][0] * (li / n - mi / nm) + dwi["aff"][r][1] * (lj / n - mj / nm) for r in range(3)]
                offs[k] = (d[1], -d[0])
        rows = 0
        with open(args[3]) as f:
            hdr = f.readline().strip().split(",")
            for line in f:
                r = dict(zip(hdr, line.strip().split(",")))
                k = int(r["k"])
                got = (int(r["labelled_voxels"]), int(r["inside_voxels"]), int(r["cord_mask_voxels"]),
                       int(r["covered_voxels"]))
                if got != want[k]:
                    print("cordqc: slice k=%d: csv (labelled, inside, cord, covered) %s, direct %s" % (k, got, want[k]))
                    sys.exit(1)
                # the centroid offsets: the csv measures along the voxel axes, this along world y and -x, so an
                # oblique slice (sct_dmri: ~9 degrees) differs by a few percent
                if (k in offs) != (r["offset_ant_mm"] != ""):
                    print("cordqc: slice k=%d: offset given %s, direct %s" % (k, r["offset_ant_mm"], offs.get(k)))
                    sys.exit(1)
                if k in offs:
                    ga, gl = float(r["offset_ant_mm"]), float(r["offset_left_mm"])
                    wa, wl = offs[k]
                    if abs(ga - wa) > 0.03 * abs(wa) + 0.05 or abs(gl - wl) > 0.03 * abs(wl) + 0.05:
                        print("cordqc: slice k=%d: offset (ant, left) csv (%.3f, %.3f), direct (%.3f, %.3f)" %
                              (k, ga, gl, wa, wl))
                        sys.exit(1)
                rows += 1
        tot = sum(w[0] for w in want.values())
        tin = sum(w[1] for w in want.values())
        tcov = sum(w[3] for w in want.values())
        print("cordqc: %d slices agree; %d of %d labelled voxels inside; cord mask %d voxels, %d labelled; labels' "
              "centroid offsets (ant, left) mm: %s" % (rows, tin, tot, bsize, tcov,
                                              " ".join("(%.2f, %.2f)" % offs[k] for k in sorted(offs))))
        sys.exit(0 if rows == nz and bsize > 0 else 1)
    elif cmd == "probs-mean":
        a, b, c = read(args[0]), read(args[1]), read(args[2])
        worst = max(abs(0.5 * (x + y) - z) for x, y, z in zip(a["data"], b["data"], c["data"]))
        print("probs-mean: max |(p1 + p2)/2 - p12| %.2e" % worst)
        sys.exit(0 if worst < 1e-5 else 1)
    elif cmd == "set":
        v = read(args[0])
        v["data"] = [float(args[2])] * len(v["data"])
        write(args[1], v)
    elif cmd == "scale":
        v = read(args[0])
        off = float(args[3]) if len(args) > 3 else 0.0
        v["data"] = [x * float(args[2]) + off for x in v["data"]]
        write(args[1], v)
    elif cmd == "axcodes":
        a = read(args[0])["aff"]
        out = ""
        for c in range(3):
            w = max(range(3), key=lambda q: abs(a[q][c]))
            out += ("RAS" if a[w][c] > 0 else "LPI")[w]
        print(out)
    elif cmd == "levels":
        # a level image like SCT's *_labeled: the labelled voxels of each axial slice get level 2 + its rank from
        # the most superior slice (C2, C3, ...), except one voxel per slice at 20 (L1): the slice's mode is its level
        v = read(args[0])
        nx, ny, nz = v["dim"]
        c = max(range(3), key=lambda q: abs(v["aff"][2][q]))  # the voxel axis along S/I
        n = v["dim"][c]
        out = [0.0] * len(v["data"])
        odd = set()
        for k in range(nz):
            for j in range(ny):
                for i in range(nx):
                    q = idx(v, i, j, k)
                    if v["data"][q] <= 0:
                        continue
                    s = (i, j, k)[c]
                    rank = n - 1 - s if v["aff"][2][c] > 0 else s
                    out[q] = 20.0 if s not in odd else 2.0 + rank
                    odd.add(s)
        v["data"] = out
        write(args[1], v)
    elif cmd == "atlas":
        # SCT's warped atlas folder from an ROI label volume: PAM50_atlas_00..35.nii.gz, partial-volume maps. A voxel of
        # ROI r holds 0.3 in each of two tracts of r and 0.35 in one tract of ROI r % 8 + 1 (sum 0.95): the largest
        # single map is the other ROI's, the largest ROI sum is r's
        v = read(args[0])
        groups = [(0, 3), (4, 13), (14, 29), (30, 35)]
        def tracts(r):  # ROI 1..8 -> its tract ids (even = left)
            lo, hi = groups[(r - 1) % 4]
            return [t for t in range(lo, hi + 1) if t % 2 == (0 if r <= 4 else 1)]
        maps = [[0.0] * len(v["data"]) for _ in range(36)]
        for q, x in enumerate(v["data"]):
            r = int(round(x))
            if r < 1:
                continue
            a, b = tracts(r)[:2]
            maps[a][q] += 0.3
            maps[b][q] += 0.3
            maps[tracts(r % 8 + 1)[0]][q] += 0.35
        import os
        os.makedirs(args[1], exist_ok=True)
        for t in range(36):
            v["data"] = maps[t]
            write("%s/PAM50_atlas_%02d.nii.gz" % (args[1], t), v)
    elif cmd == "noorient":
        write(args[1], read(args[0]), oriented=False)
    elif cmd in ("zero", "nan", "thick"):
        v = read(args[0])
        if cmd == "zero":
            v["data"] = [0.0] * len(v["data"])
        elif cmd == "nan":
            v["data"][len(v["data"]) // 2] = float("nan")
        else:
            v["aff"] = [[-5.0, 0, 0, 0], [0, -v["pix"][1], 0, 0], [0, 0, -v["pix"][1], 0]]
            v["pix"] = [5.0, v["pix"][1], v["pix"][1]]
        write(args[1], v)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
