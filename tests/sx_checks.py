"""sx_checks.py — the pass/fail tally shared by the python integration
tests that print "N passed, M failed" (run.sh sums those lines)."""

passed = failed = 0


def check(ok, what):
    """Count ok; say what failed."""
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)


def summary():
    """Print the tally; the exit status: 1 if anything failed."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
