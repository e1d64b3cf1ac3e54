"""Request and response bodies, named by role: `XCreate`, `XUpdate`, `XPublic`."""
