"""The providers' official Python clients make one streamed call each against the stand-ins
(OPENAI_BASE_URL, ANTHROPIC_BASE_URL): what they send is the reference the playground's
requests are compared with. Prints what the streams said, as JSON."""

import json
import os

import anthropic
import openai

WEATHER = {
    "name": "weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}

oai = openai.OpenAI(api_key="sk-reference-0000", base_url=os.environ["OPENAI_BASE_URL"], max_retries=0)
stream = oai.chat.completions.create(
    model="gpt-4o-mini",
    messages=[
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
    ],
    temperature=0.5,
    max_completion_tokens=256,
    seed=7,
    stop=["\n\n"],
    tools=[{"type": "function", "function": WEATHER}],
    tool_choice="auto",
    stream=True,
    stream_options={"include_usage": True},
)
openai_text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

claude = anthropic.Anthropic(api_key="sk-ant-reference-0000", base_url=os.environ["ANTHROPIC_BASE_URL"], max_retries=0)
anthropic_text = ""
with claude.messages.stream(
    model="claude-sonnet-4-5",
    max_tokens=1024,
    system="You are terse.",
    messages=[{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
    tools=[{"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["parameters"]}],
    tool_choice={"type": "auto"},
) as events:
    for text in events.text_stream:
        anthropic_text += text

print(json.dumps({"openai": openai_text, "anthropic": anthropic_text}))
