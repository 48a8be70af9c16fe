"""End-to-end test of the Cordium gRPC API from a real Python gRPC client (plain asserts).

Run by `crates/server/tests/it/python.rs`, which starts `cordium-server`, adds a user,
generates the stubs from `crates/server/proto/cordium/v1/cordium.proto` into $CORDIUM_STUBS and
sets $CORDIUM_ADDR, $CORDIUM_TOKEN and $CORDIUM_SECRET (a value that must never come back).
By hand:

    .tools/venv/bin/python -m grpc_tools.protoc -I crates/server/proto \
        --python_out=/tmp/stubs --grpc_python_out=/tmp/stubs cordium/v1/cordium.proto
    CORDIUM_STUBS=/tmp/stubs CORDIUM_ADDR=127.0.0.1:50051 CORDIUM_TOKEN=cdm_... \
        CORDIUM_SECRET=s3cret .tools/venv/bin/python tests/e2e/api_test.py
"""

import os
import queue
import sys
import threading

sys.path.insert(0, os.environ["CORDIUM_STUBS"])

import grpc  # noqa: E402
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase  # noqa: E402

from cordium.v1 import cordium_pb2 as pb  # noqa: E402
from cordium.v1 import cordium_pb2_grpc as rpc  # noqa: E402

ADDR = os.environ["CORDIUM_ADDR"]
TOKEN = os.environ["CORDIUM_TOKEN"]
SECRET = os.environ["CORDIUM_SECRET"]
AUTH = [("authorization", f"Bearer {TOKEN}")]
TIMEOUT = 10

# Every response, to check that the secret value never comes back.
responses = []


def keep(message):
    responses.append(message.SerializeToString())
    return message


def struct(value):
    s = struct_pb2.Struct()
    s.update(value)
    return s


def as_dict(message):
    return json_format.MessageToDict(message)


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        assert e.code() == code, f"expected {code}, got {e.code()}: {e.details()}"
        assert SECRET not in (e.details() or ""), "an error message holds the secret"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def rpc_status_classes():
    """google.rpc.Status and google.rpc.BadRequest, built from descriptors (no googleapis
    package needed)."""
    f = descriptor_pb2.FileDescriptorProto(name="cordium_test_rpc.proto", package="google.rpc", syntax="proto3")
    f.dependency.append("google/protobuf/any.proto")
    T = descriptor_pb2.FieldDescriptorProto
    status = f.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=T.TYPE_INT32, label=T.LABEL_OPTIONAL)
    status.field.add(name="message", number=2, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    status.field.add(name="details", number=3, type=T.TYPE_MESSAGE, label=T.LABEL_REPEATED, type_name=".google.protobuf.Any")
    bad = f.message_type.add(name="BadRequest")
    violation = bad.nested_type.add(name="FieldViolation")
    violation.field.add(name="field", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    violation.field.add(name="description", number=2, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    bad.field.add(name="field_violations", number=1, type=T.TYPE_MESSAGE, label=T.LABEL_REPEATED, type_name=".google.rpc.BadRequest.FieldViolation")
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(f.SerializeToString())
    get = message_factory.GetMessageClass
    return get(pool.FindMessageTypeByName("google.rpc.Status")), get(pool.FindMessageTypeByName("google.rpc.BadRequest"))


def field_violations(error):
    Status, BadRequest = rpc_status_classes()
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert details, "the error carries google.rpc.Status details"
    status = Status.FromString(details)
    fields = []
    for any_message in status.details:
        if any_message.type_url.endswith("google.rpc.BadRequest"):
            fields += [v.field for v in BadRequest.FromString(any_message.value).field_violations]
    return fields


def main():
    channel = grpc.insecure_channel(ADDR)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)

    # Health and reflection.
    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "cordium.v1.MainService", "cordium.v1.ManagementService"]:
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, (service, reply)
    reflection = ProtoReflectionDescriptorDatabase(channel)
    services = reflection.get_services()
    assert "cordium.v1.MainService" in services, services
    assert "cordium.v1.ManagementService" in services, services
    methods = descriptor_pool.DescriptorPool(reflection).FindServiceByName("cordium.v1.MainService").methods_by_name
    assert {"CreateSpace", "WatchWorkspace", "CompileWorkspace"} <= set(methods), sorted(methods)

    api = rpc.MainServiceStub(channel)
    expect_error(grpc.StatusCode.UNAUTHENTICATED, api.ListSpace, pb.ListRequest(), timeout=TIMEOUT)
    expect_error(grpc.StatusCode.UNAUTHENTICATED, api.ListSpace, pb.ListRequest(), timeout=TIMEOUT, metadata=[("authorization", "Bearer cdm_nope")])

    def call(method, request):
        return keep(getattr(api, method)(request, metadata=AUTH, timeout=TIMEOUT))

    # A Space, a Template in it, a Secret and a Workspace.
    space = call("CreateSpace", pb.Space(metadata=pb.Metadata(name="e2e.alice", display_name="End to end"), spec=struct({"runtime": {"envVars": [{"key": "LOG_LEVEL", "value": "info"}]}})))
    assert space.metadata.resource_version == 1 and space.status.owner == "alice", space
    assert space.status.type == pb.USER
    template = call(
        "CreateTemplate",
        pb.Template(
            metadata=pb.Metadata(name="python"),
            spec=struct({"image": {"registry": {"url": "python:3.11-slim"}}, "runtime": {"envVars": [{"key": "API_KEY", "fromSecret": "api-key"}]}}),
            status=pb.TemplateStatus(space="e2e.alice"),
        ),
    )
    assert template.status.space == "e2e.alice"
    secret = call("CreateSecret", pb.Secret(metadata=pb.Metadata(name="api-key"), data=pb.SecretData(text=SECRET), status=pb.SecretStatus(space="e2e.alice")))
    assert not secret.HasField("data"), "a Secret's value is write-only"
    call("GetSecret", pb.Ref(space="e2e.alice", name="api-key"))
    call("ListSecret", pb.ListRequest(space="e2e.alice"))
    workspace = call(
        "CreateWorkspace",
        pb.Workspace(
            spec=struct({"applications": [{"name": "web", "port": 3000}], "vars": [{"name": "BRANCH", "value": "dev"}]}),
            status=pb.WorkspaceStatus(space="e2e.alice", template="python"),
        ),
    )
    name = workspace.metadata.name
    assert 3 <= len(name) <= 6 and name.isalnum(), name
    assert workspace.status.state == pb.STOPPED, workspace.status
    assert [w.metadata.name for w in call("ListWorkspace", pb.ListRequest(space="e2e.alice")).items] == [name]

    # Compile it: the effective spec, and where each value came from.
    compiled = call("CompileWorkspace", pb.CompileWorkspaceRequest(name=name))
    effective = as_dict(compiled.effective)
    assert effective["kind"] == "EffectiveWorkspace", effective
    spec = effective["spec"]
    assert spec["image"]["registry"]["url"] == "python:3.11-slim", spec
    assert spec["applications"][0]["name"] == "web" and spec["applications"][0]["port"] == 3000, spec
    env = {e["key"]: e for e in spec["runtime"]["envVars"]}
    assert env["LOG_LEVEL"]["value"] == "info", env
    assert env["API_KEY"]["fromSecret"] == "api-key", env
    assert {"name": "BRANCH", "value": "dev"} in spec["vars"], spec["vars"]
    layers = {p.path: p.layer for p in compiled.provenance}
    assert layers.get("spec.image.registry.url") == "Template", layers
    assert any(path.startswith("spec.applications") and layer == "Workspace" for path, layer in layers.items()), layers
    assert any("envVars" in path and layer == "Space" for path, layer in layers.items()), layers
    assert any(layer == "built-in default" for layer in layers.values()), layers
    # A dry run of an inline spec against the same Template.
    dry = call("CompileWorkspace", pb.CompileWorkspaceRequest(spec=struct({"isEphemeral": True}), template="e2e.alice/python"))
    assert as_dict(dry.effective)["spec"]["isEphemeral"] is True

    # Watch it, start it: the watch sees the update.
    watch = api.WatchWorkspace(pb.WatchWorkspaceRequest(name=name), metadata=AUTH)
    watch.initial_metadata()  # the server has subscribed once its headers arrive
    events = queue.Queue()

    def pump():
        try:
            for event in watch:
                events.put(event)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                events.put(e)

    threading.Thread(target=pump, daemon=True).start()
    started = call("StartWorkspace", pb.StartWorkspaceRequest(name=name, vars=[pb.Var(name="BRANCH", value="main")]))
    assert started.status.state == pb.INIT_REQUEST, started.status
    event = events.get(timeout=TIMEOUT)
    assert not isinstance(event, Exception), event
    keep(event)
    assert event.WhichOneof("event") == "updated", event
    assert event.updated.old.status.state == pb.STOPPED
    assert event.updated.new.status.state == pb.INIT_REQUEST
    assert event.updated.new.metadata.name == name
    assert [(v.name, v.value) for v in event.updated.new.status.run_vars] == [("BRANCH", "main")]
    watch.cancel()
    assert call("GetWorkspace", pb.Ref(name=name)).status.state == pb.INIT_REQUEST

    # Errors.
    expect_error(grpc.StatusCode.NOT_FOUND, api.GetSpace, pb.Ref(name="nope.alice"), metadata=AUTH, timeout=TIMEOUT)
    expect_error(grpc.StatusCode.ALREADY_EXISTS, api.CreateSecret, pb.Secret(metadata=pb.Metadata(name="api-key"), data=pb.SecretData(text=SECRET), status=pb.SecretStatus(space="e2e.alice")), metadata=AUTH, timeout=TIMEOUT)
    bad = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.CreateWorkspace,
        pb.Workspace(spec=struct({"runtime": {"enVars": []}}), status=pb.WorkspaceStatus(space="e2e.alice")),
        metadata=AUTH,
        timeout=TIMEOUT,
    )
    assert "spec.runtime.enVars" in field_violations(bad), field_violations(bad)
    management = rpc.ManagementServiceStub(channel)
    expect_error(grpc.StatusCode.PERMISSION_DENIED, management.GetClusterConfig, pb.Empty(), metadata=AUTH, timeout=TIMEOUT)

    # The secret value came back in no response.
    for body in responses:
        assert SECRET.encode() not in body, "a response holds the secret value"
    print(f"api_test.py: ok ({len(responses)} responses checked)")


if __name__ == "__main__":
    main()
