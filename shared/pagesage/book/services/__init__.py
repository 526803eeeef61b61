"""The book layer's use cases. Each takes a `BookPorts` and plain values or domain commands,
and returns domain records or the answer models of `book.services.answers`."""
