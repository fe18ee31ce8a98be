"""stockbridge: keeps a warehouse, an IMS and storefronts telling the same truth."""

__version__ = "0.1.0"
