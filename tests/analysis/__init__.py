"""Specifications of pipeline/analysis/, one test module per subject module.

A package, so that its test modules may share names with those of tests/features and tests/models
(test_account, test_queue) as the modules they specify do.
"""
