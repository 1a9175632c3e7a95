"""Data layer: typed records, readers for the XTREME layout and original intermediate formats, hub loaders."""
