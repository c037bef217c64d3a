"""Reliability under load and faults against the real gunicorn: one module per scenario.

    runner.py           the command (`python -m bench.reliability`): every scenario, the report
    sustained.py        sustained mixed load: errors and worker memory
    slow.py             slow clients holding worker threads
    kill.py             a worker SIGKILLed mid-run (reuse_port off and on, tcp_migrate_req)
    swap.py             a new version trained into the served folder during load
    faults.py           broken checkpoints next to a good one
    killed_training.py  training SIGKILLed while the service polls its folder
    soak.py             the soak command (`python -m bench.reliability.soak`): a long mixed
                        load with new versions trained and workers killed on a schedule
    soak_run.py         the soak itself: load, trainings, kills, memory readings
    soak_report.py      the soak's report, with its targets
    load.py             the bounded keep-alive load generator and its figures
    proc.py             what the scenarios read from /proc: memory, connection owners
    report.py           the figures table, one row per figure with its pass criterion

A new scenario is a module here returning a dataclass of figures, a rows function in
report.py and a call in runner.py. The soak is the exception: at 30 minutes it runs on its
own, with its own command and report.
"""
