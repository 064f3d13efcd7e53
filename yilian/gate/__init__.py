"""The gate: the only path to the record store. Decides who may see and change what, as SQL."""
