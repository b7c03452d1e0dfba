"""Training data: readers for HumanML3D, InterHuman and reconstruction bundles, all giving ``Clip`` items."""
