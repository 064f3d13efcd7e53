"""The alliance: its member organisations, their kinds and the alliance model."""
