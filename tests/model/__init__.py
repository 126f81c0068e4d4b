"""The model-based test of the order lifecycle: its machine and the promises it checks."""
