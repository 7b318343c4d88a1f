"""Interop checks of Tributary's registry-encoded topics with Confluent's own Python client.

Run by packages/cli/src/schemas.e2e.test.ts with the virtualenv scripts/ci-prereqs.sh
creates (confluent-kafka[avro,json,protobuf] and grpcio-tools for protoc):

  consume  reads a topic read_committed and decodes every record with Confluent's Avro,
           JSON Schema and Protobuf deserializers; prints one JSON line per record.
  produce  writes records with Confluent's serializers (auto-registering their schemas)
           for Tributary to decode; prints one JSON line per record.
"""
import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf.json_format import MessageToDict, ParseDict


def protobuf_module(proto_path):
    """Compiles a .proto file with protoc (grpcio-tools) and imports the generated module."""
    from grpc_tools import protoc
    import importlib.resources

    out = tempfile.mkdtemp(prefix="tributary-protoc-")
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    directory, name = os.path.split(os.path.abspath(proto_path))
    # The files it imports (schema references) sit under the same directory, by import path.
    files = sorted(
        os.path.relpath(os.path.join(root, file), directory)
        for root, _, found in os.walk(directory)
        for file in found
        if file.endswith(".proto")
    )
    code = protoc.main(["protoc", f"-I{directory}", f"-I{include}", f"--python_out={out}", *files])
    if code != 0:
        raise SystemExit(f"protoc failed on {proto_path}")
    sys.path.insert(0, out)
    return importlib.import_module(name[: -len(".proto")].replace("/", ".") + "_pb2")


def header(headers, name):
    for key, value in headers or []:
        if key == name:
            return value.decode("utf-8")
    return None


def consume(args):
    registry = SchemaRegistryClient({"url": args.registry})
    module = protobuf_module(args.proto) if args.proto else None
    deserializers = {
        "AVRO": AvroDeserializer(registry),
        "JSON": JSONDeserializer(None, schema_registry_client=registry),
    }
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"tributary-interop-{uuid.uuid4()}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(args.topic, timeout=10).topics[args.topic].partitions
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    decoded = 0
    deadline = time.time() + args.timeout
    while decoded < args.count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise SystemExit(f"consume error: {message.error()}")
        value = message.value()
        schema_id = int.from_bytes(value[1:5], "big")
        schema_type = registry.get_schema(schema_id).schema_type or "AVRO"
        context = SerializationContext(args.topic, MessageField.VALUE, message.headers())
        event_type = header(message.headers(), "tributary.event_type")
        if schema_type == "PROTOBUF":
            # Confluent's Protobuf deserializer asks the registry for `format=serialized`,
            # which Apicurio does not serve: it decodes with the protoc class and the
            # message indexes the record carries (see docs/schemas.md).
            message_type = getattr(module, event_type)
            payload = MessageToDict(
                ProtobufDeserializer(message_type, {"use.deprecated.format": False})(value, context),
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
        else:
            payload = deserializers[schema_type](value, context)
        print(
            json.dumps(
                {
                    "eventId": header(message.headers(), "tributary.event_id"),
                    "eventType": event_type,
                    "schemaId": schema_id,
                    "format": schema_type,
                    "payload": payload,
                }
            ),
            flush=True,
        )
        decoded += 1
    consumer.close()
    if decoded < args.count:
        raise SystemExit(f"decoded {decoded} of {args.count} records in {args.timeout} s")


def produce(args):
    registry = SchemaRegistryClient({"url": args.registry})
    conf = {"subject.name.strategy": topic_record_subject_name_strategy}
    records = json.loads(args.records)
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True})
    module = protobuf_module(args.proto) if args.proto else None
    for record in records:
        context = SerializationContext(args.topic, MessageField.VALUE)
        if record["format"] == "AVRO":
            serializer = AvroSerializer(registry, record["schema"], conf=conf)
            value = serializer(record["payload"], context)
        elif record["format"] == "JSON":
            serializer = JSONSerializer(record["schema"], registry, conf=conf)
            value = serializer(record["payload"], context)
        else:
            message_type = getattr(module, record["message"])
            serializer = ProtobufSerializer(
                message_type, registry, {**conf, "use.deprecated.format": False}
            )
            value = serializer(ParseDict(record["payload"], message_type()), context)
        producer.produce(args.topic, value=value, key=record["key"], headers=record["headers"])
        print(json.dumps({"schemaId": int.from_bytes(value[1:5], "big"), "format": record["format"]}), flush=True)
    producer.flush(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["consume", "produce"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--proto")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--records", default="[]")
    args = parser.parse_args()
    consume(args) if args.action == "consume" else produce(args)


if __name__ == "__main__":
    main()
