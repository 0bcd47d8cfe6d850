"""The Assistants v2 face: a translation onto the Responses engine and the same data.

An assistant is stored settings; a thread IS a conversation; a message IS a message item;
a run is one or more responses executed in the background; run steps group its output items;
`thread.*` stream events are derived from the engine's `response.*` events.
"""
