"""The delivery runtime: one sender worker per channel, the same for every provider.

retry (pure) decides what a failed attempt leads to; ledger, bucket and breaker keep what every
sender worker of a channel shares in Redis; deliver runs one message through them; worker
consumes a channel topic and commits only what reached an outcome.
"""
