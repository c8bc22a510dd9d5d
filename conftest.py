"""Root conftest of the meshrelease repository: wires in the fixtures only its own test suite uses.

Everything a scenario run needs (options, collection, the mesh and runner fixtures) comes from the installed
package's pytest plugin, as in any user's repository.
"""

pytest_plugins = ["fixtures.processes", "fixtures.browser"]
