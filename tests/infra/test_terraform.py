"""Offline checks of infra/ and cloudbuild.yaml (the Google provider is not available here).

* every `.tf` parses with python-hcl2, `terraform fmt` is clean, `terraform get` loads each
  environment, and every reference names something declared;
* `terraform console`, which needs no provider for values derived only from variables and
  files, evaluates the module's `locals.tf` with each environment's `terraform.tfvars`: the
  functions against those decorated in functions/*/main.py, Firestore against
  firestore.indexes.json;
* the resources are wired to those values (python-hcl2);
* IAM, buckets, queue, environments, cloudbuild.yaml and the packaging script.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from conftest import locked_pins, normalized_name as _norm
from importlib import metadata
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULE = INFRA / "modules" / "pagesage"
ENVS = ("dev", "prod")
FIRESTORE_JSON = REPO / "firestore.indexes.json"
TERRAFORM = shutil.which("terraform")

FINALIZED = "google.cloud.storage.object.v1.finalized"
SERVICE_ACCOUNTS = {"runtime", "worker", "tasks", "eventarc", "build", "tesseract", "scheduler"}
FUNCTION_ENV = {
    "PAGESAGE_BACKEND", "PAGESAGE_BUCKET", "PAGESAGE_TASKS_QUEUE", "PAGESAGE_TASKS_LOCATION",
    "PAGESAGE_TASKS_SERVICE_ACCOUNT", "PAGESAGE_PUBLIC_URL", "GOOGLE_CLOUD_PROJECT",
}

HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="the terraform binary is not installed")


# --- helpers -----------------------------------------------------------------------------------


def tf_files() -> list[Path]:
    return sorted(INFRA.rglob("*.tf"))


@cache
def parse(path: Path) -> dict[str, Any]:
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=HCL_OPTIONS)


def parse_dir(directory: Path) -> list[dict[str, Any]]:
    return [parse(path) for path in sorted(directory.glob("*.tf"))]


def blocks(directory: Path, kind: str) -> list[dict[str, Any]]:
    """Every top-level `kind` block (variable, locals, output, ...) of the folder's .tf files."""
    return [block for doc in parse_dir(directory) for block in doc.get(kind, [])]


def resources(directory: Path = MODULE, kind: str = "resource") -> dict[str, dict[str, Any]]:
    """`{"<type>.<name>": body}` of every resource (or data source) in the folder."""
    found: dict[str, dict[str, Any]] = {}
    for block in blocks(directory, kind):
        for rtype, named in block.items():
            for name, body in named.items():
                found[f"{rtype}.{name}"] = body
    return found


def resource(address: str) -> dict[str, Any]:
    return resources()[address]


def single(value: Any) -> Any:
    """The one element of a block list (`explicit_blocks=False` gives blocks as lists)."""
    assert isinstance(value, list) and len(value) == 1, value
    return value[0]


def expr(value: Any) -> str:
    """An attribute's expression text without `${...}` and with spaces removed."""
    assert isinstance(value, str), value
    text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    return re.sub(r"\s+", "", text)


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The `dynamic "<name>"` block of a resource body."""
    matches = [d[name] for d in body.get("dynamic", []) if name in d]
    assert len(matches) == 1, f"expected one dynamic {name!r} block"
    return matches[0]


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def variables(directory: Path) -> dict[str, dict[str, Any]]:
    return {name: body for block in blocks(directory, "variable") for name, body in block.items()}


def local_names(directory: Path) -> set[str]:
    return {name for block in blocks(directory, "locals") for name in block}


def memory_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi|M|G)", text).groups()
    return int(number) * {"Mi": 2**20, "Gi": 2**30, "M": 10**6, "G": 10**9}[unit]


def terraform_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_DATA_DIR=str(tmp / ".terraform"))
    if not Path(env.get("TF_CLI_CONFIG_FILE", "/nonexistent")).is_file():
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    return env


# --- terraform console on locals.tf --------------------------------------------------------------

CONSOLE_VALUES = {
    "functions": "local.functions",
    "function_dirs": "local.function_dirs",
    "worker_capacity": "local.worker_capacity",
    "public_url": "local.public_url",
    "firestore_composite_indexes": "local.firestore_composite_indexes",
    "firestore_field_overrides": "local.firestore_field_overrides",
    "service_accounts": "local.service_accounts",
    "project_role_bindings": "local.project_role_bindings",
    "services": "local.services",
    "queue": "var.queue",
    "results_retention_days": "var.results_retention_days",
    "documentai_location": "var.documentai_location",
}
# One line: the console reads its input line by line.
CONSOLE_EXPRESSION = "jsonencode({" + ", ".join(f"{k} = {v}" for k, v in CONSOLE_VALUES.items()) + "})\n"


@cache
def evaluated(env_name: str, tmp_root: str) -> dict[str, Any]:
    """The module's locals under `infra/envs/<env_name>/terraform.tfvars`, by terraform console.

    variables.tf and locals.tf are copied into the same relative place of a scratch tree so
    that `path.module/../../../firestore.indexes.json` resolves; resource files are left out
    (they would need the provider).
    """
    root = Path(tmp_root) / env_name
    module_copy = root / "infra" / "modules" / "pagesage"
    module_copy.mkdir(parents=True, exist_ok=True)
    for name in ("variables.tf", "locals.tf"):
        shutil.copy(MODULE / name, module_copy / name)
    shutil.copy(FIRESTORE_JSON, root / FIRESTORE_JSON.name)
    argv = [
        TERRAFORM, "console",
        f"-var-file={INFRA / 'envs' / env_name / 'terraform.tfvars'}",
        f"-var=env={env_name}",
        "-var=tesseract_image=example.invalid/tesseract@sha256:0",
        "-var=function_source_dir=/nonexistent",
    ]
    done = subprocess.run(argv, check=False, cwd=module_copy, input=CONSOLE_EXPRESSION, capture_output=True, text=True,
                          env=terraform_env(root), timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(json.loads(done.stdout.strip()))


@pytest.fixture(scope="module")
def console_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module", params=ENVS)
def env_values(request, console_root) -> dict[str, Any]:
    """`evaluated()` for each environment."""
    if TERRAFORM is None:
        pytest.skip("the terraform binary is not installed")
    return evaluated(request.param, console_root)


@pytest.fixture(scope="module")
def values(console_root) -> dict[str, Any]:
    """`evaluated()` for dev."""
    if TERRAFORM is None:
        pytest.skip("the terraform binary is not installed")
    return evaluated("dev", console_root)


# --- the functions in the code ---------------------------------------------------------------------


def discovered_functions() -> dict[str, tuple[str, str]]:
    """`{entry point: (folder, "http" | "cloud_event")}` of every `@functions_framework.http` or
    `@functions_framework.cloud_event` function in functions/*/main.py."""
    found: dict[str, tuple[str, str]] = {}
    for main in sorted((REPO / "functions").glob("*/main.py")):
        for node in ast.walk(ast.parse(main.read_text(encoding="utf-8"), filename=str(main))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = ast.unparse(target)
                kind = name.rsplit(".", 1)[-1]
                if name in {"functions_framework.http", "functions_framework.cloud_event"}:
                    assert node.name not in found, f"{node.name} is defined twice"
                    found[node.name] = (main.parent.name, kind)
    return found


# --- parsing, formatting, loading ----------------------------------------------------------------


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_tf_file_parses(path):
    assert parse(path), f"{path} is empty"


def test_layout():
    assert tf_files(), "no .tf files under infra/"
    for env_name in ENVS:
        directory = INFRA / "envs" / env_name
        for name in ("main.tf", "backend.tf", "versions.tf", "terraform.tfvars"):
            assert (directory / name).is_file(), f"infra/envs/{env_name}/{name} is missing"


@needs_terraform
def test_terraform_fmt(tmp_path):
    done = subprocess.run([TERRAFORM, "fmt", "-check", "-recursive", "-diff", str(INFRA)], check=False, capture_output=True,
                          text=True, env=terraform_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_terraform
@pytest.mark.parametrize("env_name", ENVS)
def test_terraform_loads_each_environment(env_name, tmp_path):
    """`terraform get` reads the root configuration and the module (no provider, no backend)."""
    done = subprocess.run([TERRAFORM, "get"], check=False, cwd=INFRA / "envs" / env_name, capture_output=True, text=True,
                          env=terraform_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


REFERENCE = re.compile(r"(?<![\w.])(?:(var|local|module)\.(\w+)|data\.(google_\w+)\.(\w+)|(google_\w+)\.(\w+))")


@pytest.mark.parametrize("directory", [MODULE, *(INFRA / "envs" / e for e in ENVS)], ids=lambda d: d.name)
def test_every_reference_is_declared(directory):
    declared_resources = set(resources(directory))
    declared_data = set(resources(directory, "data"))
    declared = {
        "var": set(variables(directory)),
        "local": local_names(directory),
        "module": {name for block in blocks(directory, "module") for name in block},
    }
    missing = set()
    for doc in parse_dir(directory):
        for text in strings(doc):
            for m in REFERENCE.finditer(text):
                kind, name, data_type, data_name, rtype, rname = m.groups()
                known = (
                    name in declared[kind] if kind
                    else f"{data_type}.{data_name}" in declared_data if data_type
                    else f"{rtype}.{rname}" in declared_resources
                )
                if not known:
                    missing.add(m.group(0))
    assert not missing, f"undeclared: {sorted(missing)}"


@pytest.mark.parametrize("env_name", ENVS)
def test_environment_passes_module_inputs(env_name):
    directory = INFRA / "envs" / env_name
    module_vars = variables(MODULE)
    (call,) = [body for block in blocks(directory, "module") for body in block.values()]
    assert call["source"] == "../../modules/pagesage"
    given = set(call) - {"source"}
    assert given <= set(module_vars), f"not module inputs: {sorted(given - set(module_vars))}"
    required = {name for name, body in module_vars.items() if "default" not in body}
    assert required <= given, f"required module inputs not given: {sorted(required - given)}"
    assert call["env"] == env_name


@pytest.mark.parametrize("env_name", ENVS)
def test_tfvars_set_declared_variables(env_name):
    directory = INFRA / "envs" / env_name
    declared = variables(directory)
    tfvars = hcl2.loads((directory / "terraform.tfvars").read_text(encoding="utf-8"), serialization_options=HCL_OPTIONS)
    assert set(tfvars) <= set(declared), f"undeclared: {sorted(set(tfvars) - set(declared))}"
    required = {name for name, body in declared.items() if "default" not in body}
    # The image is built and passed by cloudbuild.yaml.
    assert required - set(tfvars) == {"tesseract_image"}
    assert set(tfvars["max_instances"]) <= set(variables(MODULE)["functions"]["default"])


# --- functions ------------------------------------------------------------------------------------


def test_code_has_functions():
    found = discovered_functions()
    assert {"upload", "status", "result", "ocr"} <= set(found), found


def test_every_function_in_the_code_is_deployed(values):
    deployed = values["functions"]
    for entry_point, (folder, kind) in discovered_functions().items():
        assert entry_point in deployed, f"functions/{folder}/main.py:{entry_point} has no entry in var.functions"
        fn = deployed[entry_point]
        assert fn["dir"] == folder, entry_point
        if kind == "http":
            assert fn["event_type"] is None, f"{entry_point} is an HTTP function"
        else:
            assert fn["event_type"] == FINALIZED, f"{entry_point} is a CloudEvent function"
            assert fn["invoker"] == "eventarc"


def test_every_deployed_function_is_in_the_code(values):
    found = discovered_functions()
    for entry_point, fn in values["functions"].items():
        assert (REPO / "functions" / fn["dir"] / "main.py").is_file(), f"{entry_point}: no functions/{fn['dir']}/main.py"
        assert entry_point in found, f"{entry_point} is not defined in functions/{fn['dir']}/main.py"


def test_function_resource_is_wired_to_the_map():
    fn = resource("google_cloudfunctions2_function.fn")
    assert expr(fn["for_each"]) == "local.functions"
    assert expr(fn["name"]) == "each.value.name"
    build = single(fn["build_config"])
    assert expr(build["entry_point"]) == "each.key"
    assert expr(build["runtime"]) == "var.python_runtime"
    source = single(single(build["source"])["storage_source"])
    assert expr(source["bucket"]) == "google_storage_bucket.sources.name"
    assert expr(source["object"]) == "google_storage_bucket_object.function_source[each.value.dir].name"

    zips = resource("google_storage_bucket_object.function_source")
    assert expr(zips["for_each"]) == "local.function_dirs"
    assert zips["source"] == "${var.function_source_dir}/${each.key}.zip"
    assert "filemd5(" in zips["name"], "the object name must change with the zip's content"

    service = single(fn["service_config"])
    for attribute, key in [
        ("available_memory", "memory"), ("available_cpu", "cpu"), ("timeout_seconds", "timeout"),
        ("max_instance_request_concurrency", "concurrency"), ("max_instance_count", "max_instances"),
    ]:
        assert expr(service[attribute]) == f"each.value.{key}", attribute
    assert expr(service["service_account_email"]) == "google_service_account.sa[each.value.identity].email"
    assert expr(service["ingress_settings"]) == 'contains(["public","operators"],each.value.invoker)?"ALLOW_ALL":"ALLOW_INTERNAL_ONLY"'

    trigger = dynamic(fn, "event_trigger")
    assert expr(trigger["for_each"]) == "each.value.event_type==null?[]:[each.value.event_type]"
    content = single(trigger["content"])
    assert expr(content["event_type"]) == "event_trigger.value"
    assert expr(content["service_account_email"]) == 'google_service_account.sa["eventarc"].email'
    event_filter = single(content["event_filters"])
    assert event_filter["attribute"] == "bucket"
    assert expr(event_filter["value"]) == "google_storage_bucket.data.name"


def test_function_sizes(env_values):
    functions = env_values["functions"]
    ocr = functions["ocr"]
    assert memory_bytes(ocr["memory"]) == 2 * 2**30
    assert float(ocr["cpu"]) >= 1
    assert ocr["concurrency"] == 1
    assert ocr["timeout"] == 540
    for name, fn in functions.items():
        assert fn["max_instances"] >= 1, name
        assert fn["timeout"] > 0, name
        if fn["invoker"] == "public":
            assert memory_bytes(fn["memory"]) < memory_bytes(ocr["memory"]), name
    # The queue dispatches no more tasks at once than the worker instances can take.
    assert env_values["worker_capacity"] == ocr["max_instances"] * ocr["concurrency"]


def test_function_environment():
    (env_locals,) = [b for b in blocks(MODULE, "locals") if "function_env" in b]
    env = env_locals["function_env"]
    assert FUNCTION_ENV <= set(env), f"missing: {sorted(FUNCTION_ENV - set(env))}"
    assert env["PAGESAGE_BACKEND"] == "gcp"
    assert expr(env["PAGESAGE_BUCKET"]) == "google_storage_bucket.data.name"
    assert expr(env["PAGESAGE_TASKS_QUEUE"]) == "google_cloud_tasks_queue.ocr.name"
    assert expr(env["PAGESAGE_TASKS_SERVICE_ACCOUNT"]) == 'google_service_account.sa["tasks"].email'
    service = single(resource("google_cloudfunctions2_function.fn")["service_config"])
    assert "local.function_env" in expr(service["environment_variables"])


def test_public_url_serves_functions_at_their_names(values):
    assert values["public_url"] == "https://us-central1-pagesage-dev.cloudfunctions.net"
    for entry_point, fn in values["functions"].items():
        assert fn["name"] == entry_point.replace("_", "-")


def test_only_cloud_tasks_may_invoke_the_worker(values):
    functions = values["functions"]
    assert functions["ocr"]["invoker"] == "tasks"
    assert functions["ocr"]["identity"] == "worker"
    for name in ("upload", "status", "result"):
        assert functions[name]["invoker"] == "public", name
    invoker = resource("google_cloud_run_v2_service_iam_member.function_invoker")
    assert expr(invoker["for_each"]) == "local.function_invoker_bindings"
    assert invoker["role"] == "roles/run.invoker"
    assert expr(invoker["name"]) == "google_cloudfunctions2_function.fn[each.value.function].service_config[0].service"
    assert expr(invoker["member"]) == "each.value.member"
    (members,) = [b["invoker_members"] for b in blocks(MODULE, "locals") if "invoker_members" in b]
    assert members["public"] == "allUsers"
    assert expr(members["tasks"]) == 'serviceAccount:${google_service_account.sa["tasks"].email}'
    assert expr(members["eventarc"]) == 'serviceAccount:${google_service_account.sa["eventarc"].email}'



def test_the_scheduler_alone_calls_the_sweep_every_few_minutes(values):
    sweep = values["functions"]["sweep"]
    assert sweep["invoker"] == "scheduler" and sweep["identity"] == "worker" and sweep["dir"] == "sweep"
    assert (REPO / "functions" / "sweep" / "main.py").is_file()
    job = resource("google_cloud_scheduler_job.sweep")
    target = single(job["http_target"])
    assert target["http_method"] == "POST" and expr(target["uri"]) == "${local.public_url}/sweep"
    token = single(target["oidc_token"])
    assert expr(token["service_account_email"]) == 'google_service_account.sa["scheduler"].email'
    assert expr(job["schedule"]) == "var.sweep_schedule"
    assert variables(MODULE)["sweep_schedule"]["default"] == "*/5 * * * *"


def test_the_rate_limit_trusts_one_proxy_hop(values):
    (env_locals,) = [b for b in blocks(MODULE, "locals") if "function_env" in b]
    assert expr(env_locals["function_env"]["PAGESAGE_TRUSTED_PROXY_HOPS"]) == "tostring(var.trusted_proxy_hops)"
    assert "PAGESAGE_TRUST_X_FORWARDED_FOR" not in env_locals["function_env"]
    assert variables(MODULE)["trusted_proxy_hops"]["default"] == 1


def test_costs_are_for_operators_only(values):
    """The cost log is not public: the costs function binds run.invoker only to var.operators
    (checked by evaluating the bindings in terraform console with two principals and none)."""
    costs = values["functions"]["costs"]
    assert costs["invoker"] == "operators" and costs["dir"] == "costs" and costs["event_type"] is None
    (bindings_local,) = [b for b in blocks(MODULE, "locals") if "function_invoker_bindings" in b]
    text = expr(bindings_local["function_invoker_bindings"])
    assert 'f.invoker!="operators"' in text and "var.operators" in text
    assert "allUsers" not in text


@needs_terraform
def test_operator_bindings_evaluate(tmp_path):
    """`function_invoker_bindings`, evaluated by terraform console with the invoker members
    stubbed (they name resources): one binding per non-operator function, one per operator."""
    root = tmp_path / "infra" / "modules" / "pagesage"
    root.mkdir(parents=True)
    shutil.copy(MODULE / "variables.tf", root / "variables.tf")
    shutil.copy(MODULE / "locals.tf", root / "locals.tf")
    shutil.copy(FIRESTORE_JSON, tmp_path / FIRESTORE_JSON.name)
    (functions_locals,) = [b for b in blocks(MODULE, "locals") if "function_invoker_bindings" in b]
    source = (MODULE / "functions.tf").read_text(encoding="utf-8")
    start = source.index("  function_invoker_bindings = merge(")
    end = source.index("\n  )\n", start) + len("\n  )\n")
    (root / "bindings.tf").write_text(
        'locals {\n  invoker_members = { public = "allUsers", tasks = "serviceAccount:tasks", eventarc = "serviceAccount:eventarc", '
        'scheduler = "serviceAccount:scheduler" }\n'
        + source[start:end] + "}\n", encoding="utf-8")
    argv = [TERRAFORM, "console", "-var=env=dev", "-var=project_id=p", "-var=region=us-central1",
            "-var=firestore_location=nam5", "-var=tesseract_image=example.invalid/t@sha256:0",
            "-var=function_source_dir=/nonexistent", '-var=operators=["group:ops@example.com","user:a@example.com"]']
    done = subprocess.run(argv, check=False, cwd=root, input="jsonencode(local.function_invoker_bindings)\n",
                          capture_output=True, text=True, env=terraform_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    bindings = json.loads(json.loads(done.stdout.strip()))
    assert bindings["costs/group:ops@example.com"] == {"function": "costs", "member": "group:ops@example.com"}
    assert bindings["costs/user:a@example.com"] == {"function": "costs", "member": "user:a@example.com"}
    assert bindings["upload"] == {"function": "upload", "member": "allUsers"}
    assert bindings["ocr"] == {"function": "ocr", "member": "serviceAccount:tasks"}
    assert bindings["sweep"] == {"function": "sweep", "member": "serviceAccount:scheduler"}
    functions = variables(MODULE)["functions"]["default"]
    operated = [name for name, f in functions.items() if f.get("invoker") == "operators"]
    assert {"costs", "provenance", "ingest", "review"} <= set(operated)
    assert not any(b["function"] in operated and b["member"] == "allUsers" for b in bindings.values())
    assert len(bindings) == len(functions) - len(operated) + 2 * len(operated)


# --- Firestore ------------------------------------------------------------------------------------


@cache
def firestore_json() -> dict[str, Any]:
    return json.loads(FIRESTORE_JSON.read_text(encoding="utf-8"))


def test_firestore_json_shape():
    data = firestore_json()
    assert set(data) <= {"indexes", "fieldOverrides"}
    keys = set()
    for index in data["indexes"]:
        assert {"collectionGroup", "queryScope", "fields"} <= set(index), index
        assert index["queryScope"] in {"COLLECTION", "COLLECTION_GROUP"}
        assert len(index["fields"]) >= 2, f"a composite index has at least two fields: {index}"
        for field in index["fields"]:
            assert len({"order", "arrayConfig"} & set(field)) == 1, field
            assert field.get("order", "ASCENDING") in {"ASCENDING", "DESCENDING"}
            assert field.get("arrayConfig", "CONTAINS") == "CONTAINS"
        key = (index["collectionGroup"], index["queryScope"], tuple(json.dumps(f, sort_keys=True) for f in index["fields"]))
        assert key not in keys, f"duplicate index {index}"
        keys.add(key)
    overrides = set()
    ttl_groups = []
    for override in data["fieldOverrides"]:
        assert {"collectionGroup", "fieldPath"} <= set(override), override
        assert set(override) <= {"collectionGroup", "fieldPath", "ttl", "indexes"}, override
        key = (override["collectionGroup"], override["fieldPath"])
        assert key not in overrides, f"duplicate field override {key}"
        overrides.add(key)
        if override.get("ttl"):
            assert override["fieldPath"] == "expire_at", override
            ttl_groups.append(override["collectionGroup"])
        for index in override.get("indexes", []):
            assert len({"order", "arrayConfig"} & set(index)) == 1, override
    assert len(ttl_groups) == len(set(ttl_groups)), "one TTL field per collection group"
    assert {"jobs", "pages", "page_results", "token_chunks"} <= set(ttl_groups)


def test_every_ttl_field_gets_a_ttl_policy(values):
    overrides = values["firestore_field_overrides"]
    ttl = [o for o in firestore_json()["fieldOverrides"] if o.get("ttl")]
    assert ttl
    for o in ttl:
        derived = overrides[f"{o['collectionGroup']}/{o['fieldPath']}"]
        assert derived["ttl"] is True, o
        assert (derived["collection"], derived["field"]) == (o["collectionGroup"], o["fieldPath"])
    assert sum(d["ttl"] for d in overrides.values()) == len(ttl)


def test_every_field_override_keeps_its_indexes(values):
    overrides = values["firestore_field_overrides"]
    assert len(overrides) == len(firestore_json()["fieldOverrides"])
    exemptions = 0
    for o in firestore_json()["fieldOverrides"]:
        derived = overrides[f"{o['collectionGroup']}/{o['fieldPath']}"]
        if "indexes" not in o:
            assert derived["indexes"] is None
            continue
        expected = [
            {"query_scope": i.get("queryScope", "COLLECTION"), "order": i.get("order"), "array_config": i.get("arrayConfig")}
            for i in o["indexes"]
        ]
        assert derived["indexes"] == expected, o
        exemptions += o["indexes"] == []
    assert exemptions, "firestore.indexes.json exempts the token-chunk arrays"


def test_every_composite_index_gets_an_index(values):
    derived = list(values["firestore_composite_indexes"].values())
    expected = [
        {
            "collection": ix["collectionGroup"],
            "query_scope": ix.get("queryScope", "COLLECTION"),
            "fields": [{"field_path": f["fieldPath"], "order": f.get("order"), "array_config": f.get("arrayConfig")}
                       for f in ix["fields"]],
        }
        for ix in firestore_json()["indexes"]
    ]
    assert sorted(json.dumps(d, sort_keys=True) for d in derived) == sorted(json.dumps(d, sort_keys=True) for d in expected)


def test_firestore_resources_iterate_the_json():
    (fs,) = [b["firestore"] for b in blocks(MODULE, "locals") if "firestore" in b]
    assert expr(fs) == 'jsondecode(file("${path.module}/../../../firestore.indexes.json"))'
    assert (MODULE / "../../../firestore.indexes.json").resolve() == FIRESTORE_JSON

    database = resource("google_firestore_database.main")
    assert database["type"] == "FIRESTORE_NATIVE"

    index = resource("google_firestore_index.composite")
    assert expr(index["for_each"]) == "local.firestore_composite_indexes"
    assert expr(index["database"]) == "google_firestore_database.main.name"
    assert expr(index["collection"]) == "each.value.collection"
    assert expr(index["query_scope"]) == "each.value.query_scope"
    fields = dynamic(index, "fields")
    assert expr(fields["for_each"]) == "each.value.fields"
    assert {expr(v) for v in single(fields["content"]).values()} == {
        "fields.value.field_path", "fields.value.order", "fields.value.array_config"}

    field = resource("google_firestore_field.override")
    assert expr(field["for_each"]) == "local.firestore_field_overrides"
    assert expr(field["field"]) == "each.value.field"
    assert expr(field["collection"]) == "each.value.collection"
    ttl = dynamic(field, "ttl_config")
    assert expr(ttl["for_each"]) == "each.value.ttl?[true]:[]"
    assert single(ttl["content"]) == {}
    index_config = dynamic(field, "index_config")
    assert expr(index_config["for_each"]) == "each.value.indexes==null?[]:[each.value.indexes]"
    indexes = dynamic(single(index_config["content"]), "indexes")
    assert expr(indexes["for_each"]) == "index_config.value"


# --- buckets ----------------------------------------------------------------------------------------


def test_results_are_deleted_after_two_days(values):
    bucket = resource("google_storage_bucket.data")
    rules = [
        single(rule["condition"]) for rule in bucket["lifecycle_rule"]
        if single(rule["action"])["type"] == "Delete"
    ]
    (results,) = [c for c in rules if "results/" in c.get("matches_prefix", [])]
    assert results["matches_prefix"] == ["results/"]
    assert expr(results["age"]) == "var.results_retention_days"
    assert values["results_retention_days"] == 2
    assert variables(MODULE)["results_retention_days"]["default"] == 2
    for condition in rules:
        assert condition.get("matches_prefix"), "every delete rule is limited to a prefix"


def test_buckets_are_private():
    buckets = {k: v for k, v in resources().items() if k.startswith("google_storage_bucket.")}
    assert set(buckets) == {"google_storage_bucket.data", "google_storage_bucket.sources"}
    for address, body in buckets.items():
        assert body["uniform_bucket_level_access"] is True, address
        assert body["public_access_prevention"] == "enforced", address


# --- queue ------------------------------------------------------------------------------------------


def test_queue_has_rate_limits_and_retry_config(env_values):
    queue = resource("google_cloud_tasks_queue.ocr")
    rate = single(queue["rate_limits"])
    assert set(rate) == {"max_dispatches_per_second", "max_concurrent_dispatches"}
    assert expr(rate["max_concurrent_dispatches"]) == "local.worker_capacity"
    retry = single(queue["retry_config"])
    assert {"max_attempts", "min_backoff", "max_backoff", "max_retry_duration", "max_doublings"} <= set(retry)
    settings = env_values["queue"]
    assert settings["max_dispatches_per_second"] > 0
    assert settings["max_attempts"] > 1
    assert 0 < settings["min_backoff_seconds"] <= settings["max_backoff_seconds"]
    assert settings["max_retry_duration_seconds"] > 0
    assert env_values["worker_capacity"] >= 1


# --- IAM ----------------------------------------------------------------------------------------------

IAM_TYPES = re.compile(r"^google_\w+_iam_(member|binding|policy)$")


def granted_roles(values: dict[str, Any]) -> set[str]:
    roles = {b["role"] for b in values["project_role_bindings"].values()}
    for address, body in resources().items():
        if IAM_TYPES.match(address.split(".")[0]):
            role = body["role"]
            if role.startswith("${"):
                assert expr(role) == "each.value.role", f"{address}: role must be a literal or local.project_role_bindings"
                assert expr(body["for_each"]) == "local.project_role_bindings", address
            else:
                roles.add(role)
    return roles


def test_no_owner_or_editor(values):
    roles = granted_roles(values)
    assert roles, "no IAM bindings found"
    assert not roles & {"roles/owner", "roles/editor"}
    for path in tf_files():
        text = path.read_text(encoding="utf-8")
        assert "roles/owner" not in text and "roles/editor" not in text, path


def test_iam_is_additive_only():
    """Only *_iam_member: authoritative bindings or policies would remove grants made elsewhere."""
    for address in resources():
        match = IAM_TYPES.match(address.split(".")[0])
        assert not match or match.group(1) == "member", address


def test_one_service_account_per_role(values):
    assert set(values["service_accounts"]) == SERVICE_ACCOUNTS
    for key in SERVICE_ACCOUNTS:
        assert 6 <= len(f"pagesage-{key}") <= 30, key  # account_id length limit
    sa = resource("google_service_account.sa")
    assert expr(sa["for_each"]) == "local.service_accounts"
    assert sa["account_id"] == "pagesage-${each.key}"


def test_readme_lists_every_role(values):
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("|"))
    for role in granted_roles(values):
        assert f"`{role}`" in table, f"{role} is not in the IAM table of infra/README.md"
    # The deployer may grant exactly the roles the module grants at project level.
    condition = re.search(r"hasOnly\(\[([^\]]*)\]\)", readme).group(1)
    allowed = set(re.findall(r"'([^']+)'", condition))
    project_level = {b["role"] for b in values["project_role_bindings"].values()}
    project_level.add(resource("google_project_iam_member.gcs_pubsub_publisher")["role"])
    assert allowed == project_level


def test_tesseract_service_is_private():
    service = resource("google_cloud_run_v2_service.tesseract")
    template = single(service["template"])
    assert expr(single(template["containers"])["image"]) == "var.tesseract_image"
    assert expr(template["service_account"]) == 'google_service_account.sa["tesseract"].email'
    invokers = {k: v for k, v in resources().items() if k.startswith("google_cloud_run_v2_service_iam_member.")
                and "google_cloud_run_v2_service.tesseract" in expr(v["name"])}
    assert len(invokers) == 1
    (binding,) = invokers.values()
    assert binding["role"] == "roles/run.invoker"
    assert expr(binding["member"]) == 'serviceAccount:${google_service_account.sa[each.key].email}'
    assert expr(binding["for_each"]) == 'toset(["runtime","worker"])'  # the worker OCRs, upload reads /health
    for address, body in resources().items():
        if IAM_TYPES.match(address.split(".")[0]) and "allUsers" in list(strings(body)):
            pytest.fail(f"{address} grants allUsers directly")


def test_document_ai_processor(values):
    processor = resource("google_document_ai_processor.ocr")
    assert processor["type"] == "OCR_PROCESSOR"
    assert expr(processor["location"]) == "var.documentai_location"
    assert values["documentai_location"] in {"us", "eu"}


def test_required_apis(values):
    assert {
        "cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com", "eventarc.googleapis.com",
        "firestore.googleapis.com", "cloudtasks.googleapis.com", "documentai.googleapis.com",
        "artifactregistry.googleapis.com", "pubsub.googleapis.com", "storage.googleapis.com",
    } <= set(values["services"])
    apis = resource("google_project_service.apis")
    assert apis["disable_on_destroy"] is False


def test_no_secrets_in_infra():
    for path in [*INFRA.rglob("*.tf"), *INFRA.rglob("*.tfvars"), REPO / "cloudbuild.yaml"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"-----BEGIN|private_key|\"password\"|secret_data", text), path


# --- environments --------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVS)
def test_environment_backend_and_versions(env_name):
    directory = INFRA / "envs" / env_name
    (backend_tf,) = parse(directory / "backend.tf")["terraform"]
    (backend,) = backend_tf["backend"]
    gcs = backend["gcs"]
    assert gcs["prefix"] == f"pagesage/{env_name}"
    assert "bucket" not in gcs, "the state bucket comes from -backend-config"
    (versions,) = parse(directory / "versions.tf")["terraform"]
    assert versions["required_version"] == ">= 1.6"
    google = single(versions["required_providers"])["google"]
    assert google == {"source": "hashicorp/google", "version": "~> 6.0"}


@pytest.mark.parametrize("env_name", ENVS)
def test_environment_values_pass_module_validation(env_name, console_root):
    """Running the module's variable validations on the environment's values."""
    if TERRAFORM is None:
        pytest.skip("the terraform binary is not installed")
    assert evaluated(env_name, console_root)["functions"]


# --- Cloud Build --------------------------------------------------------------------------------------


@cache
def cloudbuild() -> dict[str, Any]:
    # PyYAML arrives with the dev dependencies (through moto); it is not declared itself.
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text(encoding="utf-8"))


def step_script(step: dict[str, Any]) -> str:
    return " ".join([step.get("entrypoint", ""), *step.get("args", [])])


def test_cloudbuild_steps():
    config = cloudbuild()
    steps = {step["id"]: step for step in config["steps"]}
    order = [step["id"] for step in config["steps"]]
    assert "_ENV" in config["substitutions"]

    test = steps["test"]
    assert "make test" in step_script(test), "CI runs the README's test command"
    assert "emulators" in test["name"], "the tests need gcloud's emulators and Java"

    assert "infra/package_functions.py" in step_script(steps["package"])

    init = steps["terraform-init"]
    assert init["dir"] == "infra/envs/${_ENV}"
    assert "terraform init" in step_script(init) and "-backend-config=" in step_script(init)

    image = steps["tesseract-image"]
    assert "containers/tesseract/Dockerfile" in step_script(image)
    assert "docker push" in step_script(image)

    deploy = steps["deploy"]
    assert deploy["dir"] == "infra/envs/${_ENV}"
    assert "terraform apply" in step_script(deploy)
    assert "tesseract_image=" in step_script(deploy)

    assert order.index("test") < order.index("deploy")
    assert order.index("package") < order.index("deploy")
    assert order.index("terraform-init") < order.index("image-repository") < order.index("tesseract-image") < order.index("deploy")
    assert "secretEnv" not in json.dumps(config) and "availableSecrets" not in config


def test_cloudbuild_image_repository_comes_from_terraform():
    steps = {step["id"]: step for step in cloudbuild()["steps"]}
    script = step_script(steps["image-repository"])
    assert "-target=module.pagesage.google_artifact_registry_repository.images" in script
    assert "terraform output -raw image_repository" in script
    outputs = {name for block in blocks(INFRA / "envs" / "dev", "output") for name in block}
    assert "image_repository" in outputs


# --- packaging ---------------------------------------------------------------------------------------


def test_package_functions(tmp_path):
    script = INFRA / "package_functions.py"
    for out in ("a", "b"):
        subprocess.run([sys.executable, str(script), "--out", str(tmp_path / out)], check=True, capture_output=True,
                       timeout=60)
    folders = sorted(p.parent.name for p in (REPO / "functions").glob("*/main.py"))
    assert sorted(p.stem for p in (tmp_path / "a").glob("*.zip")) == folders
    for name in folders:
        first, second = (tmp_path / out / f"{name}.zip" for out in ("a", "b"))
        assert first.read_bytes() == second.read_bytes(), f"{name}.zip is not reproducible"
        with zipfile.ZipFile(first) as archive:
            names = set(archive.namelist())
            assert "main.py" in names
            assert "pagesage/config.py" in names and "pagesage/web.py" in names
            assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
            requirements = archive.read("requirements.txt").decode()
        pins = locked_pins(requirements)
        # every runtime dependency pinned, with hashes, at the version the tests run with
        for dep in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]:
            name = re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0]
            assert pins[_norm(name)] == metadata.version(name), name
        assert "pytest" not in pins and "pagesage" not in pins


# --- checkov ------------------------------------------------------------------------------------------

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def test_checkov(tmp_path):
    """checkov's Terraform and secrets policies, offline (~4 s); accepted findings carry a
    `checkov:skip` comment with the reason in the resource."""
    assert CHECKOV.is_file(), "no .venv-checkov: `make install` makes it from uv.lock's checkov group"
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", HOME=str(tmp_path))
    done = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "terraform", "secrets", "--skip-download", "--compact",
         "--quiet", "-o", "json"],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    reports = json.loads(done.stdout)
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in (reports if isinstance(reports, list) else [reports])
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert done.returncode == 0 and not failed, "\n".join(failed) or done.stderr
