"""The authoring tools: what analysts and compliance officers run on rules, never
what a request runs. `collection-strategy` (cli) checks, lints, tests, explains,
diffs and simulates policies, and generates portfolios; acceptance turns lint
and the policy tests into the checks a new version must pass before it serves.

The decide path (engine/: snapshot, facts, matching, compliance, window, offers,
decision, debtor, registry) never imports from here (tests/test_layout.py)."""
