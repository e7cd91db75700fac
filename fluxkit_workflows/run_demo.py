"""Kept for the command 0.1.0's README gave (`python -m fluxkit_workflows.run_demo`): the demo is now
`python -m fluxkit_tools.demo`, with the same arguments."""

from fluxkit_tools.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
