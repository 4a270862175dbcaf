"""The second half of the night: stage what would be published, gate it, publish a
versioned dataset, write the analyst file and the nightly report; and erasure."""
