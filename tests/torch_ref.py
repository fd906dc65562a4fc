#!/usr/bin/python3
"""tests/torch_ref.py: PyTorch reference for the whole-model correctness test of
the C UNet trainer (core/unet.h + core/loss.h).

Usage (Debian's interpreter, python3-torch 1.13 lives there, not in pyenv):
    /usr/bin/python3 tests/torch_ref.py --out DIR
writes DIR/ref_<backbone>_<loss>.bin for backbone in {vgg16, resnet50} and loss
in {hybrid, hdl, ce} (6 files) and exits 0. Exits 77 (ctest SKIP) when torch
cannot be imported.

The models mirror shared/peers/torch_unet.py module by module (same names, same
registration order, so named_parameters() order = the C flat layout), with a
width_div that divides every channel width (width_div=1: the paper's widths,
checked against model.md's parameter counts on every run). Everything is
computed in float64 from float32-representable initial values and inputs; the
file stores float32.

Cases (case index c = 0..5 in the order below; torch.manual_seed(1234 + c)):
    vgg16/hybrid (Cin=2), vgg16/hdl (Cin=1), vgg16/ce (Cin=1),
    resnet50/hybrid (Cin=2), resnet50/hdl (Cin=1), resnet50/ce (Cin=1)
    N=2, K=9, width_div=4, H=W=32 for vgg16 and H=W=64 for resnet50, model in
    train() mode throughout. (ResNet at 32x32 would put layer4 at 1x1: its BN
    then normalises 2 samples per channel, the output is ~ +-gamma whatever
    the input, the true input-gradient ~ 0, and a float32 implementation's
    layer4 grads are pure roundoff (torch float32 vs this float64 reference:
    O(1) relative errors). At 64x64 layer4 is 2x2, 8 samples per channel.)
Init: PyTorch default conv weight/bias init, then BN weight U(0.5,1.5) and BN
bias U(-0.2,0.2) (BN running_mean 0, running_var 1). x ~ N(0,1). Labels: a
Voronoi map of random seed points (each class one coherent blob); image 1 has
no class 5 at all (empty-mask paths of Dice and HDL).
Reference steps: (a) one train-mode forward + loss + backward from the initial
state; (b) from the same initial state again, 10 steps of torch.optim.Adam
(lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0), step 0 on the batch
of (a) and step s >= 1 on a batch of its own (x ~ N(0,1), new Voronoi labels),
recording the loss of each forward before its update (adam_losses[0] == loss).
A new batch per step lets a graph replay that trained on stale inputs show.
BatchNorm (train): batch statistics with the biased variance for normalising;
running_var is updated with the UNBIASED variance (n/(n-1)), momentum 0.1:
running = 0.9 * running + 0.1 * batch_stat.

Losses (logits z [N][K][H][W], labels y):
    hybrid = Focal + Dice. Focal: mean over all N*H*W pixels of
             -0.5 * (1 - pt)^2 * logpt, logpt = log_softmax(z)[y].
             Dice: p = softmax(z), t = one-hot(y); per class c, sums over the
             whole batch and all pixels: dice_c = (2 sum(p t) + 1e-5) /
             (sum p + sum t + 1e-5); loss = 1 - mean over all 9 classes.
    ce     = F.cross_entropy(z, y), mean over pixels.
    hdl    = (1/N) sum_n sum_i sqrt(sum_p (sigmoid(z_ni) - G_ni)^2 + 1e-6),
             G_ni(p) = exp(-D^2 / (2 sigma^2)), D = exact Euclidean distance
             from p to the nearest pixel of class i in image n (0 inside, by
             brute force over all pixel pairs), G_ni = 0 everywhere when class
             i is absent from image n. sigma = 1.0.

Binary file format (little-endian, no padding between fields):
    int32   header[16]: [0] magic 20261124, [1] version 2,
                        [2] backbone (0 vgg16, 1 resnet50),
                        [3] loss (0 hybrid, 1 hdl, 2 ce),
                        [4] N, [5] Cin, [6] H, [7] W, [8] K, [9] width_div,
                        [10] P = total parameter elements,
                        [11] B = total buffer elements,
                        [12] T = number of parameter tensors,
                        [13] adam_steps (10), [14] 0, [15] 0
    float32 hdl_sigma, float32 adam_lr
    T x { int32 ndim; int32 shape[4] (unused dims 0); char name[64] (NUL padded) }
            in named_parameters() order; the data below packs the tensors
            contiguously in this order (row-major, conv weights OIHW)
    float32 params[P]            initial parameters
    float32 buffers_initial[B]   for each BN layer in named_buffers() order:
                                 running_mean[C] then running_var[C]
                                 (num_batches_tracked skipped)
    float32 x[N*Cin*H*W]
    uint8   labels[N*H*W]
    float32 logits[N*K*H*W]      of the first train-mode forward
    float32 loss
    float32 grads[P]             d loss / d params, same order as params
    float32 buffers_after[B]     BN running stats after that one forward
    float32 adam_losses[adam_steps]
    float32 adam_x[adam_steps - 1][N*Cin*H*W]   the batches of Adam steps 1..
    uint8   adam_labels[adam_steps - 1][N*H*W]
"""
import argparse
import os
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"torch_ref.py: cannot import torch ({e}); python3-torch is missing. "
          "Fix: apt-get install python3-torch (and run with /usr/bin/python3)", file=sys.stderr)
    sys.exit(77)

MAGIC = 20261124
VERSION = 2
BACKBONES = ["vgg16", "resnet50"]
LOSSES = ["hybrid", "hdl", "ce"]
K = 9
SHAPES = {"vgg16": (2, 32, 32), "resnet50": (2, 64, 64)}  # N, H, W
WIDTH_DIV = 4
ADAM_STEPS = 10
ADAM_LR = 1e-3
HDL_SIGMA = 1.0
HDL_EPS = 1e-6
FOCAL_ALPHA, FOCAL_GAMMA, DICE_SMOOTH = 0.5, 2.0, 1e-5
MISSING_CLASS = 5  # absent from image 1


# ----------------------------------------------------------------------------
# Models (shared/peers/torch_unet.py with every width divided by width_div)
# ----------------------------------------------------------------------------
class UpBlock(nn.Module):
    """bilinear x2 (align_corners=True) of the deep feature, concat [skip, up],
    then two 3x3 conv + ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, skip, deep):
        up = F.interpolate(deep, scale_factor=2, mode="bilinear", align_corners=True)
        x = torch.cat([skip, up], 1)
        x = F.relu(self.conv1(x), inplace=True)
        return F.relu(self.conv2(x), inplace=True)


def vgg16_features(cin, wd):
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v // wd, 3, padding=1), nn.ReLU(inplace=True)]
            cin = v // wd
    return nn.Sequential(*layers)


def add_decoder(model, enc, wd):
    """Registers up4..up1 on model (in that order, as the reference does) for
    encoder taps enc[0..4]; block in = skip + deep. Returns the out widths."""
    outf = [c // wd for c in (64, 128, 256, 512)]
    inf = [enc[0] + outf[1], enc[1] + outf[2], enc[2] + outf[3], enc[3] + enc[4]]
    model.up4 = UpBlock(inf[3], outf[3])
    model.up3 = UpBlock(inf[2], outf[2])
    model.up2 = UpBlock(inf[1], outf[1])
    model.up1 = UpBlock(inf[0], outf[0])
    return outf


class VGG16UNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=9, width_div=1):
        super().__init__()
        wd = width_div
        self.features = vgg16_features(in_channels, wd)
        outf = add_decoder(self, [c // wd for c in (64, 128, 256, 512, 512)], wd)
        self.final = nn.Conv2d(outf[0], num_classes, 1)

    def forward(self, x):
        f = self.features
        f1 = f[:4](x)        # 64  @ H
        f2 = f[4:9](f1)      # 128 @ H/2
        f3 = f[9:16](f2)     # 256 @ H/4
        f4 = f[16:23](f3)    # 512 @ H/8
        f5 = f[23:-1](f4)    # 512 @ H/16 (last maxpool unused)
        u4 = self.up4(f4, f5)
        u3 = self.up3(f3, u4)
        u2 = self.up2(f2, u3)
        u1 = self.up1(f1, u2)
        return self.final(u1)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        cout = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        o = F.relu(self.bn1(self.conv1(x)), inplace=True)
        o = F.relu(self.bn2(self.conv2(o)), inplace=True)
        o = self.bn3(self.conv3(o))
        return F.relu(o + idt, inplace=True)


class ResNet50Encoder(nn.Module):
    def __init__(self, cin, wd):
        super().__init__()
        stem = 64 // wd
        self.conv1 = nn.Conv2d(cin, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        c = stem
        stages = []
        for planes, n, s in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            planes //= wd
            blocks = []
            for i in range(n):
                blocks.append(Bottleneck(c, planes, s if i == 0 else 1))
                c = planes * 4
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x):
        f1 = F.relu(self.bn1(self.conv1(x)), inplace=True)  # 64   @ H/2
        f2 = self.layer1(self.maxpool(f1))                  # 256  @ H/4
        f3 = self.layer2(f2)                                # 512  @ H/8
        f4 = self.layer3(f3)                                # 1024 @ H/16
        f5 = self.layer4(f4)                                # 2048 @ H/32
        return f1, f2, f3, f4, f5


class ResNet50UNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=9, width_div=1):
        super().__init__()
        wd = width_div
        self.enc = ResNet50Encoder(in_channels, wd)
        outf = add_decoder(self, [c // wd for c in (64, 256, 512, 1024, 2048)], wd)
        self.up_conv1 = nn.Conv2d(outf[0], outf[0], 3, padding=1)
        self.up_conv2 = nn.Conv2d(outf[0], outf[0], 3, padding=1)
        self.final = nn.Conv2d(outf[0], num_classes, 1)

    def forward(self, x):
        f1, f2, f3, f4, f5 = self.enc(x)
        u = self.up4(f4, f5)
        u = self.up3(f3, u)
        u = self.up2(f2, u)
        u = self.up1(f1, u)
        u = F.interpolate(u, scale_factor=2, mode="bilinear", align_corners=True)
        u = F.relu(self.up_conv1(u), inplace=True)
        u = F.relu(self.up_conv2(u), inplace=True)
        return self.final(u)


MODELS = {"vgg16": VGG16UNet, "resnet50": ResNet50UNet}
FULL_PARAMS = {"vgg16": 24890505, "resnet50": 43927049}  # model.md, in=1, K=9


# ----------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------
def hybrid_loss(z, y):
    logp = F.log_softmax(z, 1)
    logpt = logp.gather(1, y.unsqueeze(1)).squeeze(1)
    pt = logpt.exp()
    focal = (-FOCAL_ALPHA * (1 - pt) ** FOCAL_GAMMA * logpt).mean()
    p = logp.exp()
    t = F.one_hot(y, z.shape[1]).permute(0, 3, 1, 2).to(z.dtype)
    tp = (p * t).sum(dim=(0, 2, 3))
    dice = (2 * tp + DICE_SMOOTH) / (p.sum(dim=(0, 2, 3)) + t.sum(dim=(0, 2, 3)) + DICE_SMOOTH)
    return focal + (1 - dice.mean())


def hdl_target(y, k, sigma):
    """G [N][K][H][W] in float64: exp(-D^2/(2 sigma^2)), D = exact Euclidean
    distance to the nearest pixel of the class (brute force over all pairs,
    squared distances are exact integers); 0 everywhere for an absent class."""
    n, h, w = y.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    coords = torch.stack([yy.reshape(-1), xx.reshape(-1)], 1)  # [HW][2]
    g = torch.zeros(n, k, h * w, dtype=torch.float64)
    for b in range(n):
        lab = y[b].reshape(-1)
        for c in range(k):
            q = coords[lab == c]
            if q.shape[0] == 0:
                continue
            d2 = ((coords[:, None, :] - q[None, :, :]) ** 2).sum(-1).min(1).values
            g[b, c] = torch.exp(-d2 / (2 * sigma * sigma))
    return g.reshape(n, k, h, w)


def hdl_loss(z, target):
    diff = torch.sigmoid(z) - target
    norms = torch.sqrt((diff * diff).sum(dim=(2, 3)) + HDL_EPS)  # [N][K]
    return norms.sum() / z.shape[0]


def make_loss(kind, y, k):
    if kind == "hybrid":
        return lambda z: hybrid_loss(z, y)
    if kind == "ce":
        return lambda z: F.cross_entropy(z, y)
    tgt = hdl_target(y, k, HDL_SIGMA)
    return lambda z: hdl_loss(z, tgt)


# ----------------------------------------------------------------------------
# Case data
# ----------------------------------------------------------------------------
def voronoi_labels(n, h, w, k):
    """uint8 [N][H][W]: each class owns the Voronoi cell of one random seed
    point (distinct seed pixels, so every listed class appears as one coherent
    blob); image 1 has no seed for MISSING_CLASS."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    coords = torch.stack([yy.reshape(-1), xx.reshape(-1)], 1)
    out = torch.empty(n, h * w, dtype=torch.long)
    for b in range(n):
        classes = [c for c in range(k) if not (b == 1 and c == MISSING_CLASS)]
        seeds = torch.randperm(h * w)[: len(classes)]
        sc = coords[seeds]
        d2 = ((coords[:, None, :] - sc[None, :, :]) ** 2).sum(-1)
        out[b] = torch.tensor(classes)[d2.argmin(1)]
    out = out.reshape(n, h, w)
    for b in range(n):
        present = set(out[b].unique().tolist())
        want = set(range(k)) - ({MISSING_CLASS} if b == 1 else set())
        assert present == want, (b, present)
    return out


def bn_buffers(model):
    """Flat float64 copy of BN running stats in named_buffers() order:
    running_mean[C], running_var[C] per BN layer (num_batches_tracked skipped)."""
    parts = [b.detach().reshape(-1) for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")]
    if not parts:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat(parts).double()


def flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors]).double()


def f32(t):
    return t.detach().to(torch.float32).contiguous().numpy().tobytes()


def run_case(ci, backbone, loss_kind, cin):
    N, H, W = SHAPES[backbone]
    torch.manual_seed(1234 + ci)
    model = MODELS[backbone](cin, K, WIDTH_DIV)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    x32 = torch.randn(N, cin, H, W, dtype=torch.float32)
    labels = voronoi_labels(N, H, W, K)
    # float32 init values, computed in float64 from there on
    model = model.double().train()
    x = x32.double()
    loss_fn = make_loss(loss_kind, labels, K)
    init_state = {k: v.clone() for k, v in model.state_dict().items()}

    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    p0 = flat(params)
    b0 = bn_buffers(model)

    # (a) one forward + backward
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = loss_fn(logits)
    loss.backward()
    grads = flat([p.grad for p in params])
    b1 = bn_buffers(model)

    # (b) Adam from the same initial state
    model.load_state_dict(init_state)
    model.zero_grad(set_to_none=True)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    adam_losses = []
    xs32 = [x32] + [torch.randn(N, cin, H, W, dtype=torch.float32) for _ in range(ADAM_STEPS - 1)]
    ys = [labels] + [voronoi_labels(N, H, W, K) for _ in range(ADAM_STEPS - 1)]
    for s in range(ADAM_STEPS):
        opt.zero_grad(set_to_none=True)
        l = (loss_fn if s == 0 else make_loss(loss_kind, ys[s], K))(model(xs32[s].double()))
        adam_losses.append(l.item())
        l.backward()
        opt.step()
    assert abs(adam_losses[0] - loss.item()) <= 1e-12 * max(1.0, abs(loss.item())), (adam_losses[0], loss.item())

    hdr = [MAGIC, VERSION, BACKBONES.index(backbone), LOSSES.index(loss_kind), N, cin, H, W, K, WIDTH_DIV,
           p0.numel(), b0.numel(), len(params), ADAM_STEPS, 0, 0]
    blob = [struct.pack("<16i", *hdr), struct.pack("<2f", HDL_SIGMA, ADAM_LR)]
    for name, p in zip(names, params):
        shape = list(p.shape)
        assert 1 <= len(shape) <= 4 and len(name) < 64, (name, shape)
        blob.append(struct.pack("<5i", len(shape), *(shape + [0] * (4 - len(shape)))))
        blob.append(name.encode("ascii").ljust(64, b"\0"))
    blob += [f32(p0), f32(b0), f32(x32), labels.to(torch.uint8).contiguous().numpy().tobytes(), f32(logits),
             struct.pack("<f", loss.item()), f32(grads), f32(b1),
             struct.pack(f"<{ADAM_STEPS}f", *adam_losses)]
    blob += [f32(t) for t in xs32[1:]] + [t.to(torch.uint8).contiguous().numpy().tobytes() for t in ys[1:]]
    return b"".join(blob), p0.numel(), b0.numel(), loss.item(), adam_losses


def expected_size(p, b, t, cin, backbone):
    N, H, W = SHAPES[backbone]
    return (16 * 4 + 8 + t * (5 * 4 + 64) + 4 * p + 4 * b + 4 * N * cin * H * W + N * H * W + 4 * N * K * H * W + 4
            + 4 * p + 4 * b + 4 * ADAM_STEPS + (ADAM_STEPS - 1) * (4 * N * cin * H * W + N * H * W))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default="", help="comma list of BACKBONE_LOSS to write (default: all 6)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()

    # self-check: full-width parameter counts = model.md
    for bb, want in FULL_PARAMS.items():
        got = sum(p.numel() for p in MODELS[bb](1, 9, 1).parameters())
        assert got == want, f"{bb}: full-width params {got} != model.md {want}"
    print(f"# torch {torch.__version__}: full-width params OK (vgg16 {FULL_PARAMS['vgg16']:,}, "
          f"resnet50 {FULL_PARAMS['resnet50']:,})", flush=True)

    os.makedirs(args.out, exist_ok=True)
    ci = 0
    only = set(c for c in args.cases.split(",") if c)
    nout = 0
    for bb in BACKBONES:
        for lk in LOSSES:
            if only and f"{bb}_{lk}" not in only:
                ci += 1  # the same seeds whatever is left out
                continue
            nout += 1
            cin = 2 if lk == "hybrid" else 1
            t0 = time.perf_counter()
            blob, p, b, loss, al = run_case(ci, bb, lk, cin)
            ntens = struct.unpack_from("<16i", blob)[12]
            assert len(blob) == expected_size(p, b, ntens, cin, bb), (len(blob), expected_size(p, b, ntens, cin, bb))
            path = os.path.join(args.out, f"ref_{bb}_{lk}.bin")
            with open(path, "wb") as f:
                f.write(blob)
            print(f"{bb:8s} {lk:6s} Cin={cin} {SHAPES[bb][1]}x{SHAPES[bb][2]} P={p:9d} B={b:5d} T={ntens:3d} loss={loss:.8f} "
                  f"adam[9]={al[-1]:.8f} bytes={len(blob)} {time.perf_counter() - t0:.2f}s", flush=True)
            ci += 1
    print(f"# wrote {nout} files to {args.out} in {time.perf_counter() - t_all:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
