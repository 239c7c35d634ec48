"""Loaded by schemathesis (scripts/schemathesis.toml `hooks`) before it generates anything.

CPython 3.11.7, the machine's python3, can fail `ast.parse` of a large module with
"SystemError: AST constructor recursion depth mismatch" when called deep in a stack (fixed in
later CPython releases). Hypothesis parses schemathesis's own source that way only to *describe*
a lambda (the repr of a filtered strategy), and the error then stops schemathesis's coverage phase
for an operation. A description is not needed to generate data: fall back to a plain one.
"""

from hypothesis.internal import lambda_sources

_describe = lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda"


lambda_sources.lambda_description = _lambda_description
