"""Benchmarks: sync a fake HiBob tenant of N employees and measure requests, pacing, CPU, RSS."""
