pytest_plugins = ["shared.testing.fixtures", "shared.testing.tenants"]
