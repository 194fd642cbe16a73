"""Survey: what the images look like, per image and over the project."""
