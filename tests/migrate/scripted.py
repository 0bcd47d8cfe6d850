"""The models file for the codemod and compare tests: the embedded model and a scripted one
whose turns cover tool loops, file search and JSON extraction."""

SCRIPT = """default = "smollm2"
[models.smollm2]
provider = "local"
[models.scripted]
provider = "scripted"
script = [
  { match = "weather", tool_calls = [{ name = "get_weather", arguments = { city = "Paris" } }] },
  { match = "22C", text = "It is 22C in Paris." },
  { match = "say about Paris", tool_calls = [{ name = "file_search", arguments = { query = "Paris" } }] },
  { match = "json please", text = '{"name": "Ada", "age": 36}' },
  { text = "Hello from the script." },
]
"""
