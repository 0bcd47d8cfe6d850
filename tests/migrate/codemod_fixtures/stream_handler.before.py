import json

from openai import AssistantEventHandler, OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(model="gpt-4o-mini", tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}])


class Handler(AssistantEventHandler):
    def __init__(self, sink):
        super().__init__()
        self.sink = sink

    def on_event(self, event):
        if event.event == "thread.run.requires_action":
            outputs = [{"tool_call_id": call.id, "output": json.dumps(lookup())} for call in event.data.required_action.submit_tool_outputs.tool_calls]
            with client.beta.threads.runs.submit_tool_outputs_stream(thread_id=self.current_run.thread_id, run_id=self.current_run.id, tool_outputs=outputs, event_handler=Handler(self.sink)) as stream:
                stream.until_done()

    def on_tool_call_created(self, tool_call):
        self.sink.append(f"calling {tool_call.function.name}")

    def on_message_done(self, message):
        self.sink.append(message.content[0].text.value)

    def on_end(self):
        self.sink.append("end")


def lookup():
    return {"ok": True}


def ask(thread_id, question):
    sink = []
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id, event_handler=Handler(sink), additional_messages=[{"role": "user", "content": question}]) as stream:
        stream.until_done()
    return sink
