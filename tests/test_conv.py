"""lottolib.conv against independent code: torch conv2d, hand-built matrices, exact messages."""
