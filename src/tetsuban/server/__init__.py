"""The labeling app: FastAPI routes over one project and its running labelling loop."""
