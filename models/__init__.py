"""Training-set assembly, the estimator, evaluation, reasons and the promotion rule (no I/O)."""
