#!/usr/bin/env python3
"""Cross-check io/safetensors against Python's reference `safetensors` package (TAP output).

1. `st_tool write` makes the fixture (every dtype, 0-d, empty tensors, metadata, f32 -> f16/bf16
   conversions by our code); Python loads it with safetensors.numpy (safe_open) and with the
   Rust deserializer, and checks every dtype, shape, byte, value and metadata entry, the header
   order (tensors in the order added) and the layout (length multiple of 8, packed data).
   Our f32 -> f16 rounding is compared with numpy's astype(float16), f32 -> bf16 with
   ml_dtypes' astype(bfloat16).
2. Python writes files with safetensors.numpy.save_file (bf16 through ml_dtypes.bfloat16, which
   numpy lacks); `st_tool dump` must report the same dtypes, shapes, bytes and metadata, and its
   F16/BF16 -> float values must equal numpy's / ml_dtypes' astype(float32).
3. Malformed files that Python rejects are rejected by us too, with one line naming the file;
   files that Python accepts but we refuse on purpose (stricter rules) are listed as such.

Env: LS_BUILD (default ./build) holds tests/helpers/st_tool.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

BUILD = os.environ.get("LS_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
ST_TOOL = os.path.join(BUILD, "tests", "helpers", "st_tool")

results = []


def check(ok, what, detail=""):
    results.append((bool(ok), what, detail))


def finish():
    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, what, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines():
                print(f"# {line}")
    return 1 if failed else 0


try:
    import numpy as np
    import safetensors
    from safetensors.numpy import load_file, save_file
except ImportError as e:  # make test installs tests/requirements*.txt into build/venv
    print("1..1")
    print(f"not ok 1 - import numpy / safetensors: {e} (make test: build/venv)")
    sys.exit(1)
np.seterr(all="ignore")   # casts to float16 overflow to inf on purpose
try:
    import ml_dtypes
    BF16 = ml_dtypes.bfloat16
except ImportError:
    ml_dtypes = None
    BF16 = None

# ---------------------------------------------------------------------------- the fixture
# Same values as write_fixture() in tests/helpers/st_tool.c.
F32_TO_F16 = [1.0, -2.5, 65504.0, 65519.99, 65520.0, 1e-8, 5.9604644775390625e-08,
              2.98023223876953125e-08, 8.940696716308594e-08, 1.00048828125, 1.00146484375,
              0.1, 3.14159, -1e10, float("nan"), float("inf")]
F32_TO_BF16 = [1.0, -2.5, 3.3895313892515355e38, float(np.finfo(np.float32).max), 1.00390625,
               1.01171875, 0.1, 1e-40, float("nan"), float("-inf")]


def fixture():
    """name -> (dtype string, numpy array or None for BF16 without ml_dtypes, raw bytes)."""
    inf, nan = float("inf"), float("nan")
    t = {}

    def put(name, st_dtype, arr):
        t[name] = (st_dtype, arr, arr.tobytes())

    put("f64", "F64", np.array([math.pi, -0.0, inf, nan, 5e-324, 1.7976931348623157e308],
                               np.float64).reshape(2, 3))
    put("f32", "F32", np.array([1.5, -0.0, np.finfo(np.float32).max, 1e-45, inf, -inf, nan, 0.1],
                               np.float32).reshape(2, 2, 2))
    put("f16", "F16", np.array([0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00,
                                0x7e00, 0x8000], np.uint16).view(np.float16).reshape(2, 5))
    bf = np.array([0x3f80, 0xc020, 0x7f7f, 0x0001, 0x007f, 0x0080, 0x7f80, 0xff80, 0x7fc0, 0x8000],
                  np.uint16)
    t["bf16"] = ("BF16", bf.view(BF16).reshape(2, 5) if BF16 else None, bf.tobytes())
    put("f16_from_f32", "F16", np.array(F32_TO_F16, np.float32).astype(np.float16))
    if BF16:
        put("bf16_from_f32", "BF16", np.array(F32_TO_BF16, np.float32).astype(BF16))
    put("i64", "I64", np.array([-2**63, 2**63 - 1, -1, 0], np.int64))
    put("i32", "I32", np.array([-2**31, 2**31 - 1, -1, 123456789], np.int32))
    put("i16", "I16", np.array([-32768, 32767, -2], np.int16))
    put("i8", "I8", np.array([-128, 127, -1, 0], np.int8))
    put("u8", "U8", np.array([[0, 255, 128, 7]], np.uint8))
    put("bool", "BOOL", np.array([True, False, True]))
    put("scalar", "F32", np.array(42.5, np.float32))
    put("empty", "F32", np.zeros((3, 0), np.float32))
    put("empty_i64", "I64", np.zeros((0,), np.int64))
    put("backbone.layers.0.mixer.in_proj.weight", "F32",
        np.array([0.5, -1.25, 2.0, 1e-3, -7.0, 100.0], np.float32).reshape(2, 3))
    put("na\u00efve", "I8", np.array([-5], np.int8))
    return t


FIXTURE_ORDER = ["f64", "f32", "f16", "bf16", "f16_from_f32", "bf16_from_f32", "i64", "i32",
                 "i16", "i8", "u8", "bool", "scalar", "empty", "empty_i64",
                 "backbone.layers.0.mixer.in_proj.weight", "na\u00efve"]
FIXTURE_META = {
    "format": "longscan",
    "format_version": "1",
    "config": '{"d_model": 16, "name": "caf\u00e9", "tab": "a\\tb"}',
    "empty": "",
    "lines": 'one\ntwo\tthree \\ "q"',
}


def same_bits(a, b):
    """Arrays equal bit for bit (so -0 != 0 and NaN payloads count)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_values(a, b, dtype=np.float32):
    """Equal element-wise in @dtype with NaN == NaN (conversions may differ in NaN payloads).
    st_tool prints floats with %.9g, which round-trips a float32 but not a float64."""
    a = np.asarray(a, np.float64).astype(dtype).ravel()
    b = np.asarray(b, np.float64).astype(dtype).ravel()
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


# ---------------------------------------------------------------------------- st_tool dump

def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1] == "\\":
            out += b"\\"
            i += 2
        elif s[i] == "\\" and s[i + 1] == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out += s[i].encode("utf-8")
            i += 1
    return out.decode("utf-8")


def dump(path):
    """Run st_tool dump: (returncode, {"meta": {}, "tensors": [..]}, stderr)."""
    p = subprocess.run([ST_TOOL, "dump", path], capture_output=True)
    out = {"meta": {}, "tensors": []}
    if p.returncode != 0:
        return p.returncode, out, p.stderr.decode("utf-8", "replace")
    for line in p.stdout.decode("utf-8").split("\n"):
        if not line:
            continue
        kind, _, rest = line.partition("\t")
        if kind == "meta":
            k, v = rest.split("\t")
            out["meta"][unescape(k)] = unescape(v)
        elif kind == "tensor":
            name, dtype, shape, offset, nbytes = rest.split("\t")
            out["tensors"].append({"name": unescape(name), "dtype": dtype,
                                   "shape": tuple(int(d) for d in shape.split(",") if d),
                                   "offset": int(offset), "nbytes": int(nbytes)})
        elif kind == "raw":
            out["tensors"][-1]["raw"] = bytes.fromhex(rest)
        elif line.startswith("values"):
            out["tensors"][-1]["values"] = line.split(" ")[1:]
    return 0, out, p.stderr.decode("utf-8", "replace")


def st_dtype_of(arr):
    if BF16 is not None and arr.dtype == BF16:
        return "BF16"
    return {np.float64: "F64", np.float32: "F32", np.float16: "F16", np.int64: "I64",
            np.int32: "I32", np.int16: "I16", np.int8: "I8", np.uint8: "U8",
            np.bool_: "BOOL"}[arr.dtype.type]


def compare_dump(d, tensors, meta, what):
    """Our dump of a Python-written file against the arrays Python wrote."""
    check(d["meta"] == (meta or {}), f"{what}: metadata", f"{d['meta']} != {meta}")
    names = {t["name"]: t for t in d["tensors"]}
    check(set(names) == set(tensors), f"{what}: tensor names", f"{sorted(names)}")
    at, ok = 0, True
    for t in sorted(d["tensors"], key=lambda t: (t["offset"], t["nbytes"], t["name"])):
        ok = t["offset"] == at
        at = t["offset"] + t["nbytes"]
        if not ok:
            break
    check(ok and [t["offset"] for t in d["tensors"]] == sorted(t["offset"] for t in d["tensors"]),
          f"{what}: tensors listed in offset order, packed")
    for name, arr in tensors.items():
        t = names.get(name)
        if t is None:
            continue
        ok = (t["dtype"] == st_dtype_of(arr) and t["shape"] == arr.shape
              and t["raw"] == arr.tobytes()
              and t["nbytes"] == arr.nbytes)
        detail = f"{t['dtype']} {t['shape']} {t['raw'][:32].hex()} vs {arr.dtype} {arr.shape}"
        if ok and t["dtype"] in ("F16", "BF16", "F32", "F64"):
            ours = np.array([float(v) for v in t["values"]], np.float64)
            if t["dtype"] == "F64":
                ok = same_values(ours, arr, np.float64)
            else:
                ok = same_values(ours, arr.astype(np.float32))
            ref = arr.ravel()
            detail = f"values {t['values'][:8]} vs {ref[:8]}"
        elif ok:
            ok = [int(v) for v in t["values"]] == [int(v) for v in arr.ravel()]
            detail = f"values {t['values'][:8]} vs {arr.ravel()[:8]}"
        check(ok, f"{what}: tensor {name!r} ({st_dtype_of(arr)} {arr.shape}) read identically",
              detail)


# ---------------------------------------------------------------------------- tests

def test_ours_in_python(tmp):
    path = os.path.join(tmp, "fixture.safetensors")
    p = subprocess.run([ST_TOOL, "write", path], capture_output=True)
    check(p.returncode == 0, "st_tool write makes the fixture", p.stderr)
    if p.returncode != 0:
        return
    expected = fixture()
    data = open(path, "rb").read()

    # layout: header length, padding, order, packing
    (hlen,) = struct.unpack("<Q", data[:8])
    header = data[8:8 + hlen]
    check(hlen % 8 == 0 and header.startswith(b"{") and header.rstrip(b" ").endswith(b"}"),
          "header length is a multiple of 8, JSON padded with spaces", header[-16:])
    parsed = json.loads(header)
    check(list(parsed) == ["__metadata__"] + FIXTURE_ORDER,
          "header lists metadata, then tensors in the order added", list(parsed))
    at, packed = 0, True
    for name in FIXTURE_ORDER:
        b, e = parsed[name]["data_offsets"]
        packed &= b == at
        at = e
    check(packed and at == len(data) - 8 - hlen, "tensor data packed, no holes, fills the file")

    # Python's loaders
    try:
        flat = dict(safetensors.deserialize(data))
        check(True, "safetensors.deserialize accepts our file")
    except Exception as e:  # noqa: BLE001 - report any loader error as a failure
        check(False, "safetensors.deserialize accepts our file", repr(e))
        return
    with safetensors.safe_open(path, framework="np") as f:
        meta = f.metadata()
        keys = set(f.keys())
        arrays = {k: f.get_tensor(k) for k in keys if BF16 or flat[k]["dtype"] != "BF16"}
    check(meta == FIXTURE_META, "metadata read by safe_open", f"{meta}")
    check(keys == set(FIXTURE_ORDER), "tensor names read by safe_open", sorted(keys))
    for name in FIXTURE_ORDER:
        if name not in expected:
            check(True, f"# SKIP {name}: ml_dtypes not installed")
            continue
        st_dtype, arr, raw = expected[name]
        v = flat[name]
        ok = (v["dtype"] == st_dtype and list(v["shape"]) == list(np.shape(arr) if arr is not None
                                                                   else v["shape"])
              and bytes(v["data"]) == raw)
        detail = f"{v['dtype']} {v['shape']} {bytes(v['data'])[:32].hex()}"
        if ok and name in arrays:
            got = arrays[name]
            if name.endswith("_from_f32"):     # our rounding vs numpy / ml_dtypes rounding
                ok = got.dtype == arr.dtype and got.shape == arr.shape and same_values(
                    got.astype(np.float32), arr.astype(np.float32))
                nonnan = ~np.isnan(arr.astype(np.float32))
                ok = ok and got[nonnan].tobytes() == arr[nonnan].tobytes()
            else:
                ok = same_bits(got, arr)
            detail = f"{got!r} vs {arr!r}"
        check(ok, f"our {name!r} ({st_dtype} {v['shape']}): dtype, shape, bytes and values", detail)

    # and our own reader agrees with the bytes Python sees
    rc, d, err = dump(path)
    check(rc == 0, "st_tool dump reads the fixture", err)
    ok = all(t["raw"] == bytes(flat[t["name"]]["data"]) for t in d["tensors"])
    check(ok and d["meta"] == FIXTURE_META and len(d["tensors"]) == len(FIXTURE_ORDER),
          "st_tool dump of the fixture matches Python's view")
    f16 = next(t for t in d["tensors"] if t["name"] == "f16")
    ref = expected["f16"][1].astype(np.float32)
    check(same_values([float(v) for v in f16["values"]], ref),
          "our f16 -> f32 matches numpy on 1, -2.5, 65504, subnormals, inf, NaN, -0",
          f"{f16['values']} vs {ref}")
    if BF16:
        bf = next(t for t in d["tensors"] if t["name"] == "bf16")
        ref = expected["bf16"][1].astype(np.float32)
        check(same_values([float(v) for v in bf["values"]], ref),
              "our bf16 -> f32 matches ml_dtypes on 1, -2.5, max, subnormals, inf, NaN, -0",
              f"{bf['values']} vs {ref}")


def test_python_in_ours(tmp):
    rng = np.random.default_rng(1234)
    tensors = {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f16": np.array([1, -2.5, 65504, 6e-8, 1e-5, np.inf, -np.inf, np.nan, -0.0, 0.1],
                        np.float16),
        "f16_all": np.arange(65536, dtype=np.uint16).view(np.float16),
        "i64": np.array([-2**63, 2**63 - 1, 0, 42], np.int64),
        "i32": rng.integers(-2**31, 2**31 - 1, (5,), dtype=np.int32),
        "i16": np.array([[-32768, 32767], [1, -1]], np.int16),
        "i8": np.array([-128, 127, 0], np.int8),
        "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
        "bool": np.array([[True, False], [False, True]]),
        "scalar": np.array(7, np.int64),
        "empty": np.zeros((0, 5), np.float32),
        "model.layers.3.mixer.A_log": rng.standard_normal((8, 4)).astype(np.float32),
    }
    if BF16:
        tensors["bf16"] = np.array([1, -2.5, 3.3895e38, 1e-40, np.inf, np.nan, -0.0], BF16)
        tensors["bf16_all"] = np.arange(65536, dtype=np.uint16).view(BF16)
    else:
        check(True, "# SKIP bf16 written by Python: ml_dtypes not installed")
    meta = {"format": "other", "note": "written by safetensors.numpy \u2713", "blank": ""}
    path = os.path.join(tmp, "python.safetensors")
    save_file(tensors, path, metadata=meta)
    rc, d, err = dump(path)
    check(rc == 0, "st_tool dump reads a file written by safetensors.numpy.save_file", err)
    if rc == 0:
        compare_dump(d, tensors, meta, "python file")

    # no metadata, one tensor; and an empty file description
    for what, t, m in (("single tensor", {"x": np.ones((2, 2), np.float32)}, None),
                       ("no tensors", {}, {"k": "v"})):
        path = os.path.join(tmp, "small.safetensors")
        save_file(t, path, metadata=m)
        rc, d, err = dump(path)
        check(rc == 0, f"st_tool dump reads a Python file with {what}", err)
        if rc == 0:
            compare_dump(d, t, m, what)

    # load_file round trip of what Python wrote (sanity of the reference itself)
    back = load_file(os.path.join(tmp, "python.safetensors"))
    bad = [k for k, v in tensors.items() if not same_bits(back[k], v)]
    check(not bad, "reference reloads its own file (sanity)", bad)


def header(h, data=b""):
    hb = h.encode()
    return struct.pack("<Q", len(hb)) + hb + data


def entry(name, dtype, shape, b, e):
    return f'"{name}":{{"dtype":"{dtype}","shape":{json.dumps(shape)},"data_offsets":[{b},{e}]}}'


def test_malformed(tmp):
    both = {
        "overlapping tensors": header("{" + entry("a", "F32", [2], 0, 8) + ","
                                      + entry("b", "F32", [1], 4, 8) + "}", bytes(8)),
        "hole between tensors": header("{" + entry("a", "F32", [1], 0, 4) + ","
                                       + entry("b", "F32", [1], 8, 12) + "}", bytes(12)),
        "bytes after the last tensor": header("{" + entry("a", "F32", [1], 0, 4) + "}", bytes(6)),
        "data_offsets past the end": header("{" + entry("a", "F32", [2], 0, 8) + "}", bytes(4)),
        "offsets reversed": header("{" + entry("a", "F32", [1], 8, 4) + "}", bytes(8)),
        "shape lies about the bytes": header("{" + entry("a", "F32", [4, 4], 0, 12) + "}",
                                             bytes(12)),
        "unknown dtype": header("{" + entry("a", "F9", [1], 0, 1) + "}", bytes(1)),
        "fractional shape": header("{" + entry("a", "F32", [1.5], 0, 4) + "}", bytes(4)),
        "shape 1.0": header("{" + entry("a", "F32", [1.0], 0, 4) + "}", bytes(4)),
        "negative shape": header("{" + entry("a", "F32", [-1], 0, 4) + "}", bytes(4)),
        "metadata value not a string": header('{"__metadata__":{"k":1}}'),
        "header not JSON": header('{"a": '),
        "header not an object": header("[1]"),
        "duplicate tensor name": header("{" + entry("a", "F32", [1], 0, 4) + ","
                                        + entry("a", "F32", [1], 4, 8) + "}", bytes(8)),
        "header length past the end": struct.pack("<Q", 1000) + b"{}",
        "header length > 100 MB": struct.pack("<Q", 100_000_001) + b"{}",
        "file shorter than 8 bytes": b"\x01\x00\x00",
        "empty file": b"",
        "text after the JSON": header("{}  x"),
        "control byte in the header": header("{\x01}"),
    }
    stricter = {   # the reference accepts these; we refuse them on purpose
        "entry with an extra key (we require exactly dtype/shape/data_offsets)":
            header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', bytes(4)),
        "header starting with a space (we require '{' first)": header(" {}"),
        "nine dimensions (ST_MAX_DIMS is 8)":
            header("{" + entry("a", "U8", [1] * 9, 0, 1) + "}", bytes(1)),
    }
    for what, blob in list(both.items()) + list(stricter.items()):
        path = os.path.join(tmp, "bad.safetensors")
        with open(path, "wb") as f:
            f.write(blob)
        try:
            safetensors.deserialize(blob)
            python_rejects = False
        except Exception:  # noqa: BLE001
            python_rejects = True
        rc, _, err = dump(path)
        one_line = err.count("\n") == 1 and err.startswith(f"st_tool: {path}")
        if what in both:
            check(python_rejects and rc == 1 and one_line,
                  f"malformed ({what}): Python and st_tool both reject, one line naming the file",
                  f"python rejects: {python_rejects}, st_tool rc {rc}: {err}")
        else:
            check(not python_rejects and rc == 1 and one_line,
                  f"stricter than the reference ({what}): Python accepts, st_tool rejects",
                  f"python rejects: {python_rejects}, st_tool rc {rc}: {err}")


def main():
    if not os.access(ST_TOOL, os.X_OK):
        check(False, f"{ST_TOOL} exists (make {os.path.relpath(ST_TOOL)})")
        return finish()
    check(True, f"safetensors {safetensors.__version__}, numpy {np.__version__}, ml_dtypes "
                f"{ml_dtypes.__version__ if ml_dtypes else 'missing'}")
    with tempfile.TemporaryDirectory() as tmp:
        test_ours_in_python(tmp)
        test_python_in_ours(tmp)
        test_malformed(tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
