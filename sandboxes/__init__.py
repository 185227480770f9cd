"""Where a program is measured: the harness, the tasks, the sandbox backends."""
