"""Operating the warehouse beside the nightly cycle: backups, the encrypted off-site copy, restore drills."""
