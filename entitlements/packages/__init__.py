"""Packages: what each grants, their limits (the one rule that combines them), channel rights."""
