"""Streaming with an AssistantEventHandler subclass, tool outputs submitted from inside it."""

from typing_extensions import override

from openai import AssistantEventHandler, OpenAI

client = OpenAI()


class EventHandler(AssistantEventHandler):  # expect: AssistantEventHandler
    @override
    def on_text_created(self, text) -> None:
        print("\nassistant > ", end="", flush=True)

    @override
    def on_text_delta(self, delta, snapshot):
        print(delta.value, end="", flush=True)

    @override
    def on_event(self, event):
        if event.event == "thread.run.requires_action":  # expect: sse:thread.run.requires_action
            run_id = event.data.id
            self.handle_requires_action(event.data, run_id)

    def handle_requires_action(self, data, run_id):
        tool_outputs = []
        for tool in data.required_action.submit_tool_outputs.tool_calls:
            if tool.function.name == "get_current_temperature":
                tool_outputs.append({"tool_call_id": tool.id, "output": "57"})
            elif tool.function.name == "get_rain_probability":
                tool_outputs.append({"tool_call_id": tool.id, "output": "0.06"})
        with client.beta.threads.runs.submit_tool_outputs_stream(  # expect: beta.threads.runs.submit_tool_outputs_stream
            thread_id=self.current_run.thread_id,
            run_id=self.current_run.id,
            tool_outputs=tool_outputs,
            event_handler=EventHandler(),
        ) as stream:
            for text in stream.text_deltas:
                print(text, end="", flush=True)
            print()

    @override
    def on_tool_call_created(self, tool_call):
        print(f"\nassistant > {tool_call.type}\n", flush=True)


def chat(thread_id: str, assistant_id: str) -> None:
    with client.beta.threads.runs.stream(  # expect: beta.threads.runs.stream
        thread_id=thread_id,
        assistant_id=assistant_id,
        event_handler=EventHandler(),
    ) as stream:
        stream.until_done()
