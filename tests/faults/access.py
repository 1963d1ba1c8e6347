"""Who may call each operation: the expected outcome per principal, beside each route of the table.

tests/faults/test_authorization.py calls every operation of `relief.app.operations()` as each principal
and compares with this table; a route in the table without a line here fails that test, so a new route
has to say who may call it. The rules are DESIGN.md invariant 9 and issue 10:

- viewers read everything but residents' names (which are hidden inside an allowed read);
- an organization reads incidents, calls and alerts, and reads and changes only its own organization,
  pledges, offers, keys and webhooks; another organization's are "not found" (404), so their existence is
  not told; a refusal that does not depend on the resource (the caller's role alone) is a 403;
- only dispatchers change incidents, calls, donations, shelters and residents, and approve or suspend;
- admin ⊇ dispatcher ⊇ viewer, except keys: only an admin and the organization itself handle keys
  (handlers/keys.py: a key acts as its organization, so not even a dispatcher mints one);
- a suspended organization still reads, but may not pledge, offer, acknowledge, subscribe, or change or
  drive its subscriptions (issue 10 item 4).

Principals: `anonymous` (no key), `viewer`, `own` (organization A on A's resources), `other` (A on B's
resources; on a route with no resource of B's in its path, A asking for B's, e.g. ?organization_id=B),
`suspended` (organization C, suspended, on its own resources), `dispatcher`, `admin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OK: Literal["allowed"] = "allowed"  # 2xx, or 409 (a state conflict): the caller got past authorization
Outcome = Literal["allowed", 401, 403, 404]

PRINCIPALS = ("anonymous", "viewer", "own", "other", "suspended", "dispatcher", "admin")

# Issue 10 item 4 (the lead is on it): a suspended organization's subscriptions accept no change.
ITEM_4 = "issue 10 item 4: a suspended organization's webhooks accept no change (403)"


@dataclass(frozen=True)
class Access:
    """The expected outcome of one operation for each principal."""

    anonymous: Outcome
    viewer: Outcome
    own: Outcome
    other: Outcome
    suspended: Outcome
    dispatcher: Outcome
    admin: Outcome
    waiting: dict[str, str] = field(default_factory=dict)  # principal → the fix its line waits for

    def expected(self, principal: str) -> Outcome:
        return getattr(self, principal)


def rule(
    *,
    viewer: Outcome,
    own: Outcome,
    dispatcher: Outcome,
    anonymous: Outcome = 401,
    other: Outcome | None = None,
    suspended: Outcome | None = None,
    admin: Outcome | None = None,
    waiting: dict[str, str] | None = None,
) -> Access:
    """An Access where `other` and `suspended` default to `own`, and `admin` to `dispatcher`."""
    return Access(
        anonymous=anonymous,
        viewer=viewer,
        own=own,
        other=own if other is None else other,
        suspended=own if suspended is None else suspended,
        dispatcher=dispatcher,
        admin=dispatcher if admin is None else admin,
        waiting=waiting or {},
    )


PUBLIC = rule(anonymous=OK, viewer=OK, own=OK, dispatcher=OK)
ANY_KEY = rule(viewer=OK, own=OK, dispatcher=OK)
STAFF_READS = rule(viewer=OK, own=403, dispatcher=OK)
DISPATCHERS = rule(viewer=403, own=403, dispatcher=OK)
# Reads of an organization's own things (staff read all): another's is hidden.
OWN_READS = rule(viewer=OK, own=OK, other=404, suspended=OK, dispatcher=OK)
# Acts of an approved organization on a shared resource (a call, an incident, an alert).
ORGANIZATIONS_ACT = rule(viewer=403, own=OK, suspended=403, dispatcher=403)
# A dispatcher's act on an organization's pledge: its owner is refused (403), a stranger told nothing.
PLEDGE_BY_BUREAU = rule(viewer=403, own=403, other=404, suspended=403, dispatcher=OK)
# The pledging organization's act on its pledge.
PLEDGE_BY_OWNER = rule(viewer=403, own=OK, other=404, suspended=OK, dispatcher=403)
# Changes to a subscription: the owner (an organization its own, dispatchers the bureau's); staff are
# given the bureau's subscription here.
WEBHOOK_CHANGE = rule(viewer=403, own=OK, other=404, suspended=403, dispatcher=OK, waiting={"suspended": ITEM_4})
# Console sessions: only a bureau key signs in; the session routes answer to its cookie.
CONSOLE_SESSION = rule(viewer=OK, own=401, dispatcher=OK)

ACCESS: dict[tuple[str, str], Access] = {
    # System: open to anyone (development settings; issue 10 item 8 guards /metrics in production).
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/v1/event-types"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    # Keys: an admin any; an organization its own (a suspended one may still manage its keys).
    ("POST", "/v1/keys"): rule(viewer=403, own=OK, other=403, dispatcher=403, admin=OK),
    ("GET", "/v1/keys"): rule(viewer=403, own=OK, dispatcher=403, admin=OK),
    # Changing a key (its language, a staff key's notify_email) is an admin's alone: refused on the role.
    ("PATCH", "/v1/keys/{id}"): rule(viewer=403, own=403, dispatcher=403, admin=OK),
    ("DELETE", "/v1/keys/{id}"): rule(viewer=403, own=OK, other=404, dispatcher=403, admin=OK),
    # Organizations.
    ("POST", "/v1/organizations"): DISPATCHERS,
    ("GET", "/v1/organizations"): ANY_KEY,
    ("GET", "/v1/organizations/{id}"): OWN_READS,
    ("PATCH", "/v1/organizations/{id}"): rule(viewer=403, own=OK, other=404, dispatcher=OK),
    ("POST", "/v1/organizations/{id}/approve"): DISPATCHERS,
    ("POST", "/v1/organizations/{id}/suspend"): DISPATCHERS,
    ("POST", "/v1/organizations/{id}/keys"): rule(viewer=403, own=OK, other=404, dispatcher=403, admin=OK),
    # The region table (GB/T 2260 names), for the console's picker: any key.
    ("GET", "/v1/regions"): ANY_KEY,
    # Incidents.
    ("POST", "/v1/incidents"): DISPATCHERS,
    ("GET", "/v1/incidents"): ANY_KEY,
    ("GET", "/v1/incidents/{id}"): ANY_KEY,
    ("PATCH", "/v1/incidents/{id}"): DISPATCHERS,
    ("POST", "/v1/incidents/{id}/close"): DISPATCHERS,
    ("POST", "/v1/incidents/{id}/reopen"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/events"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/stream"): ANY_KEY,
    ("GET", "/v1/incidents/{id}/summary"): ANY_KEY,
    ("GET", "/v1/public/incidents"): PUBLIC,
    ("GET", "/v1/public/incidents/{id}"): PUBLIC,
    ("GET", "/v1/incidents/{id}/exports/pledges.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/donations.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/evacuations.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/stock-movements.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/disbursements.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/deployments.csv"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/exports/impacts.csv"): STAFF_READS,
    # The ledger anyone can check, and how donations were used: no key needed, no person named.
    ("GET", "/v1/public/incidents/{id}/use"): PUBLIC,
    ("GET", "/v1/public/incidents/{id}/ledger"): PUBLIC,
    ("GET", "/v1/public/incidents/{id}/ledger/entries"): PUBLIC,
    ("GET", "/v1/public/incidents/{id}/receipts/{receipt_no}"): PUBLIC,
    ("GET", "/v1/public/ledger-key"): PUBLIC,
    # Relief calls.
    ("POST", "/v1/incidents/{id}/calls"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/calls"): ANY_KEY,
    ("GET", "/v1/calls/{id}"): ANY_KEY,
    ("PATCH", "/v1/calls/{id}"): DISPATCHERS,
    ("POST", "/v1/calls/{id}/publish"): DISPATCHERS,
    ("POST", "/v1/calls/{id}/close"): DISPATCHERS,
    ("POST", "/v1/calls/{id}/cancel"): DISPATCHERS,
    ("GET", "/v1/calls/{id}/matches"): STAFF_READS,
    # Pledges and offers.
    ("POST", "/v1/calls/{id}/pledges"): ORGANIZATIONS_ACT,
    ("GET", "/v1/calls/{id}/pledges"): ANY_KEY,
    ("GET", "/v1/pledges"): ANY_KEY,
    ("GET", "/v1/pledges/{id}"): OWN_READS,
    ("POST", "/v1/pledges/{id}/accept"): PLEDGE_BY_BUREAU,
    ("POST", "/v1/pledges/{id}/reject"): PLEDGE_BY_BUREAU,
    ("POST", "/v1/pledges/{id}/deliver"): PLEDGE_BY_BUREAU,
    # A suspended organization may still withdraw or report dispatched what it pledged before: it
    # "may not pledge" (DESIGN.md, handlers/organizations.py); the issue names no other refusal.
    ("POST", "/v1/pledges/{id}/withdraw"): PLEDGE_BY_OWNER,
    ("POST", "/v1/pledges/{id}/dispatch"): PLEDGE_BY_OWNER,
    # Rosters (issue 12): staff read every one (viewers with contacts masked), an organization its own; the
    # pledging organization alone sets it, suspended or not (knowing who is in the field is safety, and
    # the issue names no refusal), and dispatchers read but do not write it.
    ("GET", "/v1/pledges/{id}/roster"): OWN_READS,
    ("PUT", "/v1/pledges/{id}/roster"): PLEDGE_BY_OWNER,
    ("POST", "/v1/incidents/{id}/offers"): ORGANIZATIONS_ACT,
    ("GET", "/v1/incidents/{id}/offers"): ANY_KEY,
    # Donations: dispatchers record; an organization reads what it gave.
    ("POST", "/v1/incidents/{id}/donations"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/donations"): ANY_KEY,
    ("GET", "/v1/donations/{id}"): OWN_READS,
    ("POST", "/v1/donations/{id}/reverse"): DISPATCHERS,
    # Money disbursed: the bureau's own business; organizations see the public use report (403 on the role).
    ("POST", "/v1/incidents/{id}/disbursements"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/disbursements"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/funds"): STAFF_READS,
    ("GET", "/v1/disbursements/{id}"): STAFF_READS,
    ("POST", "/v1/disbursements/{id}/approve"): DISPATCHERS,
    ("POST", "/v1/disbursements/{id}/reject"): DISPATCHERS,
    ("POST", "/v1/disbursements/{id}/reverse"): DISPATCHERS,
    # Sites and stock: the bureau's; organizations see what became of goods in the public use report.
    ("POST", "/v1/incidents/{id}/sites"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/sites"): STAFF_READS,
    ("GET", "/v1/sites/{id}"): STAFF_READS,
    ("PATCH", "/v1/sites/{id}"): DISPATCHERS,
    ("POST", "/v1/incidents/{id}/stock-movements"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/stock-movements"): STAFF_READS,
    ("GET", "/v1/stock-movements/{id}"): STAFF_READS,
    ("POST", "/v1/stock-movements/{id}/receive"): DISPATCHERS,
    ("POST", "/v1/stock-movements/{id}/reverse"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/stock"): STAFF_READS,
    ("PUT", "/v1/sites/{id}/minimums"): DISPATCHERS,
    ("PUT", "/v1/shelters/{id}/minimums"): DISPATCHERS,
    # The audit trail.
    ("GET", "/v1/events"): DISPATCHERS,
    # Shelters, residents, evacuations: the bureau's alone.
    ("POST", "/v1/incidents/{id}/shelters"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/shelters"): STAFF_READS,
    ("GET", "/v1/shelters/{id}"): STAFF_READS,
    ("PATCH", "/v1/shelters/{id}"): DISPATCHERS,
    ("POST", "/v1/shelters/{id}/close"): DISPATCHERS,
    ("POST", "/v1/shelters/{id}/reopen"): DISPATCHERS,
    ("POST", "/v1/incidents/{id}/residents"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/residents"): STAFF_READS,
    ("GET", "/v1/residents/{id}"): STAFF_READS,
    ("POST", "/v1/residents/{id}/checkin"): DISPATCHERS,
    ("POST", "/v1/residents/{id}/move"): DISPATCHERS,
    ("POST", "/v1/residents/{id}/return"): DISPATCHERS,
    ("POST", "/v1/incidents/{id}/evacuations"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/evacuations"): STAFF_READS,
    # Impact figures: dispatchers record, staff read; organizations neither.
    ("POST", "/v1/incidents/{id}/impacts"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/impacts"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/impacts/current"): STAFF_READS,
    ("GET", "/v1/impacts/{id}"): STAFF_READS,
    ("POST", "/v1/incidents/{id}/imports"): DISPATCHERS,
    ("GET", "/v1/imports/{id}"): STAFF_READS,
    ("GET", "/v1/imports/{id}/errors.csv"): STAFF_READS,
    ("GET", "/v1/imports/templates/{kind}.csv"): ANY_KEY,
    ("GET", "/v1/imports/templates/{kind}.xlsx"): ANY_KEY,
    ("POST", "/v1/incidents/{id}/sitreps"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/sitreps"): STAFF_READS,
    ("GET", "/v1/incidents/{id}/sitreps/preview"): STAFF_READS,
    ("GET", "/v1/sitreps/{id}"): STAFF_READS,
    ("GET", "/v1/sitreps/{id}.html"): STAFF_READS,
    ("GET", "/v1/sitreps/{id}.csv"): STAFF_READS,
    ("GET", "/v1/public/sitreps/{id}"): PUBLIC,
    ("GET", "/v1/public/sitreps/{id}.html"): PUBLIC,
    ("GET", "/v1/public/incidents/{id}/sitreps"): PUBLIC,
    # Webhooks: organizations their own; the bureau's are the dispatchers'; viewers read all.
    ("POST", "/v1/webhooks"): rule(viewer=403, own=OK, suspended=403, dispatcher=OK),
    ("GET", "/v1/webhooks"): ANY_KEY,
    ("GET", "/v1/webhooks/{id}"): OWN_READS,
    ("PATCH", "/v1/webhooks/{id}"): WEBHOOK_CHANGE,
    ("DELETE", "/v1/webhooks/{id}"): WEBHOOK_CHANGE,
    ("POST", "/v1/webhooks/{id}/rotate"): WEBHOOK_CHANGE,
    ("POST", "/v1/webhooks/{id}/pause"): WEBHOOK_CHANGE,
    ("POST", "/v1/webhooks/{id}/resume"): WEBHOOK_CHANGE,
    ("POST", "/v1/webhooks/{id}/recover"): WEBHOOK_CHANGE,
    ("POST", "/v1/webhooks/{id}/test"): WEBHOOK_CHANGE,
    ("GET", "/v1/webhooks/{id}/deliveries"): OWN_READS,
    # A retry sends a delivery out, which suspension holds: refused like the test delivery.
    ("POST", "/v1/deliveries/{id}/retry"): WEBHOOK_CHANGE,
    # Tasks: the bureau's orders to particular teams. Dispatchers write; an organization reads the tasks its
    # teams were asked to do and its own assignments (another's are not found), and answers them: a
    # suspended one may still decline, not accept; a dispatcher may record a team's answer.
    ("POST", "/v1/incidents/{id}/tasks"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/tasks"): ANY_KEY,
    ("GET", "/v1/tasks/{id}"): OWN_READS,
    ("PATCH", "/v1/tasks/{id}"): DISPATCHERS,
    ("POST", "/v1/tasks/{id}/done"): DISPATCHERS,
    ("POST", "/v1/tasks/{id}/cancel"): DISPATCHERS,
    ("POST", "/v1/tasks/{id}/assignments"): DISPATCHERS,
    ("GET", "/v1/tasks/{id}/assignments"): OWN_READS,
    ("GET", "/v1/assignments/{id}"): OWN_READS,
    ("POST", "/v1/assignments/{id}/accept"): rule(viewer=403, own=OK, other=404, suspended=403, dispatcher=OK),
    ("POST", "/v1/assignments/{id}/decline"): rule(viewer=403, own=OK, other=404, suspended=OK, dispatcher=OK),
    # On site: the team's organization (its lead) for its own members on a task its team was asked to do,
    # or a dispatcher; another organization's task is not found. A suspended organization sends no one
    # out but still brings its people back and extends their time (no one is left unaccounted for).
    ("POST", "/v1/tasks/{id}/checkins"): rule(viewer=403, own=OK, other=404, suspended=403, dispatcher=OK),
    ("POST", "/v1/tasks/{id}/checkouts"): rule(viewer=403, own=OK, other=404, dispatcher=OK),
    ("POST", "/v1/tasks/{id}/extensions"): rule(viewer=403, own=OK, other=404, dispatcher=OK),
    # The muster and the hours: staff everyone (viewers with phones masked), an organization its own members.
    ("GET", "/v1/incidents/{id}/field"): ANY_KEY,
    ("GET", "/v1/incidents/{id}/hours"): ANY_KEY,
    # Alerts: everyone with a key reads them; approved organizations answer them.
    ("POST", "/v1/incidents/{id}/alerts"): DISPATCHERS,
    ("GET", "/v1/incidents/{id}/alerts"): ANY_KEY,
    ("GET", "/v1/alerts/{id}.cap"): ANY_KEY,
    ("GET", "/v1/alerts/{id}"): ANY_KEY,
    ("POST", "/v1/alerts/{id}/acks"): ORGANIZATIONS_ACT,
    ("GET", "/v1/alerts/{id}/acks"): ANY_KEY,
    ("GET", "/v1/alerts/{id}/targets"): STAFF_READS,
    ("GET", "/v1/notification-rules"): DISPATCHERS,
    # An organization reads the email sent to it; viewers none (recipients are contacts).
    ("GET", "/v1/notifications"): rule(viewer=403, own=OK, dispatcher=OK),
    ("GET", "/v1/notifications/{id}"): rule(viewer=403, own=OK, other=404, suspended=OK, dispatcher=OK),
    ("GET", "/v1/public/alerts.atom"): PUBLIC,
    ("GET", "/v1/public/alerts/{id}.cap"): PUBLIC,
    # The console: a bureau key signs in (an organization's is refused, a wrong one is a 401); the session
    # routes answer to the cookie, which an organization can never get.
    ("POST", "/console/session"): rule(viewer=OK, own=403, dispatcher=OK),
    # Without a session (anonymous, an organization) the read is {"signed_in": false}, not a 401: the
    # sign-in page asks it on every load (issue 16).
    ("GET", "/console/session"): PUBLIC,
    ("DELETE", "/console/session"): CONSOLE_SESSION,
    ("GET", "/console/config"): PUBLIC,
}
