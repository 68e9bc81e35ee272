"""The parts of scripts/gen_api_docs.py (`make docs`): the schema from Django, Markdown tables, the reference, files."""
