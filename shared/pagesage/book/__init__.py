"""The book layer: a bounded context beside provenance that turns the OCR of a whole book into
a reviewed, structured edition (docs/book.md).

    book/domain/    projects, page annotations, bounding boxes, inline references, versions,
                    validation rules: pure functions and pydantic models, no I/O
    book/ports.py   `BookStore`: what the services need from a store
    book/adapters/  `BookStore` on SQLite (embedded) and Firestore (production)
    book/services/  use cases: make a project from an OCR'd document, edit, validate, navigate
    book/api/       the HTTP routes served by the `projects`, `annotations` and `validate`
                    functions under `/api/v1`

It reads OCR only through the provenance ports (`pagesage.ports.Store`: source documents,
pages, page results, tokens, costs) and never writes them.
"""
