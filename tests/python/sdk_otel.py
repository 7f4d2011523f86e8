"""Exports a small agent trace with the stock OpenTelemetry Python SDK over OTLP/HTTP
(protobuf), configured only by OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS, with
GenAI semantic-convention attributes. Prints the trace id as a UUID."""

import json
import uuid

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "otel-e2e"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("ironsmith-e2e")

with tracer.start_as_current_span("agent") as root:
    trace_id = root.get_span_context().trace_id
    with tracer.start_as_current_span("chat gpt-4o") as llm:
        llm.set_attribute("gen_ai.operation.name", "chat")
        llm.set_attribute("gen_ai.system", "openai")
        llm.set_attribute("gen_ai.request.model", "gpt-4o")
        llm.set_attribute("gen_ai.prompt.0.role", "user")
        llm.set_attribute("gen_ai.prompt.0.content", "What is the capital of France?")
        llm.set_attribute("gen_ai.completion.0.role", "assistant")
        llm.set_attribute("gen_ai.completion.0.content", "Paris")
        llm.set_attribute("gen_ai.usage.input_tokens", 30)
        llm.set_attribute("gen_ai.usage.output_tokens", 7)
    with tracer.start_as_current_span("search") as tool:
        tool.set_attribute("gen_ai.tool.name", "web_search")
        try:
            raise TimeoutError("timeout talking to the search API")
        except TimeoutError as error:
            tool.record_exception(error)
            tool.set_status(Status(StatusCode.ERROR, str(error)))

assert provider.force_flush(30_000), "the exporter did not flush"
provider.shutdown()
print(json.dumps({"trace": str(uuid.UUID(int=trace_id))}))
