"""Durable background jobs: the runner (in-process or arq), the periodic scheduler, the worker process."""
