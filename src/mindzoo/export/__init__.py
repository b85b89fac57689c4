"""Export to MINDIR / ONNX / AIR with automatic verification against the live network."""
from mindzoo.export.exporter import (
    FORMAT_SUFFIXES,
    INPUT_NAME,
    OUTPUT_NAME,
    ExportResult,
    check_format_supported,
    export_and_verify,
    export_network,
    make_onnx_batch_dynamic,
    model_io,
    normalize_format,
    read_sidecar,
    resolve_batch_size,
    resolve_output_path,
    sidecar_path,
)
from mindzoo.export.verify import VERIFY_TOLERANCE, relative_error, verify_export

__all__ = [
    "FORMAT_SUFFIXES", "INPUT_NAME", "OUTPUT_NAME", "VERIFY_TOLERANCE", "ExportResult",
    "check_format_supported", "export_and_verify", "export_network", "make_onnx_batch_dynamic", "model_io",
    "normalize_format", "read_sidecar", "relative_error", "resolve_batch_size",
    "resolve_output_path", "sidecar_path", "verify_export",
]
