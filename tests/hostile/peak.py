"""``python peak.py REPORT COMMAND...``: run COMMAND and report its peak resident memory.

A child's ``ru_maxrss`` also counts the memory of the process it was forked from, up to
its ``exec``; so the command is forked from this small process, not from the test run
(which may hold hundreds of megabytes). REPORT gets the command's process id as soon as
it starts, then its peak resident memory in bytes when it ends. This process exits as
the command did.
"""

import os
import sys


def main() -> None:
    report, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    with open(report, "w", encoding="ascii") as out:
        out.write(f"{pid}\n")
    _, status, usage = os.wait4(pid, 0)
    with open(report, "a", encoding="ascii") as out:
        out.write(f"{usage.ru_maxrss * 1024}\n")
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # ended by a signal: end the same way
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
