"""The ledger: the domain of tracked items and the append-only log that records it.

Pure rules and values (``lifecycle``, ``registry``, ``domain``, ``events``,
``codes``, ``chain``, ``errors``, ``ids``, ``scan``, ``passport``) sit apart from
what runs them against a store: ``commit`` and ``service`` (writes, group
commit), ``idempotency``, ``orgs``, ``items``, ``intake``, ``reads``,
``projection``, ``transparency``. ``store`` is the storage contract and its
implementations; ``verify`` checks a log without trusting it. ARCHITECTURE.md
at the repository's root maps them.
"""
