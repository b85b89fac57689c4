"""The CPU the suite runs on: its features, its kind (bench/NOTES.md section 4) and the peer modes it cannot run
natively (those are skipped, not measured: an emulated mode measures the emulation, and takes hours). Read once from
``/proc/cpuinfo``, the first processor's ``flags``.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Optional

CPUINFO = Path("/proc/cpuinfo")

# cpuinfo flag -> how the docs spell it; the features the suite's modes depend on (and that decide the kind)
FEATURES = {"avx2": "AVX2", "avx512f": "AVX-512F", "avx512_bf16": "AVX512_BF16", "amx_bf16": "AMX-BF16",
            "amx_tile": "AMX-TILE", "avx512_fp16": "AVX512_FP16"}
# cpuinfo flag -> docs spelling: the int8 dot-product instructions ONNX Runtime's INT8 kernels use when present
# (VNNI: one instruction per u8 x s8 multiply-accumulate; without it, AVX2/AVX-512 need three and may saturate)
INT8_FEATURES = {"avx512_vnni": "AVX512_VNNI", "avx_vnni": "AVX-VNNI", "amx_int8": "AMX-INT8"}
KINDS = ("x86-64", "avx2", "avx512", "avx512-bf16", "avx512-bf16-amx")


@dataclass(frozen=True)
class SkipReason:
    """Why a mode is not measured on this CPU: a stable ``code`` (the docs translate it) and the English text."""

    code: str
    text: str


BF16_EMULATED = SkipReason("bf16_emulated", "bf16 would be emulated: no AVX512_BF16 or AMX-BF16")


@dataclass(frozen=True)
class CpuInfo:
    model_name: str
    vendor: str
    flags: FrozenSet[str]
    source: str

    def has(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def native_bf16(self) -> bool:
        """bf16 matmul/convolution instructions: AVX512_BF16 (AVX-512 dot products) or AMX-BF16 (tiles)."""
        return self.has("avx512_bf16") or (self.has("amx_bf16") and self.has("amx_tile"))

    @property
    def kind(self) -> str:
        if not self.has("avx512f"):
            return "avx2" if self.has("avx2") else "x86-64"
        if not self.has("avx512_bf16"):
            return "avx512"
        return "avx512-bf16-amx" if self.has("amx_bf16") and self.has("amx_tile") else "avx512-bf16"

    def describe(self) -> str:
        """One line for tables: model name, kind and the features that matter."""
        present = [name for flag, name in FEATURES.items() if self.has(flag)]
        return f"{self.model_name} ({self.kind}: {', '.join(present) or 'no AVX2'})"

    def describe_int8(self) -> str:
        """The int8 dot-product instructions present, for the INT8 rows."""
        present = [name for flag, name in INT8_FEATURES.items() if self.has(flag)]
        return ", ".join(present) or "no VNNI/AMX-INT8"

    def to_json(self) -> Dict[str, Any]:
        return {"model_name": self.model_name, "vendor": self.vendor, "kind": self.kind,
                "features": {flag: self.has(flag) for flag in FEATURES}, "native_bf16": self.native_bf16,
                "int8_features": {flag: self.has(flag) for flag in INT8_FEATURES}, "flags_source": self.source}


def parse_cpuinfo(text: str, source: str = "") -> CpuInfo:
    """The first processor block of a ``/proc/cpuinfo`` text (x86 ``flags``; ARM's ``Features`` line is read too)."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    flags = fields.get("flags") or fields.get("features") or ""
    return CpuInfo(model_name=fields.get("model name") or platform.processor() or "unknown",
                   vendor=fields.get("vendor_id") or fields.get("cpu implementer") or "unknown",
                   flags=frozenset(flags.split()), source=source)


def detect(path: Path = CPUINFO) -> CpuInfo:
    try:
        return parse_cpuinfo(Path(path).read_text(errors="replace"), source=str(path))
    except OSError:
        return CpuInfo(model_name=platform.processor() or "unknown", vendor="unknown", flags=frozenset(),
                       source=f"{path} (unreadable)")


def as_kind(kind: str, real: CpuInfo) -> CpuInfo:
    """``real`` with exactly the features of ``kind`` (``python -m bench --plan-as KIND``: skips and estimates as
    on such a CPU; whatever is measured is still measured on ``real``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown CPU kind {kind!r}; choose from {', '.join(KINDS)}")
    flags = {"x86-64": set(), "avx2": {"avx2"}, "avx512": {"avx2", "avx512f"},
             "avx512-bf16": {"avx2", "avx512f", "avx512_bf16"},
             "avx512-bf16-amx": {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16"}}[kind]
    return CpuInfo(model_name=real.model_name, vendor=real.vendor, flags=frozenset(flags),
                   source=f"--plan-as {kind} (real CPU: {real.kind})")


def torch_mode_skip(mode: str, cpu: CpuInfo) -> Optional[SkipReason]:
    """Why PyTorch ``mode`` (bench.train.TORCH_LABELS) cannot run natively here: bf16 without bf16 instructions is
    emulated (a ResNet50 batch-16 first step took over 12 minutes on Zen 3). fp32 and channels_last run anywhere."""
    if mode.startswith("bf16") and not cpu.native_bf16:
        return BF16_EMULATED
    return None


def skipped_row(reason: SkipReason, **row: Any) -> Dict[str, Any]:
    """The JSON row of a measurement that was not run, in the shape of a measured one (no numbers)."""
    return {**row, "skipped": reason.text, "skip_code": reason.code}
