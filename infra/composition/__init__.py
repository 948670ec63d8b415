"""The composition: the web app, the CLI, the demo and the wiring of packages to each other."""
