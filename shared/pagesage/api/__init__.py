"""The provenance API: request/response bodies and the route table its functions serve."""
