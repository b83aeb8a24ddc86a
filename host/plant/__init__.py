"""The simulated world behind the board: anode-free cell, cycler, sensor chips."""
