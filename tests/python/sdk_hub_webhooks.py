"""Registers prompt webhooks with the real `langsmith` SDK's generated `prompt_webhooks`
resource (the one `Client` configures), then changes prompts so they fire: two commits and a
tag. IRONSMITH_RECEIVER is a URL that accepts the events, IRONSMITH_FAILING one that refuses
them. Prints what it saw as JSON; the Rust test checks what the receivers got."""

import json
import os
import sys
import warnings

from langchain_core.prompts import ChatPromptTemplate
from langsmith import Client

warnings.simplefilter("ignore")

client = Client()
api = client._get_langsmith_api_sync()
out = {}

hook = api.prompt_webhooks.create(
    url=os.environ["IRONSMITH_RECEIVER"],
    triggers=["commit", "tag:create"],
    headers={"Authorization": "Bearer hook-token"},
)
out["webhook_id"] = hook.id
out["signing_secret"] = getattr(hook, "signing_secret", None)
failing = api.prompt_webhooks.create(url=os.environ["IRONSMITH_FAILING"], triggers=["commit"])
out["failing_id"] = failing.id
out["listed"] = sorted(w.url for w in api.prompt_webhooks.list())
out["read_triggers"] = api.prompt_webhooks.retrieve(hook.id).triggers

first = ChatPromptTemplate.from_messages([("human", "Hello {name}")])
second = ChatPromptTemplate.from_messages([("human", "Hello {name}, again")])
client.push_prompt("hooked", object=first)
client.push_prompt("hooked", object=second, commit_tags=["prod"])
out["commits"] = [c.commit_hash for c in client.list_prompt_commits("hooked")]
out["prompt_id"] = client.get_prompt("hooked").id

updated = api.prompt_webhooks.update(failing.id, triggers=["commit", "tag:update"])
out["updated_triggers"] = updated.triggers

json.dump(out, sys.stdout, default=str)
