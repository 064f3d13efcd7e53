"""The master patient index (主索引): the same person across the alliance's members, matched in real time
as each Patient arrives and in batch over everything, with a review queue, golden Persons, reversible
link / unlink / merge / unmerge, and PIXm / PDQm / $match queries. See docs/identity.md."""
