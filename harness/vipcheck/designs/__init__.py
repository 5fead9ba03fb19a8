"""One module per design under test: how to build it, wait for it, drive traffic and check it."""
