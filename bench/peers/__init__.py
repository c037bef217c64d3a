"""Accuracy side by side with NeuralForecast, Darts and statsforecast on real series.

runner: the command; protocol: splits, horizons, scores, leakage check; gatecast: the
training recipe and checkpoint adapter; report: tables and targets; peer_process: one peer
fit in the peers' own interpreter.
"""
