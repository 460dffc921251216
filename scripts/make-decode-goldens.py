#!/usr/bin/python3
"""Builds test/fixtures/golden/decode-b: BMP layouts and CMYK JPEG variants beyond decode-a, each decoded by
Pillow 9.4 (Debian 12's python3-pil, the reference's version) with the same rule as decode-a:
RGBA composited on white, every other mode convert("RGB"). The BMP files are built byte by byte here (Pillow
writes only a few layouts), so the expected bytes come from Pillow's reader alone.

    apt-get install python3-pil libjpeg-turbo-progs && /usr/bin/python3 scripts/make-decode-goldens.py
"""
import hashlib, io, json, os, random, struct, subprocess, sys, zlib
import PIL
from PIL import Image

if PIL.__version__ != "9.4.0":
    sys.exit(f"needs Pillow 9.4.0 (Debian 12 python3-pil), found {PIL.__version__}")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test/fixtures/golden/decode-b")
rnd = random.Random(20261204)
W, H = 13, 7  # odd width: every row needs padding


def bmp(bits, rows, *, header=40, compression=0, palette=None, masks=None, top_down=False, colours=None,
        raw_pixels=None, width=W, height=H):
    """A BMP file: rows (top row first) of already packed pixel bytes, or raw_pixels for RLE streams."""
    stride = ((width * bits + 31) // 32) * 4
    if raw_pixels is None:
        ordered = rows if top_down else rows[::-1]
        raw_pixels = b"".join(r + b"\0" * (stride - len(r)) for r in ordered)
    entry = 3 if header == 12 else 4
    pal = b"".join(bytes([b, g, r]) + (b"\0" if entry == 4 else b"") for (r, g, b) in (palette or []))
    extra = b""
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        n_col = len(palette) if colours is None and palette else (colours or 0)
        info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits, compression,
                           len(raw_pixels), 2835, 2835, n_col, 0)
        if header > 40:
            m = list(masks or [0, 0, 0, 0]) + [0] * 4
            info += struct.pack("<IIII", *m[:4]) + b"\0" * (header - 56)
        elif masks:
            extra = struct.pack("<III", *masks[:3])
    offset = 14 + len(info) + len(extra) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(raw_pixels), 0, 0, offset) + info + extra + pal + raw_pixels


def rand_palette(n):
    return [tuple(rnd.randrange(256) for _ in range(3)) for _ in range(n)]


def pack_indices(indices, bits):
    out, acc, nbits = bytearray(), 0, 0
    for v in indices:
        acc, nbits = (acc << bits) | v, nbits + bits
        if nbits == 8:
            out.append(acc); acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def index_rows(bits, top):
    return [pack_indices([rnd.randrange(top) for _ in range(W)], bits) for _ in range(H)]


files = {}
files["pal1.bmp"] = bmp(1, index_rows(1, 2), palette=rand_palette(2))
files["bw1.bmp"] = bmp(1, index_rows(1, 2), palette=[(0, 0, 0), (255, 255, 255)])
files["pal4_topdown.bmp"] = bmp(4, index_rows(4, 16), palette=rand_palette(16), top_down=True)
# 8-bit with a 20-colour palette and indices past it: those take Pillow's initial grey ramp.
files["pal8_short_palette.bmp"] = bmp(8, index_rows(8, 256), palette=rand_palette(20))
files["grey8.bmp"] = bmp(8, index_rows(8, 256), palette=[(i, i, i) for i in range(256)])
files["os2_pal8.bmp"] = bmp(8, index_rows(8, 256), header=12, palette=rand_palette(256))
files["os2_rgb24.bmp"] = bmp(24, [bytes(rnd.randrange(256) for _ in range(W * 3)) for _ in range(H)], header=12)
files["rgb24_topdown.bmp"] = bmp(24, [bytes(rnd.randrange(256) for _ in range(W * 3)) for _ in range(H)], top_down=True)
files["rgb16_555.bmp"] = bmp(16, [bytes(rnd.randrange(256) for _ in range(W * 2)) for _ in range(H)])
files["bitfields16_565.bmp"] = bmp(16, [bytes(rnd.randrange(256) for _ in range(W * 2)) for _ in range(H)],
                                   compression=3, masks=[0xF800, 0x7E0, 0x1F])
files["bitfields16_555_v4.bmp"] = bmp(16, [bytes(rnd.randrange(256) for _ in range(W * 2)) for _ in range(H)],
                                      header=108, compression=3, masks=[0x7C00, 0x3E0, 0x1F, 0])
rgba_rows = [bytes(rnd.randrange(256) for _ in range(W * 4)) for _ in range(H)]
files["rgb32_x_ignored.bmp"] = bmp(32, rgba_rows)
files["bgra32_v5.bmp"] = bmp(32, rgba_rows, header=124, compression=3, masks=[0xFF0000, 0xFF00, 0xFF, 0xFF000000])
files["abgr32_v4.bmp"] = bmp(32, rgba_rows, header=108, compression=3, masks=[0xFF000000, 0xFF0000, 0xFF00, 0xFF])
files["xbgr32_v3.bmp"] = bmp(32, rgba_rows, compression=3, masks=[0xFF000000, 0xFF0000, 0xFF00])

# RLE8: encoded runs (clipped at the row end), absolute runs (odd length: word padding; one crossing into the next
# row), end of line, end of bitmap. (Pillow fails when the bitmap ends before its last row.)
rle8 = bytearray()
rle8 += bytes([5, 7, 0, 3, 9, 10, 11, 0, 200, 3, 0, 0])            # row 0: 5 x 7, absolute [9 10 11]+pad, run clipped
rle8 += bytes([3, 42, 0, 0])                                     # 3 x 42, end of line
rle8 += bytes([13, 99, 0, 4, 1, 2, 3, 4, 6, 77, 0, 0])           # full row; 4 absolute (into the next row), 6 x 77
rle8 += bytes([2, 5, 0, 0, 13, 1, 0, 0, 13, 2, 0, 0, 13, 3, 0, 1])  # clipped to nothing, EOL; 3 rows, end of bitmap
# A delta: Pillow 9.4 drops the two bytes after it and reads right/up from the next two (here 3 right, 1 up).
rle8_delta = bytearray()
rle8_delta += bytes([4, 17, 0, 2, 200, 200, 3, 1, 2, 18, 0, 0])
rle8_delta += bytes([13, 19, 0, 0]) * 5 + bytes([0, 1])
files["rle8_delta.bmp"] = bmp(8, None, compression=1, palette=rand_palette(256), raw_pixels=bytes(rle8_delta))
files["rle8.bmp"] = bmp(8, None, compression=1, palette=rand_palette(256), raw_pixels=bytes(rle8))
# RLE4: two-colour runs, an odd absolute run (Pillow drops its last pixel), EOL, EOB.
rle4 = bytearray()
rle4 += bytes([7, 0x5A, 0, 5, 0x12, 0x34, 0, 0])                # 7 px alternating 5/A, absolute 5 px (4 read)
rle4 += bytes([13, 0xF1, 0, 0])                                  # a full row of F/1
rle4 += bytes([4, 0x33, 0, 6, 0xAB, 0xCD, 0xEF, 0, 3, 0x81, 0, 0])
rle4 += bytes([13, 0x22, 0, 0, 13, 0x44, 0, 0, 13, 0x66, 0, 0, 13, 0x88, 0, 1])
files["rle4.bmp"] = bmp(4, None, compression=2, palette=rand_palette(16), raw_pixels=bytes(rle4))

# PNGs built by hand (every row filter, Adam7 interlacing, 16-bit samples, alpha, tRNS): the layouts a browser
# cannot hand over with Pillow's values (src/preprocess/png.ts decodes them in code, tRNS is stripped).
def png(width, height, colour_type, depth, rows, *, interlaced=False, trns=None):
    """rows: height lists of samples (top first); each row is filtered with a rotating filter type."""
    samples = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    bpp = samples * depth // 8

    def pack(vals):
        return b"".join(v.to_bytes(depth // 8, "big") for v in vals)

    def filtered(raw_rows):
        out, prev = bytearray(), bytes(len(raw_rows[0])) if raw_rows else b""
        for y, r in enumerate(raw_rows):
            ft = y % 5
            f = bytearray()
            for i, v in enumerate(r):
                a = r[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                if ft == 0: p = 0
                elif ft == 1: p = a
                elif ft == 2: p = b
                elif ft == 3: p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                f.append((v - p) & 255)
            out += bytes([ft]) + f
            prev = r
        return bytes(out)

    pix = [[rows[y][x * samples:(x + 1) * samples] for x in range(width)] for y in range(height)]
    if interlaced:
        data = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = [pack([v for x in range(x0, width, dx) for v in pix[y][x]]) for y in range(y0, height, dy)]
            if sub and sub[0]:
                data += filtered(sub)
    else:
        data = filtered([pack(r) for r in rows])

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 1 if interlaced else 0)
    extra = chunk(b"tRNS", trns) if trns is not None else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(data, 9)) + chunk(b"IEND", b"")


def sample_rows(width, height, samples, depth, alpha_levels=None):
    top = (1 << depth) - 1
    rows = []
    for _ in range(height):
        r = []
        for _ in range(width):
            px = [rnd.randrange(top + 1) for _ in range(samples)]
            if alpha_levels is not None:
                px[-1] = rnd.choice(alpha_levels) if rnd.random() < 0.5 else rnd.randrange(top + 1)
            r += px
        rows.append(r)
    return rows


# 16-bit values both sides of 255 (mode "I" clips) and high bytes that rounding would change.
files["grey16_interlaced.png"] = png(W, H, 0, 16, [[rnd.choice([rnd.randrange(300), rnd.randrange(65536)]) for _ in range(W)] for _ in range(H)], interlaced=True)
files["rgb16.png"] = png(W, H, 2, 16, sample_rows(W, H, 3, 16))
files["rgba16.png"] = png(W, H, 6, 16, sample_rows(W, H, 4, 16, [0, 65535]))
files["grey_alpha16.png"] = png(W, H, 4, 16, sample_rows(W, H, 2, 16, [0, 65535]))
files["grey_alpha8_interlaced.png"] = png(W, H, 4, 8, sample_rows(W, H, 2, 8, [0, 255]), interlaced=True)
files["rgba8_partial_alpha.png"] = png(W, H, 6, 8, sample_rows(W, H, 4, 8, [0, 255]))
files["grey8_trns.png"] = png(W, H, 0, 8, sample_rows(W, H, 1, 8), trns=struct.pack(">H", 7))
files["rgb8_trns.png"] = png(W, H, 2, 8, [[7 if i % 3 == 0 else v for i, v in enumerate(r)] for r in sample_rows(W, H, 3, 8)], trns=struct.pack(">HHH", 7, 7, 7))
# WebP and GIF with partial/full transparency, written by Pillow itself.
rgba = Image.frombytes("RGBA", (W, H), bytes(b for r in sample_rows(W, H, 4, 8, [0, 255]) for b in r))
buf = io.BytesIO(); rgba.save(buf, "WEBP", lossless=True)
files["rgba_partial_alpha.webp"] = buf.getvalue()
pal = Image.frombytes("P", (W, H), bytes(rnd.randrange(16) for _ in range(W * H)))
pal.putpalette([rnd.randrange(256) for _ in range(16 * 3)])
buf = io.BytesIO(); pal.save(buf, "GIF", transparency=3)
files["transparent_index.gif"] = buf.getvalue()

# CMYK JPEGs: Pillow inverts every 4-component JPEG, Adobe marker or not.
cmyk = Image.frombytes("CMYK", (40, 23), bytes(rnd.randrange(256) for _ in range(40 * 23 * 4)))
cmyk = cmyk.resize((40, 23))
buf = io.BytesIO(); cmyk.save(buf, "JPEG", quality=92, progressive=True)
files["cmyk_progressive.jpg"] = buf.getvalue()
src = open(os.path.join(ROOT, "test/fixtures/golden/decode-a/cmyk_q90.jpg"), "rb").read()
i = src.index(b"\xff\xee")  # the APP14 "Adobe" segment, removed
seg_len = struct.unpack(">H", src[i + 2:i + 4])[0]
files["cmyk_no_adobe_marker.jpg"] = src[:i] + src[i + 2 + seg_len:]
# Lossless rewrites by libjpeg-turbo's jpegtran (same coefficients, other entropy coding): restart markers every 3
# blocks, baseline and progressive, and optimized Huffman tables.
baseline_k = io.BytesIO(); cmyk.save(baseline_k, "JPEG", quality=85)
for name, args in [("cmyk_restart.jpg", ["-restart", "3B"]), ("cmyk_progressive_restart.jpg", ["-progressive", "-restart", "2B"]),
                   ("cmyk_optimized.jpg", ["-optimize"])]:
    files[name] = subprocess.run(["jpegtran", "-copy", "all", *args], input=baseline_k.getvalue(), capture_output=True, check=True).stdout

os.makedirs(OUT, exist_ok=True)
cases = []
for name, data in sorted(files.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    im = Image.open(os.path.join(OUT, name))
    mode = im.mode
    if mode == "RGBA":
        rgb = Image.new("RGB", im.size, (255, 255, 255)); rgb.paste(im, mask=im.split()[3])
    else:
        rgb = im.convert("RGB")
    cases.append({"file": name, "pillow_mode": mode, "width": im.size[0], "height": im.size[1],
                  "sha256_rgb": hashlib.sha256(rgb.tobytes()).hexdigest()})
doc = {"kind": "decode", "rule": "RGBA: composited on white with the alpha as paste mask; other modes: "
       "Image.convert('RGB'); no EXIF rotation, no ICC conversion", "produced_by": f"scripts/make-decode-goldens.py, Pillow {PIL.__version__}",
       "cases": cases}
with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print("\n".join(f"{c['file']}: {c['pillow_mode']} {c['width']}x{c['height']}" for c in cases))
