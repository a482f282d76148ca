"""The gRPC transport: proto <-> engine mapping, the servicer, metrics, the server."""
