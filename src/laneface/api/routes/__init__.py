"""HTTP routes, one module per audience (lanes, officers, auditors, administrators)."""
