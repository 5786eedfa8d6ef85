"""The PyTorch-eager peer of GspoSharp's benchmarks: the same models, the same workloads, in plain PyTorch.

Reads a Hugging Face checkpoint directory (config.json + *.safetensors) of one of the four
architectures GspoSharp implements -- qwen3, qwen3_moe, qwen2, llama -- and runs it as a competent
PyTorch user would on a CPU: float32, q/k/v and gate/up projections fused into one GEMM each,
a preallocated KV cache, a cached RoPE table, torch.inference_mode for sampling, the thread count
set explicitly. Before timing anything it scores the sequences of --check and compares its
log-probs with GspoSharp's; if they differ it refuses to time (exit code 3).

    /usr/bin/python3 bench/peer/peer.py --model DIR --threads 2 --check check.json \
        --workload rollout --batch 64 --prompt 16 --new 128

Workloads (each timed as the best of --repeats runs after one warm-up run):
  rollout  prefill --batch prompts of --prompt tokens, then --new tokens each, sampled at
           temperature 1 with the sampled token's log-prob (what a rollout needs)
  update   forward over --batch x --prompt tokens, log-softmax gather of the next tokens,
           backward, AdamW
  step     one GSPO step: --batch prompts x --group samples of --new tokens, the old policy's
           log-probs, then --minibatches updates (forward, sequence-level clipped objective,
           backward, gradient clipping at 1, AdamW)
Prints one JSON line. Install: bench/README.md (Debian's python3-torch, run with /usr/bin/python3).
"""
import argparse
import ctypes
import json
import math
import os
import struct
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", required=True)
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--check", required=True, help='JSON {"ids": [[..]], "logprobs": [[..]]} from GspoSharp')
parser.add_argument("--tolerance", type=float, default=1e-4)
parser.add_argument("--workload", choices=["check", "rollout", "update", "step"], default="check")
parser.add_argument("--batch", type=int, default=1)
parser.add_argument("--prompt", type=int, default=16)
parser.add_argument("--new", type=int, default=16)
parser.add_argument("--group", type=int, default=8)
parser.add_argument("--minibatches", type=int, default=4)
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = str(args.threads)
# OpenMP workers that wait passively, as GspoSharp's do (docs/performance.md, Threads): with the
# default (spinning) policy and two threads on a loaded 2-core machine, the tiny model's rollout
# took 11.7 s instead of 0.3 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the thread variables, which the libraries read when they load)
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def mapped_libraries():
    try:
        with open("/proc/self/maps") as maps:
            return {line.split()[-1] for line in maps if "/" in line and ".so" in line}
    except OSError:
        return set()


def openblas_core():
    for path in sorted(p for p in mapped_libraries() if "openblas" in os.path.basename(p).lower()):
        try:
            library = ctypes.CDLL(path)
            library.openblas_get_corename.restype = ctypes.c_char_p
            return library.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


# As bench/peer/matmul.py: an OpenBLAS older than the CPU falls back to generic kernels; run again
# with the kernel set the CPU supports.
torch.matmul(torch.ones(8, 8), torch.ones(8, 8))
core = openblas_core()
if core is not None and core.lower() == "prescott" and "OPENBLAS_CORETYPE" not in os.environ:
    with open("/proc/cpuinfo") as info:
        flags = next((set(line.split(":", 1)[1].split()) for line in info if line.startswith("flags")), set())
    wanted = "SkylakeX" if "avx512f" in flags else "Haswell" if {"avx2", "fma"} <= flags else None
    if wanted is not None:
        os.environ["OPENBLAS_CORETYPE"] = wanted
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)


def blas_path():
    """What torch.__config__.show() says about BLAS and oneDNN, and the BLAS library actually loaded."""
    shown = torch.__config__.show()
    info = [part.strip() for part in shown.replace("\n", ",").split(",") if "BLAS_INFO" in part or "MKL-DNN" in part or "USE_MKLDNN" in part]
    loaded = sorted({os.path.basename(p) for p in mapped_libraries() if any(k in os.path.basename(p).lower() for k in ("openblas", "libblas", "mkl", "blis"))})
    return {"config": info, "loaded": loaded, "openblas_core": core}


# ---------------------------------------------------------------- checkpoint

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """The safetensors format: u64 little-endian header size, a JSON header, then raw tensor bytes."""
    data = bytearray(os.path.getsize(path))   # one buffer; the tensors are views of it
    with open(path, "rb") as f:
        f.readinto(data)
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8:8 + size]))
    base = 8 + size
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        count = (end - start) // torch.tensor([], dtype=dtype).element_size()
        t = torch.frombuffer(data, dtype=dtype, count=count, offset=base + start) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(entry["shape"]).float()
    return tensors


def load(directory):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    tensors = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".safetensors"):
            tensors.update(read_safetensors(os.path.join(directory, name)))
    return config, tensors


# ---------------------------------------------------------------- model

class Model:
    """Qwen3 / Qwen3-MoE / Qwen2 / Llama decoder with Hugging Face semantics, fused q/k/v and gate/up."""

    def __init__(self, config, tensors):
        c = config
        self.type = c["model_type"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        self.eps = c["rms_norm_eps"]
        self.qk_norm = self.type in ("qwen3", "qwen3_moe")
        self.top_k = c.get("num_experts_per_tok", 0)
        self.norm_topk = c.get("norm_topk_prob", False)
        sparse_step = c.get("decoder_sparse_step", 1)
        only_mlp = set(c.get("mlp_only_layers", []))
        self.moe = [self.type == "qwen3_moe" and c.get("num_experts", 0) > 0 and i not in only_mlp and (i + 1) % sparse_step == 0
                    for i in range(self.layers)]
        p = {}

        def param(t):
            return t.contiguous().requires_grad_(True)

        p["embed"] = param(tensors["model.embed_tokens.weight"])
        p["norm"] = param(tensors["model.norm.weight"])
        p["head"] = p["embed"] if c.get("tie_word_embeddings", False) else param(tensors["lm_head.weight"])
        for i in range(self.layers):
            pre = f"model.layers.{i}."
            a = pre + "self_attn."
            p[f"{i}.in_norm"] = param(tensors[pre + "input_layernorm.weight"])
            p[f"{i}.post_norm"] = param(tensors[pre + "post_attention_layernorm.weight"])
            p[f"{i}.qkv"] = param(torch.cat([tensors[a + n + ".weight"] for n in ("q_proj", "k_proj", "v_proj")]))
            if a + "q_proj.bias" in tensors:
                p[f"{i}.qkv_bias"] = param(torch.cat([tensors[a + n + ".bias"] for n in ("q_proj", "k_proj", "v_proj")]))
            p[f"{i}.o"] = param(tensors[a + "o_proj.weight"])
            if self.qk_norm:
                p[f"{i}.q_norm"] = param(tensors[a + "q_norm.weight"])
                p[f"{i}.k_norm"] = param(tensors[a + "k_norm.weight"])
            m = pre + "mlp."
            if self.moe[i]:
                p[f"{i}.router"] = param(tensors[m + "gate.weight"])
                e = 0
                while f"{m}experts.{e}.gate_proj.weight" in tensors:
                    x = f"{m}experts.{e}."
                    p[f"{i}.e{e}.gate_up"] = param(torch.cat([tensors[x + "gate_proj.weight"], tensors[x + "up_proj.weight"]]))
                    p[f"{i}.e{e}.down"] = param(tensors[x + "down_proj.weight"])
                    e += 1
                self.experts = e
            else:
                p[f"{i}.gate_up"] = param(torch.cat([tensors[m + "gate_proj.weight"], tensors[m + "up_proj.weight"]]))
                p[f"{i}.down"] = param(tensors[m + "down_proj.weight"])
        self.p = p
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        scaling = c.get("rope_scaling") or {}
        if scaling.get("type", scaling.get("rope_type")) == "linear":
            inv = inv / scaling["factor"]
        freqs = torch.outer(torch.arange(c.get("max_position_embeddings", 2048), dtype=torch.float32), inv)
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def parameters(self):
        seen, out = set(), []
        for t in self.p.values():
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        return out

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x, cos, sin):
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def mlp(self, i, x):
        p = self.p
        if not self.moe[i]:
            gate, up = F.linear(x, p[f"{i}.gate_up"]).chunk(2, -1)
            return F.linear(F.silu(gate) * up, p[f"{i}.down"])
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        probs = F.linear(tokens, p[f"{i}.router"]).softmax(-1, dtype=torch.float32)
        weights, chosen = probs.topk(self.top_k, -1)
        if self.norm_topk:
            weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(tokens)
        # As Hugging Face's Qwen3MoeSparseMoeBlock: each expert runs on the tokens routed to it.
        hit = torch.nn.functional.one_hot(chosen, self.experts).permute(2, 1, 0)   # [E, k, N]
        for e in torch.nonzero(hit.sum((1, 2))).flatten().tolist():
            slot, token = torch.where(hit[e])
            gate, up = F.linear(tokens[token], p[f"{i}.e{e}.gate_up"]).chunk(2, -1)
            y = F.linear(F.silu(gate) * up, p[f"{i}.e{e}.down"]) * weights[token, slot, None]
            out.index_add_(0, token, y)
        return out.reshape(shape)

    def forward(self, ids, cache=None, past=0):
        """Hidden states [B, t, d] of ids [B, t] (no padding) following `past` cached positions."""
        p = self.p
        b, t = ids.shape
        h = F.embedding(ids, p["embed"])
        cos = self.cos[past:past + t][None, None]
        sin = self.sin[past:past + t][None, None]
        H, Hkv, D = self.heads, self.kv_heads, self.head_dim
        g = H // Hkv
        causal = None
        if t > 1:
            causal = torch.full((t, past + t), float("-inf")).triu_(past + 1)
        for i in range(self.layers):
            x = self.rms(h, p[f"{i}.in_norm"])
            qkv = F.linear(x, p[f"{i}.qkv"], p.get(f"{i}.qkv_bias")).view(b, t, H + 2 * Hkv, D)
            q, k, v = qkv.split([H, Hkv, Hkv], 2)
            if self.qk_norm:
                q = self.rms(q, p[f"{i}.q_norm"])
                k = self.rms(k, p[f"{i}.k_norm"])
            q = self.rope(q.transpose(1, 2), cos, sin)
            k = self.rope(k.transpose(1, 2), cos, sin)
            v = v.transpose(1, 2)
            if cache is not None:
                keys, values = cache[i]
                keys[:b, :, past:past + t] = k
                values[:b, :, past:past + t] = v
                k, v = keys[:b, :, :past + t], values[:b, :, :past + t]
            # Grouped-query attention: the g query heads of a key/value head as g rows of that head.
            qg = q.reshape(b, Hkv, g * t, D)
            scores = torch.matmul(qg, k.transpose(-1, -2)) / math.sqrt(D)
            if causal is not None:
                scores = (scores.view(b, Hkv, g, t, past + t) + causal).view(b, Hkv, g * t, past + t)
            attended = torch.matmul(scores.softmax(-1), v).view(b, H, t, D)
            h = h + F.linear(attended.transpose(1, 2).reshape(b, t, H * D), p[f"{i}.o"])
            h = h + self.mlp(i, self.rms(h, p[f"{i}.post_norm"]))
        return self.rms(h, p["norm"])

    def logits(self, hidden):
        return F.linear(hidden, self.p["head"])

    def token_logprobs(self, ids):
        """log p(ids[:, t] | ids[:, <t]) for t >= 1, [B, T-1]."""
        logits = self.logits(self.forward(ids)[:, :-1])
        return logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)

    def new_cache(self, rows, length):
        shape = (rows, self.kv_heads, length, self.head_dim)
        return [(torch.empty(shape), torch.empty(shape)) for _ in range(self.layers)]

    def generate(self, prompts, new_tokens, samples=1):
        """Samples `samples` continuations of each prompt at temperature 1: tokens and their log-probs."""
        with torch.inference_mode():
            b, width = prompts.shape
            cache = self.new_cache(b * samples, width + new_tokens)
            hidden = self.forward(prompts, cache)
            logits = self.logits(hidden[:, -1])
            if samples > 1:   # the samples of a prompt share its prefill
                for keys, values in cache:
                    keys[:] = keys[:b].repeat_interleave(samples, 0)
                    values[:] = values[:b].repeat_interleave(samples, 0)
                logits = logits.repeat_interleave(samples, 0)
            tokens, logprobs = [], []
            for step in range(new_tokens):
                logp = logits.float().log_softmax(-1)
                token = torch.multinomial(logp.exp(), 1)
                tokens.append(token)
                logprobs.append(logp.gather(-1, token))
                if step + 1 < new_tokens:
                    logits = self.logits(self.forward(token, cache, width + step)[:, -1])
            return torch.cat(tokens, 1), torch.cat(logprobs, 1)


# ---------------------------------------------------------------- workloads

def best_of(run, repeats):
    run()   # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    config, tensors = load(args.model)
    model = Model(config, tensors)
    del tensors
    with open(args.check) as f:
        check = json.load(f)
    with torch.inference_mode():
        ours = model.token_logprobs(torch.tensor(check["ids"]))
    theirs = torch.tensor(check["logprobs"])
    diff = (ours - theirs).abs().max().item()
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "blas": blas_path(),
              "model_type": model.type, "check_max_abs_diff": diff}
    if not diff <= args.tolerance:
        result["error"] = f"log-probs differ from GspoSharp's by up to {diff:.3g} (> {args.tolerance:g}): not timing"
        print(json.dumps(result))
        sys.exit(3)
    vocab = config["vocab_size"]
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(0, vocab, (args.batch, args.prompt), generator=generator)
    parameters = model.parameters()
    if args.workload == "rollout":
        result["seconds"] = best_of(lambda: model.generate(prompts, args.new), args.repeats)
    elif args.workload == "update":
        optimizer = torch.optim.AdamW(parameters, lr=1e-5)

        def update():
            optimizer.zero_grad(set_to_none=True)
            (-model.token_logprobs(prompts).mean()).backward()
            optimizer.step()
        result["seconds"] = best_of(update, args.repeats)
    elif args.workload == "step":
        optimizer = torch.optim.AdamW(parameters, lr=1e-5)
        rows = args.batch * args.group

        def step():
            tokens, _ = model.generate(prompts, args.new, samples=args.group)
            ids = torch.cat([prompts.repeat_interleave(args.group, 0), tokens], 1)
            rewards = (tokens % 10 == 0).float().mean(1)   # a stand-in reward; its cost is nothing
            groups = rewards.view(args.batch, args.group)
            advantages = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-4)).flatten()
            completion = slice(args.prompt - 1, None)
            with torch.no_grad():
                old = model.token_logprobs(ids)[:, completion]
            order = torch.randperm(rows)
            for chunk in order.chunk(args.minibatches):
                optimizer.zero_grad(set_to_none=True)
                logp = model.token_logprobs(ids[chunk])[:, completion]
                ratio = (logp - old[chunk]).mean(1).exp()   # GSPO: the sequence-level ratio
                a = advantages[chunk]
                loss = -torch.min(ratio * a, ratio.clamp(1 - 3e-4, 1 + 4e-4) * a).mean()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
        result["seconds"] = best_of(step, args.repeats)
    print(json.dumps(result))


main()
