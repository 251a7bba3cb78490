"""The officer dashboard: static HTML, CSS and JavaScript served by the service at ``/dashboard/``.

The pages hold no data of their own: the browser signs in with an officer API key (kept in sessionStorage)
and calls the JSON API, so roles and auditing apply exactly as for any other client.
"""

from laneface.dashboard.routes import CONTENT_SECURITY_POLICY, dashboard_router

__all__ = ["CONTENT_SECURITY_POLICY", "dashboard_router"]
