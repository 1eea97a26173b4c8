"""Chat delivery: a week's TL;DR and highlights in each channel's own format."""
