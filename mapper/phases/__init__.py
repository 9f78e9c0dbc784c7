"""Phase kinds: what one bitstream computes (phase.py: the base, its placement and its run), one module per
kind: matmul, MLP (weights resident), elementwise, embedding bags, dot interaction."""
