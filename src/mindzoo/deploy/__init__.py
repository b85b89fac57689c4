"""Running exported models: the export sidecar (``sidecar``), the MINDIR/ONNX runtimes (``runtimes``), infer.py's
predictions (``predictor``), the C++ harness's plan (``infer_plan``) and files (``harness_files``: results,
meta.json, labels, acc.log, timing), and the MINDIR runner the harness embeds (``mindir_runtime``).

Nothing is imported here: ``postprocess.py`` reads ``harness_files`` on hosts without MindSpore.
"""
