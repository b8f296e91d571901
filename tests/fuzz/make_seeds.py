#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from real files:
the golden checkpoints cut down to their pickle and small storages, blobs cut down to their
metadata and smallest tensors, the project's graphs and configs and the expressions in
them, .npy files of every kind the reader meets, and small images of every PNG colour type
and JPEG flavour (progressive, grayscale, CMYK, EXIF-rotated). The outputs are committed;
rerun this only to change them:

    python3 tests/fuzz/make_seeds.py BUILD/bin/sam-convert ../shared/golden
"""
import io, json, os, re, struct, subprocess, sys, tempfile, zipfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def small_checkpoint(pth, limit=1 << 14):
    """The archive with its pickle and only the storages under `limit` bytes: shapes and
    names are all there (detection and matching run), the first big tensor is missing."""
    out = io.BytesIO()
    with zipfile.ZipFile(pth) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if info.file_size <= limit or info.filename.endswith(".pkl"):
                dst.writestr(info, src.read(info))
    return out.getvalue()


def read_blob(path):
    b = open(path, "rb").read()
    _, _, n_meta, n_tensors, align, data_offset, _ = struct.unpack_from("<8sIIIIQQ", b, 0)
    p = 64
    meta_start = p
    for _ in range(n_meta):
        (kl,) = struct.unpack_from("<H", b, p); p += 2 + kl
        t = b[p]; p += 1
        if t in (0, 1): p += 8
        elif t == 2: (l,) = struct.unpack_from("<H", b, p); p += 2 + l
        else: (n,) = struct.unpack_from("<I", b, p); p += 4 + 8 * n
    meta = b[meta_start:p]
    tensors = []
    for _ in range(n_tensors):
        (nl,) = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl]; p += nl
        dtype, ndim = b[p], b[p + 1]; p += 2
        dims = struct.unpack_from("<%dQ" % ndim, b, p); p += 8 * ndim
        off, nbytes = struct.unpack_from("<QQ", b, p); p += 16
        tensors.append((name, dtype, dims, b[data_offset + off:data_offset + off + nbytes]))
    return n_meta, meta, tensors


def write_blob(n_meta, meta, tensors):
    table = b""
    data = b""
    for name, dtype, dims, raw in tensors:
        off = len(data)
        table += struct.pack("<H", len(name)) + name + bytes([dtype, len(dims)]) + struct.pack("<%dQ" % len(dims), *dims)
        table += struct.pack("<QQ", off, len(raw))
        data += raw + b"\0" * (-len(raw) % 64)
    head_len = 64 + len(meta) + len(table)
    data_offset = head_len + (-head_len % 64)
    size = data_offset + len(data)
    header = struct.pack("<8sIIIIQQ", b"SAMRTWB\0", 1, n_meta, len(tensors), 64, data_offset, size).ljust(64, b"\0")
    return header + meta + table + b"\0" * (data_offset - head_len) + data


def main():
    convert, golden = sys.argv[1], sys.argv[2]
    ckpts = {"sam": os.path.join(golden, "sam_tiny/sam_tiny_seed0.pth"), "sam2": os.path.join(golden, "sam2_tiny/sam2.1_tiny_seed0.pt")}
    with tempfile.TemporaryDirectory() as tmp:
        for fam, pth in ckpts.items():
            if not os.path.exists(pth):
                continue
            put("checkpoint", fam + "_small_storages.pth", small_checkpoint(pth))
            blob = os.path.join(tmp, fam + ".samrt")
            subprocess.run([convert, "-q", pth, "-o", blob], check=True)
            n_meta, meta, tensors = read_blob(blob)
            smallest = sorted(tensors, key=lambda t: len(t[3]))[:6]
            put("blob", fam + "_meta_6_tensors.samrt", write_blob(n_meta, meta, smallest))
            put("blob", fam + "_meta_only.samrt", write_blob(n_meta, meta, []))
            # a q8 blob: its smallest i8 weight with its scales, and the smallest others
            subprocess.run([convert, "-q", pth, "--dtype", "q8", "-o", blob], check=True)
            n_meta, meta, tensors = read_blob(blob)
            by_name = {t[0]: t for t in tensors}
            i8 = min((t for t in tensors if t[1] == 4), key=lambda t: len(t[3]))
            rest = sorted((t for t in tensors if t[1] != 4 and not t[0].endswith(b"@scale")), key=lambda t: len(t[3]))[:4]
            put("blob", fam + "_q8_meta_6_tensors.samrt", write_blob(n_meta, meta, [i8, by_name[i8[0] + b"@scale"]] + rest))
    # graphs, configs, the expressions in them
    exprs = set()
    for d, target in ((os.path.join(ROOT, "graphs"), "graph"), (os.path.join(ROOT, "graphs/configs"), "config")):
        for name in sorted(os.listdir(d)):
            if name.endswith(".yaml"):
                text = open(os.path.join(d, name)).read()
                put(target, name, text)
                exprs.update(re.findall(r"\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text))
    for i, e in enumerate(sorted(exprs)[:80]):
        put("expr", "e%02d" % i, e)
    # .npy: what numpy writes for the shapes and types the readers meet
    arrays = {"mask_1x256x256_f4": np.full((1, 256, 256), -3.5, "<f4"),
              "mask_256x256_f4": np.zeros((256, 256), "<f4"), "scalar_f4": np.array(1.5, "<f4"),
              "iou_1x3_f4": np.array([[0.5, 0.7, 0.9]], "<f4"), "masks_u1": np.ones((1, 3, 4, 5), "|u1"),
              "big_endian_f4": np.arange(6, dtype=">f4"), "fortran_f4": np.asfortranarray(np.ones((3, 4), "<f4")),
              "f8": np.arange(4, dtype="<f8"), "empty_f4": np.zeros((0, 4), "<f4")}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a)
        put("npy", name + ".npy", buf.getvalue())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ones((2, 2), "<f4"), version=(2, 0))
    put("npy", "version2.npy", buf.getvalue())
    # images: every PNG colour type, JPEG baseline/progressive/grayscale/CMYK/EXIF-rotated
    rgb = Image.fromarray((np.indices((24, 32)).sum(0)[..., None] * [3, 5, 7] % 256).astype("uint8"))
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        buf = io.BytesIO()
        rgb.convert(mode if mode != "I;16" else "I").save(buf, "PNG") if mode != "I;16" else Image.fromarray(np.arange(24 * 32, dtype="uint16").reshape(24, 32) * 80).save(buf, "PNG")
        put("image", "png_%s.png" % mode.replace(";", ""), buf.getvalue())
    buf = io.BytesIO(); rgb.save(buf, "PNG", interlace=1); put("image", "png_interlaced.png", buf.getvalue())
    for name, im, kw in (("jpeg_baseline", rgb, {}), ("jpeg_progressive", rgb, {"progressive": True}), ("jpeg_gray", rgb.convert("L"), {}),
                         ("jpeg_cmyk", rgb.convert("CMYK"), {})):
        buf = io.BytesIO(); im.save(buf, "JPEG", quality=80, **kw); put("image", name + ".jpg", buf.getvalue())
    exif = Image.Exif(); exif[0x0112] = 6
    buf = io.BytesIO(); rgb.save(buf, "JPEG", exif=exif.tobytes()); put("image", "jpeg_exif_rotate90.jpg", buf.getvalue())
    # point grids and CLI arguments
    put("point_grids", "one_layer.json", json.dumps([[[0.25, 0.25], [0.75, 0.75]]]))
    put("point_grids", "two_layers.json", json.dumps([[[0.5, 0.5]], [[0.0, 0.0], [1.0, 1.0], [0.5, 0.25]]]))
    for i, arg in enumerate(["\x0032", "\x011.5", "\x02-12e3", "\x03100,200;300,400,0", "\x0410,20,300,400", "\x05points_per_side=16",
                             "\x05pred_iou_thresh=0.88", "\x03 1e2 ,2,1"]):
        put("cli", "arg%d" % i, arg)
    # the features target writes a valid cache of its model on start (see fuzz_features.c);
    # here, a header alone
    put("features", "header_only", b"SAMRTFT1" + bytes(28))


if __name__ == "__main__":
    main()
