"""afbms: battery management for anode-free solid-state lithium and sodium cells.

Host-side library. The command line (`afbms ...`) is a thin layer over it.
"""

__version__ = "0.1.0"
