"""``make bench``: rillchat's benchmarks, run as ``python -m bench`` (see ``bench/__main__.py``).

- ``relay``: per-token delay, rate, CPU and memory relaying a fake OpenAI upstream's streams (``relay.py``,
  with the load generator in ``loadgen.py``);
- ``embedded``: the embedded model through rillchat vs llama-cpp-python in process (``embedded.py``);
- ``resume``: replaying a finished reply's event log, and its memory (``resume.py``);
- ``replicas``: the Redis event log against the in-memory one, and a second replica serving streams from
  Redis (``replicas.py``, with a throwaway redis-server);
- ``profile``: py-spy on rillchat under load (``profile.py``).

``procs.py`` starts and always stops the processes; ``report.py`` prints the tables and the targets.
"""
