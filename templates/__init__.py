"""Jinja2 templates of every file `pipec build` writes, each named after the file it produces."""
