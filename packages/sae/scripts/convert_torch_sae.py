#!/usr/bin/env python3
"""Converts a PyTorch TopK SAE checkpoint (a state_dict) into a steer-sae/1 folder (see ../FORMAT.md).

Usage:
  python3 convert_torch_sae.py CHECKPOINT.pt OUT_DIR --k 128 --model bge-base-en-v1.5 --normalized true

Accepted key names (after stripping a "module." / "sae." / "model." prefix):
  W_enc [n,d]  <- W_enc | encoder.weight | enc.weight | W_e
  b_enc [n]    <- b_enc | encoder.bias | latent_bias | enc.bias | b_e       (zeros when absent)
  W_dec [d,n]  <- W_dec | decoder.weight | dec.weight | W_d
  b_dec [d]    <- b_dec | pre_bias | decoder.bias | b_d                     (zeros when absent)
Matrices stored the other way round (SAELens: W_enc [d,n], W_dec [n,d]) are transposed; see FORMAT.md for
how d and n are told apart. Needs torch and numpy; writes atomically (temp folder + rename).
"""
import argparse
import datetime
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile

FORMAT = "steer-sae/1"
ALIASES = {
    "W_enc": ["W_enc", "encoder.weight", "enc.weight", "W_e"],
    "b_enc": ["b_enc", "encoder.bias", "latent_bias", "enc.bias", "b_e"],
    "W_dec": ["W_dec", "decoder.weight", "dec.weight", "W_d"],
    "b_dec": ["b_dec", "pre_bias", "decoder.bias", "b_d"],
}
PREFIXES = ("module.", "sae.", "model.", "autoencoder.")
ARTIFACT_FILES = {"sae.safetensors", "manifest.json"}


class ConvertError(Exception):
    pass


def load_state_dict(path, trust_pickle):
    import torch

    if not os.path.isfile(path):
        raise ConvertError(f"checkpoint {path} does not exist; check the path")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - torch raises many kinds here
        if trust_pickle:
            raise ConvertError(f"cannot load {path}: {error}") from error
        raise ConvertError(
            f"cannot load {path} as plain tensors ({str(error).splitlines()[0]}); "
            "if you trust the file, rerun with --trust-pickle"
        ) from error
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model_state_dict", "model", "sae", "autoencoder"):
            inner = obj.get(wrapper)
            if isinstance(inner, dict) and any(hasattr(v, "shape") for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, dict):
        raise ConvertError(f"{path} holds a {type(obj).__name__}, not a state_dict; save model.state_dict()")
    tensors = {}
    for key, value in obj.items():
        if not hasattr(value, "shape"):
            continue
        name = key
        stripped = True
        while stripped:
            stripped = False
            for prefix in PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        tensors[name] = value
    return tensors


def pick(tensors, role):
    found = [key for key in ALIASES[role] if key in tensors]
    if len(found) > 1:
        raise ConvertError(f"both {found[0]} and {found[1]} could be {role}; remove one from the state_dict")
    return (found[0], tensors[found[0]]) if found else (None, None)


def to_numpy(tensor):
    import numpy as np

    return np.ascontiguousarray(tensor.detach().to("cpu").float().numpy(), dtype="<f4")


def map_weights(tensors, layout):
    """Returns {W_enc [n,d], b_enc [n], W_dec [d,n], b_dec [d]} as float32 numpy arrays, plus the key map."""
    import numpy as np

    keys = {}
    found = {}
    for role in ALIASES:
        key, value = pick(tensors, role)
        keys[role] = key
        found[role] = None if value is None else to_numpy(value)
    for role in ("W_enc", "W_dec"):
        if found[role] is None:
            raise ConvertError(
                f"no {role} in the checkpoint (looked for {', '.join(ALIASES[role])}; found {', '.join(sorted(tensors)) or 'nothing'})"
            )
        if found[role].ndim != 2:
            raise ConvertError(f"{keys[role]} has shape {list(found[role].shape)}; expected a matrix")
    w_enc, w_dec = found["W_enc"], found["W_dec"]
    if found["b_dec"] is not None:
        d = found["b_dec"].shape[0]
    elif found["b_enc"] is not None:
        d = w_enc.size // found["b_enc"].shape[0]
    else:
        d = min(w_enc.shape)
    n = w_enc.size // d
    if d == n and layout is None:
        raise ConvertError(
            f"W_enc is square ({d}x{n}), so its orientation is ambiguous; pass --layout linear "
            "(W_enc [n,d], W_dec [d,n], as nn.Linear) or --layout saelens (W_enc [d,n], W_dec [n,d])"
        )
    if layout == "saelens" or (layout is None and w_enc.shape == (d, n)):
        w_enc = np.ascontiguousarray(w_enc.T)
    if layout == "saelens" or (layout is None and w_dec.shape == (n, d)):
        w_dec = np.ascontiguousarray(w_dec.T)
    if w_enc.shape != (n, d) or w_dec.shape != (d, n):
        raise ConvertError(
            f"shapes do not fit one SAE: {keys['W_enc']} {list(found['W_enc'].shape)}, {keys['W_dec']} "
            f"{list(found['W_dec'].shape)} with d={d}, n={n}; check that the checkpoint is a single SAE"
        )
    b_enc = found["b_enc"] if found["b_enc"] is not None else np.zeros(n, dtype="<f4")
    b_dec = found["b_dec"] if found["b_dec"] is not None else np.zeros(d, dtype="<f4")
    if b_enc.shape != (n,) or b_dec.shape != (d,):
        raise ConvertError(f"biases have shapes {list(b_enc.shape)} and {list(b_dec.shape)}; expected [{n}] and [{d}]")
    for role, array in (("W_enc", w_enc), ("b_enc", b_enc), ("W_dec", w_dec), ("b_dec", b_dec)):
        if not np.isfinite(array).all():
            raise ConvertError(f"{role} contains NaN or infinite values; the checkpoint is damaged or training diverged")
    return {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}, keys, d, n


def write_safetensors(path, weights):
    header = {"__metadata__": {"format": FORMAT}}
    offset = 0
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        size = weights[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(weights[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text.encode())) % 8) % 8)
    digest = hashlib.sha256()
    with open(path, "xb") as out:
        for chunk in (struct.pack("<Q", len(text.encode())), text.encode()):
            digest.update(chunk)
            out.write(chunk)
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            data = memoryview(weights[name]).cast("B")
            step = 16 << 20
            for start in range(0, len(data), step):
                digest.update(data[start:start + step])
                out.write(data[start:start + step])
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def write_folder(out_dir, weights, manifest_fields):
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        strangers = [name for name in os.listdir(out_dir) if name not in ARTIFACT_FILES and not name.startswith(".steer-encoder-")]
        if strangers:
            raise ConvertError(f"{out_dir} already holds files that are not an SAE ({', '.join(strangers[:3])}); choose an empty or new folder")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    temp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-", dir=parent)
    try:
        sha = write_safetensors(os.path.join(temp, "sae.safetensors"), weights)
        manifest = {"format": FORMAT, "id": "sae-" + sha[:16], "sha256": sha, **manifest_fields}
        with open(os.path.join(temp, "manifest.json"), "x", encoding="utf-8") as out:
            out.write(json.dumps(manifest, indent=2) + "\n")
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.old-", dir=parent)
            os.rmdir(old)
            os.rename(out_dir, old)
            os.rename(temp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(temp, out_dir)
        return manifest
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def main(argv):
    parser = argparse.ArgumentParser(description="Convert a PyTorch TopK SAE state_dict to a steer-sae/1 folder.")
    parser.add_argument("checkpoint", help="a .pt/.pth file holding a state_dict (or a dict wrapping one)")
    parser.add_argument("out_dir", help="the SAE folder to write (replaced if it already holds an SAE)")
    parser.add_argument("--k", type=int, required=True, help="active latents per input (TopK k)")
    parser.add_argument("--model", required=True, help="embedding model the SAE was trained on, e.g. bge-base-en-v1.5")
    parser.add_argument("--normalized", required=True, choices=["true", "false"], help="whether that model's embeddings are unit-norm")
    parser.add_argument("--layout", choices=["linear", "saelens"], help="orientation of the matrices when it cannot be inferred")
    parser.add_argument("--trust-pickle", action="store_true", help="allow checkpoints that pickle Python objects")
    args = parser.parse_args(argv)
    try:
        tensors = load_state_dict(args.checkpoint, args.trust_pickle)
        weights, keys, d, n = map_weights(tensors, args.layout)
        if args.k < 1 or args.k > n:
            raise ConvertError(f"--k is {args.k} but the SAE has {n} latents; use 1 <= k <= {n}")
        created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        manifest = write_folder(
            args.out_dir,
            weights,
            {
                "k": args.k,
                "dModel": d,
                "nLatents": n,
                "embedding": {"model": args.model, "dims": d, "normalized": args.normalized == "true"},
                "training": {
                    "convertedFrom": os.path.basename(args.checkpoint),
                    "converter": "convert_torch_sae.py",
                    "sourceKeys": keys,
                },
                "createdAt": created,
            },
        )
    except ConvertError as error:
        print(f"convert_torch_sae: {error}", file=sys.stderr)
        return 2
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
