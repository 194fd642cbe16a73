"""Active learning: query strategies, the labelling loop, label issues, when to stop, and the simulator."""
