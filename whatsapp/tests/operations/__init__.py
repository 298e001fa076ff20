"""Probes, metrics, logging, queues, pooling and reliability."""
