"""DocumentAiEngine through the client library's own gRPC transport, against a local fake
Document AI server that answers with real processor outputs (`tests/fixtures/docai/`) or with
scripted gRPC errors. No network."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions as core_exceptions
from google.api_core import retry as retries
from google.cloud import documentai
from google.cloud.documentai_v1.services.document_processor_service.transports import (
    DocumentProcessorServiceGrpcTransport,
)
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2

from pagesage import emulators

from pagesage.engines.docai import (
    BATCH_MAX_PAGES,
    DocAiCall,
    DocumentAiEngine,
    choose_mode,
    language_hints,
    read_gcs_json,
    sniff_mime,
)
from pagesage.engines.docai_document import load_document
from pagesage.domain.languages import parse_spec
from pagesage.errors import EngineError, InputError, InvalidLanguage, TransientError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docai"
SHARDS = sorted((FIXTURES / "winnie_the_pooh_shards").glob("*.json"))
PROCESSOR = "projects/demo-pagesage/locations/us/processors/0123456789abcdef"
VERSION = f"{PROCESSOR}/processorVersions/pretrained-ocr-v2.0-2023-06-02"
SERVICE = "google.cloud.documentai.v1.DocumentProcessorService"
OPERATION = "projects/demo-pagesage/locations/us/operations/4711"


class FakeDocumentAi:
    """A local gRPC server for ProcessDocument, BatchProcessDocuments and GetProcessor.

    `answers[method]` lists what successive calls get: a message, or a `grpc.StatusCode` to
    fail with; the last answer repeats. `requests[method]` records what arrived.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list] = {
            "GetProcessor": [documentai.Processor(name=PROCESSOR, default_processor_version=VERSION)],
        }
        self.requests: dict[str, list] = {"ProcessDocument": [], "BatchProcessDocuments": [], "GetProcessor": []}
        handlers = {
            "ProcessDocument": self._handler("ProcessDocument", documentai.ProcessRequest.deserialize, documentai.ProcessResponse.serialize),
            "BatchProcessDocuments": self._handler("BatchProcessDocuments", documentai.BatchProcessRequest.deserialize,
                                                   operations_pb2.Operation.SerializeToString),
            "GetProcessor": self._handler("GetProcessor", documentai.GetProcessorRequest.deserialize, documentai.Processor.serialize),
        }
        self.server = grpc.server(ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _handler(self, method, deserialize, serialize):
        def handle(request, context):
            self.requests[method].append(request)
            queue = self.answers[method]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(answer, grpc.StatusCode):
                context.abort(answer, f"scripted {answer.name}")
            return answer
        return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=deserialize, response_serializer=serialize)

    def client(self) -> documentai.DocumentProcessorServiceClient:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return documentai.DocumentProcessorServiceClient(transport=DocumentProcessorServiceGrpcTransport(channel=channel))


@pytest.fixture
def fake():
    server = FakeDocumentAi()
    yield server
    server.server.stop(grace=None)


@pytest.fixture
def calls() -> list[DocAiCall]:
    return []


@pytest.fixture
def engine(fake, calls) -> DocumentAiEngine:
    return DocumentAiEngine(PROCESSOR, client=fake.client(), enable_image_quality_scores=True, on_call=calls.append)


def response_of(name: str) -> documentai.ProcessResponse:
    return documentai.ProcessResponse(document=load_document(FIXTURES / name))


def test_recognize_sends_the_page_image_and_returns_its_words(fake, engine, calls):
    fake.answers["ProcessDocument"] = [response_of("multiple_levels.json")]
    image = FIXTURES / "multiple_levels.png"
    output = engine.recognize(image, languages="san+eng", dpi=300, psm=3)

    assert len(output.words) == 22
    assert {w.text: w.lang for w in output.words if w.text.isalpha()}["Bienvenue"] == "fr"
    assert all(0 <= w.confidence <= 100 for w in output.words)
    assert all(x + w <= 936 and y + h <= 213 for x, y, w, h in (w.bbox for w in output.words))
    assert output.seconds >= 0
    [request] = fake.requests["ProcessDocument"]
    assert request.name == VERSION
    assert request.raw_document.content == image.read_bytes()
    assert request.raw_document.mime_type == "image/png"
    assert list(request.process_options.ocr_config.hints.language_hints) == ["sa"]
    assert request.process_options.ocr_config.enable_image_quality_scores is True
    assert engine.version() == "pretrained-ocr-v2.0-2023-06-02"
    assert [(c.mode, c.pages_billed, c.processor_version, c.request_id) for c in calls] == [("online", 1, VERSION, None)]

    engine.recognize(image, languages="eng", dpi=300, psm=3)
    assert len(fake.requests["GetProcessor"]) == 1  # the default version is read once, then pinned
    assert not fake.requests["ProcessDocument"][1].process_options.ocr_config.hints.language_hints


@pytest.mark.parametrize("code", [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE])
def test_429_or_503_is_retried_by_the_client_then_answered_once(fake, engine, calls, code):
    fake.answers["ProcessDocument"] = [code, response_of("multiple_levels.json")]
    output = engine.recognize(FIXTURES / "multiple_levels.png", languages="auto", dpi=300, psm=3)
    assert len(output.words) == 22
    assert len(fake.requests["ProcessDocument"]) == 2
    assert len(calls) == 1 and calls[0].pages_billed == 1


def test_permanent_400_raises_engine_error_and_bills_nothing(fake, engine, calls):
    fake.answers["ProcessDocument"] = [grpc.StatusCode.INVALID_ARGUMENT, response_of("multiple_levels.json")]
    with pytest.raises(EngineError, match="refused") as raised:
        engine.recognize(FIXTURES / "multiple_levels.png", languages="auto", dpi=300, psm=3)
    assert not raised.value.retryable
    assert isinstance(raised.value.__cause__, core_exceptions.InvalidArgument)
    assert len(fake.requests["ProcessDocument"]) == 1
    assert calls == []


def test_unavailable_after_the_retries_raises_transient_error(fake, calls):
    fake.answers["ProcessDocument"] = [grpc.StatusCode.UNAVAILABLE]
    quick = retries.Retry(initial=0.01, maximum=0.02, multiplier=2, timeout=0.3,
                          predicate=retries.if_exception_type(core_exceptions.ServiceUnavailable))
    engine = DocumentAiEngine(VERSION, client=fake.client(), retry=quick, on_call=calls.append)
    with pytest.raises(TransientError) as raised:
        engine.recognize(FIXTURES / "multiple_levels.png", languages="auto", dpi=300, psm=3)
    assert raised.value.retryable
    assert len(fake.requests["ProcessDocument"]) > 1
    assert calls == []
    assert fake.requests["GetProcessor"] == []  # a pinned version needs no lookup


def test_upside_down_photo_boxes_come_back_in_the_photos_pixels(fake, engine):
    fake.answers["ProcessDocument"] = [response_of("upside_down.json")]
    output = engine.recognize(FIXTURES / "upside_down.jpg", languages="auto", dpi=300, psm=3)
    boxes = {w.text: w.bbox for w in output.words}
    assert len(output.words) == 11
    assert all(x + w <= 1120 and y + h <= 268 for x, y, w, h in boxes.values())
    assert boxes["Forty"][0] > boxes["said"][0] > boxes["majesty"][0]
    assert fake.requests["ProcessDocument"][0].raw_document.mime_type == "image/jpeg"
    assert engine.detect(FIXTURES / "upside_down.jpg", dpi=300) == (None, 0.0)


def test_unknown_processor_raises_engine_error(fake):
    fake.answers["GetProcessor"] = [grpc.StatusCode.NOT_FOUND]
    engine = DocumentAiEngine(PROCESSOR, client=fake.client())
    with pytest.raises(EngineError):
        engine.version()
    with pytest.raises(InputError):
        DocumentAiEngine("processors/abc", client=fake.client())


def test_language_names_and_hints():
    assert language_hints("auto") == [] and language_hints("eng") == [] and language_hints("script/Devanagari") == []
    assert language_hints("san+hin+eng") == ["sa", "hi"]
    with pytest.raises(InvalidLanguage):
        language_hints("deu")
    installed = DocumentAiEngine(VERSION, client=object()).installed_languages()
    assert parse_spec("san+eng", set(installed)) == "san+eng"


def test_online_or_batch_by_the_documented_limits():
    assert choose_mode(15, 1000) == "online"
    assert choose_mode(16, 1000) == "batch"
    assert choose_mode(16, 1000, imageless=True) == "online"
    assert choose_mode(30, 1000, imageless=True) == "online"
    assert choose_mode(31, 1000, imageless=True) == "batch"
    assert choose_mode(1, 40_000_000) == "online"
    assert choose_mode(1, 40_000_001) == "batch"
    assert sniff_mime((FIXTURES / "toolbox_invoice_test.pdf").read_bytes()[:16]) == "application/pdf"


def test_whole_document_online(fake, engine, calls):
    fake.answers["ProcessDocument"] = [response_of("toolbox_invoice_test-0.json")]
    result = engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=1, imageless=True)
    assert len(result.pages) == 1 and len(result.pages[0].words) == 86
    [request] = fake.requests["ProcessDocument"]
    assert request.raw_document.mime_type == "application/pdf" and request.imageless_mode is True
    assert result.call == calls[0] and calls[0].mode == "online"
    assert fake.requests["BatchProcessDocuments"] == []


def batch_operation(destination: str, input_uri: str, code: int = 0) -> operations_pb2.Operation:
    metadata = documentai.BatchProcessMetadata(
        state=documentai.BatchProcessMetadata.State.SUCCEEDED if not code else documentai.BatchProcessMetadata.State.FAILED,
        individual_process_statuses=[documentai.BatchProcessMetadata.IndividualProcessStatus(
            input_gcs_source=input_uri, output_gcs_destination=destination,
            status=status_pb2.Status(code=code, message="scripted" if code else ""))],
    )
    meta, response = any_pb2.Any(), any_pb2.Any()
    meta.Pack(documentai.BatchProcessMetadata.pb(metadata))
    response.Pack(documentai.BatchProcessResponse.pb(documentai.BatchProcessResponse()))
    return operations_pb2.Operation(name=OPERATION, done=True, metadata=meta, response=response)


def test_whole_document_in_batch_reads_the_shards_back(fake, calls):
    source, out = "gs://in-bucket/originals/pooh.pdf", "gs://out-bucket/docai/job1/"
    destination = f"{out}4711/0"
    fake.answers["BatchProcessDocuments"] = [batch_operation(destination, source)]
    read: list[str] = []

    def fetch(uri: str) -> list[bytes]:
        read.append(uri)
        return [p.read_bytes() for p in random.Random(3).sample(SHARDS, len(SHARDS))]

    engine = DocumentAiEngine(PROCESSOR, client=fake.client(), on_call=calls.append, fetch_outputs=fetch)
    result = engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=50,
                                 gcs_input_uri=source, gcs_output_prefix=out)
    assert read == [destination]
    assert [p.page_number for p in result.pages] == list(range(1, 51))
    assert result.document.text.startswith(load_document(SHARDS).text[:200])
    [request] = fake.requests["BatchProcessDocuments"]
    assert request.name == VERSION
    assert request.input_documents.gcs_documents.documents[0].gcs_uri == source
    assert request.input_documents.gcs_documents.documents[0].mime_type == "application/pdf"
    assert request.document_output_config.gcs_output_config.gcs_uri == out
    assert fake.requests["ProcessDocument"] == []
    assert [(c.mode, c.pages_billed, c.request_id) for c in calls] == [("batch", 50, OPERATION)]


def test_batch_needs_gcs_and_respects_its_limits(fake, engine, calls):
    with pytest.raises(InputError, match="gcs_input_uri"):
        engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=16)
    with pytest.raises(EngineError, match="batch limits"):
        engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=BATCH_MAX_PAGES + 1,
                            gcs_input_uri="gs://b/x.pdf", gcs_output_prefix="gs://b/out/")
    assert fake.requests["BatchProcessDocuments"] == [] and fake.requests["ProcessDocument"] == []
    assert calls == []


def test_batch_document_failure_raises_engine_error(fake, calls):
    source = "gs://in-bucket/originals/bad.pdf"
    fake.answers["BatchProcessDocuments"] = [batch_operation("gs://out/4711/0", source, code=3)]  # INVALID_ARGUMENT
    engine = DocumentAiEngine(VERSION, client=fake.client(), on_call=calls.append, fetch_outputs=lambda uri: pytest.fail("read"))
    with pytest.raises(EngineError):
        engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=20,
                            gcs_input_uri=source, gcs_output_prefix="gs://out/")
    assert calls == []


def test_batch_request_refused_raises_engine_error(fake, calls):
    fake.answers["BatchProcessDocuments"] = [grpc.StatusCode.PERMISSION_DENIED]
    engine = DocumentAiEngine(VERSION, client=fake.client(), on_call=calls.append)
    with pytest.raises(EngineError):
        engine.process_file(FIXTURES / "toolbox_invoice_test.pdf", page_count=20,
                            gcs_input_uri="gs://b/x.pdf", gcs_output_prefix="gs://b/out/")
    assert calls == []


def test_read_gcs_json_reads_one_output_folder(storage_host):
    from google.cloud import storage

    emulators.reset_storage(storage_host)
    client = storage.Client(project=emulators.PROJECT)
    bucket = client.create_bucket("docai-out")
    for path in SHARDS:
        bucket.blob(f"out/4711/0/{path.name}").upload_from_filename(str(path))
    bucket.blob("out/4711/01/other-0.json").upload_from_string(b"{}")  # another input's folder
    bucket.blob("out/4711/0/notes.txt").upload_from_string(b"not output")
    blobs = read_gcs_json("gs://docai-out/out/4711/0", client=client)
    assert sorted(blobs) == sorted(p.read_bytes() for p in SHARDS)
    assert len(load_document(blobs).pages) == 50


# -- cost log: what a Document AI call bills --------------------------------------------------

def docai_job(tmp_path: Path, languages: str = "auto"):
    """A one-page PNG job, processing, with its original stored: (store, blobs, job, page, run)."""
    import hashlib

    from pagesage.adapters.local_blobs import LocalBlobStore
    from pagesage.adapters.sqlite_store import SqliteStore
    from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, new_job_id
    from pagesage.domain.pages import EngineConfig, Page, Run

    image = FIXTURES / "multiple_levels.png"
    store, blobs = SqliteStore(tmp_path / "db.sqlite"), LocalBlobStore(tmp_path / "blobs")
    job_id = new_job_id()
    upload = DocumentUpload(file_name=image.name, file_format=FileFormat.PNG, file_size=image.stat().st_size,
                            content_type="image/png", sha256=hashlib.sha256(image.read_bytes()).hexdigest(),
                            original_key=f"originals/{job_id}/original.png")
    blobs.put_file(upload.original_key, image, "image/png")
    job = Job(job_id=job_id, upload=upload, languages=languages)
    job.start(1)
    store.create_job(job)
    page = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1)
    store.put_pages([page])
    run = Run(job_id=job.job_id, engine="docai", engine_version="pretrained-ocr-v2.0-2023-06-02",
              config=EngineConfig(languages=languages, psm=3, oem=1, dpi=300))
    store.put_run(run)
    return store, blobs, job, page, run


def test_a_document_ai_page_is_logged_as_one_billed_page(fake, engine, tmp_path):
    from pagesage.config import Settings
    from pagesage.services.ocr_page import ocr_page

    fake.answers["ProcessDocument"] = [response_of("multiple_levels.json")]
    store, blobs, job, page, run = docai_job(tmp_path)
    done = ocr_page(job, page, run, store=store, blobs=blobs, engine=engine, settings=Settings(data_dir=tmp_path))
    # the page's imageQualityScores grade its quality metrics (seed qualityMetrics); PageSage's
    # own measurements of the image stay beside them
    raw = json.loads((FIXTURES / "multiple_levels.json").read_text())["pages"][0]["image_quality_scores"]
    assert done.quality.quality_score == pytest.approx(raw["quality_score"])
    assert done.quality.source == "pagesage-analyse+document-ai"
    assert done.quality.contrast is not None and done.quality.color_space in ("bilevel", "grey", "rgb")
    assert set(done.quality.defects) == {d["type_"].removeprefix("quality/defect_") for d in raw["detected_defects"]}
    [entry] = store.list_costs(job.job_id)  # no layout-detection entry: Document AI's detect calls nothing
    assert entry.cost_id == f"{job.job_id}:p1:ocr-extraction"
    assert (entry.engine, entry.operation, entry.provider, entry.service) == ("docai", "ocr-extraction", "google-cloud", "document-ai-ocr")
    assert (entry.units, entry.unit, entry.status, entry.request_id) == (1.0, "page", "success", None)
    assert entry.unit_cost_usd == pytest.approx(0.0015) and entry.total_usd == pytest.approx(0.0015)
    assert entry.document_sha256 == job.upload.sha256 and entry.price_version == "2026-11"
    # `auto` goes to Document AI as is: no OSD step, no language hint, no misleading warning
    (request,) = fake.requests["ProcessDocument"]
    assert list(request.process_options.ocr_config.hints.language_hints) == []
    (result,) = store.list_page_results(job.job_id)
    assert result.detection is None and not any("too little text" in w for w in result.warnings)
    # the same stages ran; preprocessing is Document AI's own
    assert [s.stage for s in result.stages] == ["render", "analyse", "preprocess", "recognise", "layout", "store"]
    assert result.stages[1].applied == ["quality-metrics"] and result.stages[2].skipped and not result.preprocessing_applied
    # the Document itself is kept beside the result, without its page images, and reads back
    from pagesage.engines.docai_document import convert_document, load_document

    assert blobs.content_type(result.raw_key) == "application/json"
    with blobs.open(result.raw_key) as stream:
        kept = load_document(stream.read())
    assert len(convert_document(kept)[0].words) == result.word_count and not kept.pages[0].image.content
    assert result.config.languages == "auto"


def test_a_failed_document_ai_call_logs_no_cost(fake, engine, calls, tmp_path):
    from pagesage.config import Settings
    from pagesage.domain.jobs import JobStatus
    from pagesage.services.worker import WorkerPorts, run_page

    fake.answers["ProcessDocument"] = [grpc.StatusCode.INVALID_ARGUMENT]
    store, blobs, job, page, run = docai_job(tmp_path, languages="eng")
    ports = WorkerPorts(store=store, blobs=blobs, queue=None, engine=engine, settings=Settings(data_dir=tmp_path))
    run_page(job.job_id, 1, ports)
    assert len(fake.requests["ProcessDocument"]) == 1
    assert store.get_page(page.page_id).error_code == "ocr_engine_error"
    assert store.get_job(job.job_id).status is JobStatus.FAILED
    assert calls == [] and store.list_costs(job.job_id) == []
