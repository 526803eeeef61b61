"""`sweep` (HTTP, POST): re-queue or give up jobs that stopped making progress
(services/sweeper.py). In Google Cloud, Cloud Scheduler calls it every few minutes with an OIDC
token, and IAM admits only the scheduler's service account. Answers 200 with a `SweepResult`:
`{"requeued": [job ids], "given_up": [job ids]}`.
"""

import functions_framework

from pagesage import web
from pagesage.services.sweeper import sweep as sweep_stalled


@functions_framework.http
@web.endpoint("POST", rate_limited=False, operator=True)
def sweep(request, services):
    """One sweep over the stalled jobs."""
    report = sweep_stalled(store=services.store, blobs=services.blobs, queue=services.queue, settings=services.settings,
                           now=services.clock())
    return web.json_response(report)
