"""Root conftest: wires the suite's fixtures (fixtures/) into every test and scenario run from this repo."""

pytest_plugins = ["fixtures.mesh", "fixtures.clients", "fixtures.steps"]
