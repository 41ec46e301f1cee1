"""The local stack: real processes standing in for AWS services (broker, bridge, servers)."""
