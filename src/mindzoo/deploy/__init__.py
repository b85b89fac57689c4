"""Running exported models outside training: the C++ harness's plan (``infer_plan``) and files
(``harness_files``: results, meta.json, labels, acc.log, timing), and the MINDIR runtime (``mindir_runtime``).

Nothing is imported here: ``postprocess.py`` reads ``harness_files`` on hosts without MindSpore.
"""
