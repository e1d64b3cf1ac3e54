"""Shapes that cross a process boundary: broker events, the inference protocol, the CRD spec."""
