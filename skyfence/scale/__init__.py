"""Audits beyond one engine in one process: Apache Spark, and datasets larger than memory."""
