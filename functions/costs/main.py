"""`costs` (HTTP, GET /costs, in the local stack also GET /api/v1/costs): the cost log.

`?job=&project=&since=&until=&group_by=job|document|engine|day&format=json|jsonl`: a summary
(`CostSummary`) or the entries as JSON Lines (`application/x-ndjson`, one `CostEntry` a line).
A bad parameter -> 400 whose detail starts with the parameter's name. Not public: in Google
Cloud only the principals of `var.operators` may invoke it (infra/README.md).
"""

import flask
import functions_framework

from pagesage import web
from pagesage.services.costs import CostQuery, query_costs, summarize, to_jsonl


@functions_framework.http
@web.endpoint("GET", operator=True)
def costs(request, services):
    """The summary or JSONL export of the matching cost entries."""
    query = CostQuery.from_args(request.args)
    entries = query_costs(services.store, job=query.job, project=query.project, since=query.since, until=query.until)
    if query.format == "jsonl":
        return flask.Response("".join(to_jsonl(entries)), status=200, mimetype="application/x-ndjson")
    summary = summarize(entries, query.group_by, store=services.store, job=query.job, project=query.project,
                        since=query.since, until=query.until)
    return web.json_response(summary)
