"""Keep MindSpore's oneDNN convolutions off the AVX-512 reference path.

On AVX-512 CPUs, oneDNN inside MindSpore 2.10 picks a reference (non-JIT) kernel for every
convolution larger than 1x1: a ResNet50 training step at batch 32 takes ~300 s instead of ~8 s.
Capping the ISA at AVX2 selects the fast JIT kernels. oneDNN reads the variable once, when it first
dispatches, so it must be set before MindSpore runs anything; ``import mindzoo`` does it first thing.
A value the user already set is respected.
"""
import os

ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
DEFAULT_ISA = "AVX2"


def ensure_cpu_isa() -> str:
    """Set ``ONEDNN_MAX_CPU_ISA=AVX2`` unless the user chose a value; return the value in force."""
    return os.environ.setdefault(ISA_VARIABLE, DEFAULT_ISA)


ensure_cpu_isa()
