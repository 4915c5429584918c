"""BOHB (hpbandster) for this project: one runner for every search, in one process or spread over machines.

- `hpo.transport`: the Pyro4 settings hpbandster needs here (pickle; numpy-free configs). Without them BOHB hangs
  silently with ConfigSpace 1.x and numpy 2.
- `hpo.logs`: every finished evaluation is on disk at once (hpbandster's json result logger), one folder per
  start of the master; a re-run reads them all back, warm-starts BOHB from them and runs only what is left.
- `hpo.bohb`: the name server, workers and master as separate pieces (each can run on its own machine; workers find
  the name server by host and port), and `run_bohb`, which runs all three inside one process on the loopback
  interface for small searches (the meta-classifier's); `start_dispatcher`, hpbandster's job queue alone, hands
  jobs that are not a search (the performance matrix's cells) to the same workers.

Pickle over Pyro4 executes what it receives: run distributed searches on a trusted network only.
"""
