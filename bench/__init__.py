"""Stepline against its peers (moto in process and over HTTP) and the machine's floor.

Run everything with `python -m bench`; see bench/README.md for what each figure means.
"""
