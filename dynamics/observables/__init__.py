"""What we measure on token clouds: interaction energies, clusters, partitions, distances (POT)
and observables of padded sentence batches.

The public names are re-exported by the top-level package."""
