"""The umbrella: the ``madoguchi`` command, the local deployment (Redis, hubs and terminals as
processes on this machine) that the demo, the benches and the tests use, and the demo itself.

The only package that may import hub, branch_client and bench together."""
