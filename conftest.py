"""Root conftest: wires the suite's fixtures (fixtures/) into every test and scenario run from this repo."""
