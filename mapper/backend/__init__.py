"""The back end: placement of a phase's units on the array's sites, routing on the three networks, and the
builder that writes the bitstream."""
