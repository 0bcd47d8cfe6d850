from openai import AssistantEventHandler, OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])


# TODO(onward-migrate): event handler callbacks with no one-to-one Responses event: on_run_step_created → response.output_item.added (run steps are output items); iterate responses.stream(...) events instead
class StepLogger(AssistantEventHandler):
    def on_run_step_created(self, run_step):
        print("step", run_step.type)

    def on_event(self, event):
        if event.event == "thread.run.step.completed":
            print("done", event.data.id)


def run(thread_id):
    # TODO(onward-migrate): threads.runs.stream with this event handler: use responses.stream(conversation=…, input=…, **settings) and call your code from its events (response.output_text.delta, response.output_item.done, response.completed)
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id, event_handler=StepLogger(), additional_messages=[{"role": "user", "content": "Plot it"}]) as stream:
        stream.until_done()
