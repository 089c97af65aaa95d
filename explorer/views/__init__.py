"""The five tabs of the explorer; each module lays out one tab and wires its named endpoint."""
