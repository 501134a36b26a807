"""The HTTP front door (`herald api`): requests published over HTTP, history looked up, keys
checked. A stage like the others: it uses the core and no other stage."""
