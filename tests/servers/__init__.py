"""The package's local servers (edge, container, bucket, relay, the server base) over real loopback sockets."""
