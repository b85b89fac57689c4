"""Export to MINDIR / ONNX / AIR with automatic verification against the live network.

The sidecar an export writes and the runtimes that check it belong to deployment: :mod:`mindzoo.deploy.sidecar`,
:mod:`mindzoo.deploy.runtimes`.
"""
from mindzoo.export.exporter import (
    FORMAT_SUFFIXES,
    INPUT_NAME,
    OUTPUT_NAME,
    ExportResult,
    check_format_supported,
    export_and_verify,
    export_network,
    make_onnx_batch_dynamic,
    normalize_format,
    resolve_batch_size,
    resolve_output_path,
)
from mindzoo.export.verify import VERIFY_TOLERANCE, relative_error, verify_export

__all__ = [
    "FORMAT_SUFFIXES", "INPUT_NAME", "OUTPUT_NAME", "VERIFY_TOLERANCE", "ExportResult",
    "check_format_supported", "export_and_verify", "export_network", "make_onnx_batch_dynamic",
    "normalize_format", "relative_error", "resolve_batch_size", "resolve_output_path", "verify_export",
]
