"""`onward migrate`: the toolkit that moves Assistants API code and data to the Responses API."""
