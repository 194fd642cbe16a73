"""Sources -> store: folders, CSV files (paths or URLs), archives and IDX files; one module per source kind."""
