"""The PyTorch twin: FSDL 2022's ResnetTransformer with our presets' settings, loading the weights
burn exports (`twin export DIR`), so both frameworks compute the same numbers.

  twin.py parity DIR            logits and greedy tokens against burn's reference outputs
  twin.py time [options]        timings, one JSON object per line (same cases as `twin time`)
  twin.py gpu DIR --device cuda the accelerator cases of `twin gpu` (benches/gpu/run.sh)
  twin.py table FILE...         a Markdown table of burn/PyTorch ratios from those JSON lines

Deliberately FSDL's way where FSDL has a way: torch.nn.TransformerDecoder (post-norm,
sequence-first), a causal float mask plus a key padding mask, greedy decoding that re-decodes the
whole prefix at every step and checks for <E>/<P> on the host. The KV-cache decoder is written
here (torch has none) so that the cached rows compare like with like.
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

START, END, PAD = 1, 2, 3


# ---------------------------------------------------------------- the architecture


class Downsample(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        needs = tuple(stride) != (1, 1) or c_in != c_out
        self.downsample = Downsample(c_in, c_out, stride) if needs else None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet-18 trunk (no avgpool/fc) with our widths, depths and strides."""

    def __init__(self, cfg):
        super().__init__()
        self.in_channels = cfg["in_channels"]
        stem = cfg["stem_width"]
        self.conv1 = nn.Conv2d(self.in_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        blocks, c = [], stem
        for width, depth, stride in zip(cfg["widths"], cfg["depths"], cfg["strides"]):
            for i in range(depth):
                blocks.append(BasicBlock(c, width, tuple(stride) if i == 0 else (1, 1)))
                c = width
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        if x.shape[1] == 1 and self.in_channels > 1:
            x = x.repeat(1, self.in_channels, 1, 1)  # FSDL feeds grey as RGB
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for block in self.blocks:
            x = block(x)
        return x


def sinusoid(start, length, d):
    """pe[p, 2i] = sin(p w_i), pe[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i/d) (as burn's side)."""
    pos = np.arange(start, start + length, dtype=np.float64)[:, None]
    omega = np.exp(-math.log(10000.0) * np.arange(0, d, 2, dtype=np.float64) / d)
    pe = np.zeros((length, d), dtype=np.float64)
    pe[:, 0::2] = np.sin(pos * omega)
    pe[:, 1::2] = np.cos(pos * omega)[:, : d // 2]
    return torch.from_numpy(pe.astype(np.float32))


def image_encoding(h, w, d):
    """FSDL's PositionalEncodingImage: first half of channels the row, second half the column."""
    half = d // 2
    rows = sinusoid(0, h, half)[:, None, :].expand(h, w, half)
    cols = sinusoid(0, w, d - half)[None, :, :].expand(h, w, d - half)
    return torch.cat([rows, cols], dim=2).reshape(h * w, d)


class ResnetTransformer(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        m = cfg
        self.d = m["d_model"]
        self.heads = m["n_heads"]
        self.encoder = ResNet(m["encoder"])
        self.projection = nn.Linear(m["encoder"]["widths"][-1], self.d)
        self.embedding = nn.Embedding(vocab, self.d)
        layer = nn.TransformerDecoderLayer(self.d, self.heads, m["d_ff"], m["dropout"])
        self.decoder = nn.TransformerDecoder(layer, m["n_layers"])
        self.head = nn.Linear(self.d, vocab)

    def encode(self, images):
        """(B, 1, H, W) -> memory (S, B, d), sequence-first as FSDL."""
        f = self.encoder(images)
        _, _, h, w = f.shape
        x = self.projection(f.flatten(2).permute(2, 0, 1))
        return x + image_encoding(h, w, self.d)[:, None, :].to(x)

    def embed(self, tokens, start):
        """(B, T) -> (T, B, d)."""
        x = self.embedding(tokens.T) * math.sqrt(self.d)
        return x + sinusoid(start, tokens.shape[1], self.d)[:, None, :].to(x)

    def decode(self, memory, tokens):
        """FSDL's decode: teacher-forced logits (T, B, V) for tokens (B, T)."""
        t = tokens.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=tokens.device)
        padding = torch.zeros(tokens.shape, device=tokens.device).masked_fill(tokens == PAD, float("-inf"))
        out = self.decoder(self.embed(tokens, 0), memory, tgt_mask=mask, tgt_key_padding_mask=padding)
        return self.head(out)


def load_config(directory, preset):
    with open(f"{directory}/{preset}.json") as f:
        return json.load(f)


def load_twin(directory, preset):
    """The twin of `{directory}/{preset}.safetensors` (burn names, PyTorch layouts)."""
    from safetensors.numpy import load_file  # not needed by `gpu`: GPU boxes may lack it

    config = load_config(directory, preset)
    model = ResnetTransformer(config["model"], config["vocab"])
    burn = load_file(f"{directory}/{preset}.safetensors")
    state = {}
    for key, value in burn.items():
        value = torch.from_numpy(value.copy())
        parts = key.split(".")
        if parts[0] == "layers":  # layers.i.{self_attn,cross_attn,linear1,...}.param
            i, module, rest = parts[1], parts[2], parts[3:]
            prefix = f"decoder.layers.{i}"
            if module in ("self_attn", "cross_attn"):
                torch_name = "self_attn" if module == "self_attn" else "multihead_attn"
                if rest[0] == "output":
                    state[f"{prefix}.{torch_name}.out_proj.{rest[1]}"] = value
                else:  # query/key/value are packed into in_proj in PyTorch
                    state.setdefault((prefix, torch_name, rest[1]), {})[rest[0]] = value
            else:
                state[f"{prefix}.{module}.{'.'.join(rest)}"] = value
        else:
            state[key] = value
    for packed in [k for k in state if isinstance(k, tuple)]:
        prefix, name, param = packed
        qkv = state.pop(packed)
        state[f"{prefix}.{name}.in_proj_{param}"] = torch.cat([qkv["query"], qkv["key"], qkv["value"]])
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"{preset}: weights do not fit the twin: missing {missing}, unexpected {unexpected}")
    return model.eval(), config


# ---------------------------------------------------------------- decoding


def greedy_fsdl(model, memory, steps, forced=True):
    """FSDL's ResnetTransformer.forward loop: re-decode the prefix at every step."""
    b = memory.shape[1]
    out = torch.full((b, steps + 1), PAD, dtype=torch.long, device=memory.device)
    out[:, 0] = START
    for sy in range(1, steps + 1):
        logits = model.decode(memory, out[:, :sy])
        out[:, sy] = torch.argmax(logits, dim=-1)[-1]
        done = bool(((out[:, sy] == END) | (out[:, sy] == PAD)).all())  # FSDL's host check
        if done and not forced:
            break
    return out[:, 1:]


def _split(x, heads):
    t, b, d = x.shape
    return x.reshape(t, b, heads, d // heads).permute(1, 2, 0, 3)  # (B, h, T, dk)


def _attend(q, k, v):
    b, h, t, dk = q.shape
    w = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dk), dim=-1)
    return (w @ v).permute(2, 0, 1, 3).reshape(t, b, h * dk)


def greedy_cached(model, memory, steps):
    """Greedy decoding with a per-layer KV cache, same weights and maths as nn.TransformerDecoder."""
    d, heads = model.d, model.heads
    b = memory.shape[1]
    layers = list(model.decoder.layers)
    cross = []
    for layer in layers:
        w, bias = layer.multihead_attn.in_proj_weight, layer.multihead_attn.in_proj_bias
        k = F.linear(memory, w[d : 2 * d], bias[d : 2 * d])
        v = F.linear(memory, w[2 * d :], bias[2 * d :])
        cross.append((_split(k, heads), _split(v, heads)))
    selfkv = [None] * len(layers)
    token = torch.full((b, 1), START, dtype=torch.long, device=memory.device)
    out = []
    for t in range(steps):
        x = model.embed(token, t)  # (1, B, d)
        for i, layer in enumerate(layers):
            sa = layer.self_attn
            q, k, v = F.linear(x, sa.in_proj_weight, sa.in_proj_bias).chunk(3, dim=-1)
            q, k, v = _split(q, heads), _split(k, heads), _split(v, heads)
            if selfkv[i] is not None:
                k, v = torch.cat([selfkv[i][0], k], 2), torch.cat([selfkv[i][1], v], 2)
            selfkv[i] = (k, v)
            x = layer.norm1(x + sa.out_proj(_attend(q, k, v)))
            ca = layer.multihead_attn
            q = _split(F.linear(x, ca.in_proj_weight[:d], ca.in_proj_bias[:d]), heads)
            x = layer.norm2(x + ca.out_proj(_attend(q, *cross[i])))
            x = layer.norm3(x + layer.linear2(F.relu(layer.linear1(x))))
        token = torch.argmax(model.head(x[0]), dim=-1, keepdim=True)
        out.append(token)
        _ = bool(((token == END) | (token == PAD)).all())  # the same host check as FSDL's loop
    return torch.cat(out, dim=1)


# ---------------------------------------------------------------- commands


def parity(directory):
    from safetensors.numpy import load_file

    ok = True
    for preset in ("line", "paragraph"):
        model, _ = load_twin(directory, preset)
        ref = {k: torch.from_numpy(v.copy()) for k, v in load_file(f"{directory}/{preset}.reference.safetensors").items()}
        with torch.inference_mode():
            memory = model.encode(ref["image"])
            logits = model.decode(memory, ref["tokens"]).permute(1, 0, 2)
            diff = (logits - ref["logits"]).abs().max().item()
            steps = ref["greedy"].shape[1]
            fsdl = greedy_fsdl(model, memory, steps)
            cached = greedy_cached(model, memory, steps)
        same_fsdl = torch.equal(fsdl, ref["greedy"])
        same_cached = torch.equal(cached, ref["greedy"])
        scale = ref["logits"].abs().max().item()
        print(
            f"{preset}: max |logit burn - torch| = {diff:.2e} (logits up to {scale:.2f}); "
            f"greedy {steps} tokens: FSDL loop {'same' if same_fsdl else 'DIFFERENT'}, "
            f"KV cache {'same' if same_cached else 'DIFFERENT'}"
        )
        ok &= diff <= 1e-3 and same_fsdl and same_cached
    if not ok:
        sys.exit("parity check FAILED")
    print("parity: ok (max |Δlogit| ≤ 1e-3, identical greedy tokens)")


def median(repeats, f):
    f()
    times = []
    for _ in range(max(repeats, 1)):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(case, seconds):
    print(json.dumps({"framework": "pytorch", "case": case, "seconds": seconds}), flush=True)


def timings(directory, paragraph_tokens, line_tokens, repeats, uncached):
    torch.manual_seed(42)
    para, _ = load_twin(directory, "paragraph")
    image = torch.rand(1, 1, 576, 640)
    with torch.inference_mode():
        report(
            f"paragraph, KV cache, {paragraph_tokens} tokens",
            median(repeats, lambda: greedy_cached(para, para.encode(image), paragraph_tokens)),
        )
        if uncached:
            report(
                f"paragraph, no cache (FSDL), {paragraph_tokens} tokens",
                median(repeats, lambda: greedy_fsdl(para, para.encode(image), paragraph_tokens)),
            )
        line, _ = load_twin(directory, "line")
        image = torch.rand(1, 1, 64, 1024)
        report(
            f"line 64x1024, KV cache, {line_tokens} tokens",
            median(repeats, lambda: greedy_cached(line, line.encode(image), line_tokens)),
        )
    for preset, batch, (h, w), length in (("line", 4, (64, 512), 48), ("paragraph", 2, (576, 640), 200)):
        model, config = load_twin(directory, preset)
        model.train()
        optim = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
        x = torch.rand(batch, 1, h, w)
        y = torch.randint(4, config["vocab"], (batch, length + 1))
        y[:, 0] = START

        def step():
            optim.zero_grad()
            logits = model.decode(model.encode(x), y[:, :-1])  # (T, B, V)
            loss = loss_fn(logits.permute(1, 2, 0), y[:, 1:])
            loss.backward()
            optim.step()

        report(f"train step {preset}, B={batch}, {h}x{w}, T={length}", median(repeats, step))


def gpu(directory, device, runs, train_batches=(16, 32), infer_batches=(1, 16), cases=("train", "infer", "conv"), tf32=True):
    """The accelerator cases of `twin gpu`, with torch on `device`. Random weights of the
    architecture in `{directory}/{preset}.json` (the cost does not depend on them), so this
    needs neither the weights nor the safetensors package. `tf32=False` turns off cuDNN's TF32
    convolutions (on by default in PyTorch; its matmuls are strict float32 by default), so
    every product is float32 as burn's are."""
    dev = torch.device(device)
    framework = "pytorch" if tf32 else "pytorch-fp32"
    torch.backends.cudnn.allow_tf32 = tf32
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def mean_after_warmup(f):
        for _ in range(3):
            f()
        sync()
        t = time.perf_counter()
        for _ in range(max(runs, 1)):
            f()
        sync()
        return (time.perf_counter() - t) / max(runs, 1)

    def report(case, seconds):
        print(json.dumps({"framework": framework, "device": device, "case": case, "seconds": seconds}), flush=True)

    unknown = set(cases) - {"train", "infer", "conv"}
    if unknown:
        sys.exit(f"--cases: unknown group(s) {sorted(unknown)} (train, infer, conv)")
    train_batches = train_batches if "train" in cases else ()
    infer_batches = infer_batches if "infer" in cases else ()
    convs = ((1, 32, 7, 2, (64, 2048)), (32, 32, 3, 1, (16, 512))) if "conv" in cases else ()
    for preset, (h, w), length in (("line", (64, 1024), 64), ("paragraph", (576, 640), 200)):
        for batch in train_batches:
            config = load_config(directory, preset)
            model = ResnetTransformer(config["model"], config["vocab"]).to(dev).train()
            optim = torch.optim.Adam(model.parameters(), lr=1e-3)
            loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
            x = torch.rand(batch, 1, h, w, device=dev)
            y = torch.randint(4, config["vocab"], (batch, length + 1), device=dev)
            y[:, 0] = START

            def step():
                optim.zero_grad()
                logits = model.decode(model.encode(x), y[:, :-1])
                loss = loss_fn(logits.permute(1, 2, 0), y[:, 1:])
                loss.backward()
                optim.step()
                loss.item()  # the host read burn's step makes too

            report(f"train step {preset}, B={batch}, {h}x{w}, T={length}", mean_after_warmup(step))
    for preset, (h, w), steps in (("line", (64, 1024), 64), ("paragraph", (576, 640), 400)):
        if not infer_batches:
            break
        config = load_config(directory, preset)
        model = ResnetTransformer(config["model"], config["vocab"]).to(dev).eval()
        for batch in infer_batches:
            x = torch.rand(batch, 1, h, w, device=dev)
            with torch.inference_mode():
                seconds = mean_after_warmup(lambda: greedy_cached(model, model.encode(x), steps))
            report(f"recognize {preset}, B={batch}, {h}x{w}, {steps} tokens", seconds)
    for c_in, c_out, k, stride, (h, w) in convs:
        conv = nn.Conv2d(c_in, c_out, k, stride, k // 2).to(dev)
        x = torch.rand(16, c_in, h, w, device=dev, requires_grad=True)

        def fwd_bwd():
            x.grad = None
            conv(x).sum().backward()
            x.grad.sum().item()

        report(f"conv {k}x{k}/{stride} {c_in}->{c_out} fwd+bwd, 16x{c_in}x{h}x{w}", mean_after_warmup(fwd_bwd))
    if dev.type == "cuda":
        print(json.dumps({"framework": framework, "device": device, "peak_memory_bytes": torch.cuda.max_memory_allocated()}))


def table(files):
    """Median over every sample of a (framework, case); ratios of each burn build to PyTorch."""
    samples, frameworks = {}, []
    for path in files:
        with open(path) as f:
            for line in f:
                r = json.loads(line) if line.strip() else {}
                if "case" in r:
                    if r["framework"] not in frameworks:
                        frameworks.append(r["framework"])
                    samples.setdefault(r["case"], {}).setdefault(r["framework"], []).append(r["seconds"])
    ours = [f for f in frameworks if f != "pytorch"]

    def fmt(s):
        if s is None:
            return "—"
        return f"{s * 1e3:.2f} ms" if s < 0.01 else (f"{s * 1e3:.0f} ms" if s < 10 else f"{s:.1f} s")

    print("| case | " + " | ".join(frameworks) + " | " + " | ".join(f"{f} / PyTorch" for f in ours) + " |")
    print("|---" * (1 + len(frameworks) + len(ours)) + "|")
    for case, by in samples.items():
        med = {f: statistics.median(by[f]) if f in by else None for f in frameworks}
        torch_s = med.get("pytorch")
        ratios = [f"**{med[f] / torch_s:.2f}**" if med[f] and torch_s else "—" for f in ours]
        print(f"| {case} | " + " | ".join(fmt(med[f]) for f in frameworks) + " | " + " | ".join(ratios) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("parity")
    a.add_argument("dir")
    a = sub.add_parser("time")
    a.add_argument("dir")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--paragraph-tokens", type=int, default=400)
    a.add_argument("--line-tokens", type=int, default=64)
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--skip-uncached", action="store_true")
    a = sub.add_parser("gpu")
    a.add_argument("dir")
    a.add_argument("--device", default="cuda")
    a.add_argument("--runs", type=int, default=10)
    a.add_argument("--train-batches", type=lambda s: [int(b) for b in s.split(",")], default=[16, 32])
    a.add_argument("--infer-batches", type=lambda s: [int(b) for b in s.split(",")], default=[1, 16])
    a.add_argument("--cases", type=lambda s: s.split(","), default=["train", "infer", "conv"])
    a.add_argument("--no-tf32", action="store_true", help="strict float32 convolutions in cuDNN")
    a = sub.add_parser("table")
    a.add_argument("files", nargs="+")
    args = p.parse_args()
    if args.command == "parity":
        parity(args.dir)
    elif args.command == "time":
        torch.set_num_threads(args.threads)
        timings(args.dir, args.paragraph_tokens, args.line_tokens, args.repeats, not args.skip_uncached)
    elif args.command == "gpu":
        gpu(args.dir, args.device, args.runs, args.train_batches, args.infer_batches, args.cases, not args.no_tf32)
    else:
        table(args.files)


if __name__ == "__main__":
    main()
