"""The portfolio: one tuned learner configuration per known dataset, and the code that tunes and compares them.

Configs (read by learner.config): `generalist.json` (the defaults) and `<dataset>.json` (what BOHB found on that
known dataset: the fields that differ from the defaults, plus a `tuning` record of where it came from).
Evidence: `searches/<dataset>/` (every BOHB evaluation, hpo.logs format), `performance_matrix.csv` (every config
on every known dataset), `lookup_table_cpu.csv` (measured step and inference times).

Run time (shipped in the zip): entries (the configs and the matrices as a run reads them, at any budget), choice
(the rules that pick a config from the meta-classifier's probabilities), speed (the run's effective budget: its T
at the matrices' machine's speed), selection (the meta-learned start and stage 4 of the learner's pipeline,
learner.choice.ConfigChoice).
Offline (portfolio.offline, never shipped): tuning_data (the tuning split of a known dataset), objective (1 - ALC of model.py on it), space (the
learner's search space), tune (the command: local or distributed BOHB, status), matrix (every config on every
known dataset) and analysis (headlines, greedy reduction, heat map), lookup (measured step and inference times),
estimate and estimate_report (the cheap objective: the ALC at any T from a run's validation curve and the table).
"""
