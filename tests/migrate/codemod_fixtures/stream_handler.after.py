import json

from openai import OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini", tools=[{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}, "strict": False}])


class Handler:
    current_run = None  # the response being streamed (was the run)

    def __init__(self, sink):
        self.sink = sink

    def on_event(self, event):
        if (event.type == "response.completed" and any(item.type == "function_call" for item in event.response.output)):
            outputs = [{"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(lookup())} for call in [item for item in event.response.output if item.type == "function_call"]]
            with client.responses.stream(conversation=self.current_run.conversation.id, input=outputs, **assistant) as stream:
                Handler(self.sink).handle_stream(stream)

    def on_tool_call_created(self, tool_call):
        self.sink.append(f"calling {tool_call.name}")

    def on_message_done(self, message):
        self.sink.append(message.content[0].text)

    def on_end(self):
        self.sink.append("end")

    def handle_stream(self, stream):
        """Call this handler's callbacks from responses.stream events (written by onward migrate codemod)."""
        for event in stream:
            if event.type in ("response.created", "response.completed"):
                self.current_run = event.response
            self.on_event(event)
            if event.type == "response.output_item.done" and event.item.type == "message":
                self.on_message_done(event.item)
            elif event.type == "response.output_item.added" and event.item.type == "function_call":
                self.on_tool_call_created(event.item)
        self.on_end()


def lookup():
    return {"ok": True}


def ask(thread_id, question):
    sink = []
    with client.responses.stream(conversation=thread_id, input=[{"role": "user", "content": question}], **assistant) as stream:
        Handler(sink).handle_stream(stream)
    return sink
