"""The sync engine: planner, durable queue, workers, events. No Textual, no SQL, no HTTP of its own."""
