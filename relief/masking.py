"""The one masking rule (DESIGN.md invariants 10 and 14): what of a person's contact a reader may see.

Every channel that shows a resource or an event — REST reads, the live stream, webhooks, the audit
trail, exports — passes its JSON document through `shown()` with the reader's `Audience`, so no
channel can show what another hides. The rule, per kind of entity:

- a resident's phone is masked for everyone (the full number never leaves the service; the ID
  number is not even stored, only its keyed hash and last 4 characters);
- a team lead's phone (a pledge's `lead`) and an organization's contact phone are shown in full to
  dispatchers and admins and to that organization itself, masked to viewers and to everyone else;
- a site manager's phone (the bureau's own contact) is shown in full to dispatchers and admins only;
- a roster member's phone and emergency contact's phone (issue 12) are shown in full to dispatchers
  and admins and to the member's own organization, masked to viewers and everyone else; certificate
  numbers are treated like ID numbers (****1234). Another organization never reads a roster at all
  (404), and events carry rosters' counts only, so webhooks and the public never see a member;
- emails are contact data like phones (issue 15): an organization's contact email, a pledge lead's
  and a roster member's are shown whole to exactly those who see the phone beside them whole, and
  masked by mask_email (w***@example.org) for everyone else; a bureau staff key's notify_email is
  read through REST by admins only, and in events (the audit trail, the bureau's webhooks) it is the
  bureau's own contact, like a site manager's phone;
- a webhook URL's query string (where receivers put their tokens) is shown to the subscription's
  owner only: the organization for its own, dispatchers for the bureau's; others see `?token=***`;
- a situation report (issue 13) holds no personal data, but its narrative and issuer are the bureau's:
  everyone outside the bureau (organizations' webhooks and streams, the public) gets its public version.

Fields are named by their path in the document, so a field added later is masked by adding its path
here, once, for every channel.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from pydantic import BaseModel

from models.keys import Role
from models.sitreps import public_version
from relief.auth import Principal

M = TypeVar("M", bound=BaseModel)


def mask_phone(phone: str) -> str:
    """139****5678: enough to recognise a number, not enough to call it.

    The first three digits are shown only on numbers of 11 digits or more (a mobile number's carrier
    prefix); shorter numbers show their last four at most, so no mask reveals more than half a number.
    """
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) < 8:
        return "****"
    if len(digits) < 11:
        return "****" + digits[-4:]
    return digits[:3] + "****" + digits[-4:]


def mask_email(address: str) -> str:
    """w***@example.org: the first character and the domain, enough to tell addresses apart, not
    enough to write to one. Anything without a local part and a domain is hidden whole."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_number(number: str) -> str:
    """****1234: an ID or certificate number by its last 4 characters, as residents' are stored."""
    compact = number.replace(" ", "")
    return "****" + compact[-4:] if len(compact) >= 8 else "****"


def mask_query(url: str) -> str:
    """https://team.example.org/hook?token=***: the address, not the secrets a query may carry."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    names = (item.partition("=")[0] for item in parts.query.split("&") if item)
    return urlunsplit(parts._replace(query="&".join(f"{name}=***" for name in names)))


@dataclass(frozen=True)
class Audience:
    """Who reads: bureau staff who may see contacts, or an organization (its own contacts only)."""

    sees_contacts: bool = False  # dispatchers and admins: every organization's contacts
    organization_id: UUID | None = None  # an organization: its own contacts
    staff: bool = False  # the bureau (viewers too, and its own webhooks): its documents whole, e.g. a sitrep

    @classmethod
    def of(cls, caller: Principal) -> Audience:
        return cls(sees_contacts=caller.at_least(Role.dispatcher), organization_id=caller.organization_id,
                   staff=caller.is_staff)

    @property
    def bureau(self) -> bool:
        return self.staff or self.sees_contacts

    def sees_contacts_of(self, owner: Any) -> bool:
        return self.sees_contacts or self.is_owner(owner)

    def is_owner(self, owner: Any) -> bool:
        """The organization `owner` itself; for the bureau's own things (owner None), its staff."""
        if owner is None:
            return self.sees_contacts
        return self.organization_id is not None and str(owner) == str(self.organization_id)


OUTSIDE = Audience()
"""The public, and every body that leaves the building (webhooks): no full contact of anyone."""

BUREAU_OUTSIDE = Audience(staff=True)
"""The bureau's own webhook subscriptions: no full contact either (the body leaves the building), but
the bureau's documents whole: a situation report, not its public version."""

# Documents the bureau reads whole and everyone else in a public version (a function of the JSON
# form alone): organizations' webhooks and streams, and the public, get the version.
_PUBLIC_VERSIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"sitrep": public_version}

@dataclass(frozen=True)
class _Rule:
    owner_field: str | None  # the field naming the organization it belongs to; None: nobody sees it whole
    sees: Callable[[Audience, Any], bool]  # who sees it whole, given the owner
    paths: tuple[tuple[str, ...], ...]  # where the fields are in the document
    mask: Callable[[str], str] = mask_phone
    numbers: tuple[tuple[str, ...], ...] = ()  # ID-like numbers, masked by mask_number on the same terms
    emails: tuple[tuple[str, ...], ...] = ()  # email addresses, masked by mask_email on the same terms


def _nobody(_audience: Audience, _owner: Any) -> bool:
    return False


_RULES: dict[str, _Rule] = {
    "resident": _Rule(None, _nobody, (("phone",),)),
    "pledge": _Rule("organization_id", Audience.sees_contacts_of, (("lead", "phone"),), emails=(("lead", "email"),)),
    "organization": _Rule("id", Audience.sees_contacts_of, (("contact", "phone"),), emails=(("contact", "email"),)),
    # A site's manager is the bureau's own contact (a site names no organization_id, so the owner is
    # the bureau): dispatchers and admins see it whole, viewers and everyone outside masked.
    "site": _Rule("organization_id", Audience.is_owner, (("manager", "phone"),)),
    "webhook": _Rule("organization_id", Audience.is_owner, (("url",),), mask_query),
    # A key in an event (key.created, key.revoked): a staff key names no organization, so its
    # notify_email is the bureau's own contact; an organization's key never holds one.
    "key": _Rule("organization_id", Audience.is_owner, (), emails=(("notify_email",),)),
    # A roster (GET /v1/pledges/{id}/roster) and a member wherever one is shown alone (deployments, the
    # muster view): "*" steps into every item of a list.
    "roster": _Rule("organization_id", Audience.sees_contacts_of,
                    (("members", "*", "phone"), ("members", "*", "emergency_contact", "phone")),
                    numbers=(("members", "*", "certificates", "*", "number"),), emails=(("members", "*", "email"),)),
    "roster_member": _Rule("organization_id", Audience.sees_contacts_of, (("phone",), ("emergency_contact", "phone")),
                           numbers=(("certificates", "*", "number"),), emails=(("email",),)),
}


def _mask_at(node: Any, path: tuple[str, ...], mask: Callable[[str], str]) -> None:
    name, rest = path[0], path[1:]
    if name == "*":
        for item in node if isinstance(node, list) else ():
            _mask_at(item, rest, mask)
    elif rest:
        _mask_at(node.get(name) if isinstance(node, dict) else None, rest, mask)
    elif isinstance(node, dict) and isinstance(node.get(name), str) and node[name]:
        # A resident's phone is stored masked; an email may hold a "*" of its own, and masking one
        # twice changes nothing, so an email is always masked.
        if mask is mask_email or "*" not in node[name]:
            node[name] = mask(node[name])


def shown(entity_type: str, document: Any, audience: Audience) -> Any:
    """The document as `audience` may see it: a masked copy, or the document itself when nothing
    in it is hidden from this reader."""
    version = _PUBLIC_VERSIONS.get(entity_type)
    if version is not None and isinstance(document, dict) and not audience.bureau:
        return version(document)
    rule = _RULES.get(entity_type)
    if rule is None or not isinstance(document, dict):
        return document
    if rule.owner_field is not None and rule.sees(audience, document.get(rule.owner_field)):
        return document
    masked = copy.deepcopy(document)
    for path in rule.paths:
        _mask_at(masked, path, rule.mask)
    for path in rule.numbers:
        _mask_at(masked, path, mask_number)
    for path in rule.emails:
        _mask_at(masked, path, mask_email)
    return masked


def shown_model(entity_type: str, model: M, audience: Audience) -> M:
    """A read model as `audience` may see it (the same rule, applied to its JSON form)."""
    document = model.model_dump(mode="json")
    masked = shown(entity_type, document, audience)
    return model if masked is document else _with(model, document, masked)


def _with(model: M, document: dict[str, Any], masked: dict[str, Any]) -> M:
    """`model` with the fields that masking changed, without validating them again (a masked phone
    would not pass the input pattern the nested models share with requests)."""
    update: dict[str, Any] = {}
    for name, value in masked.items():
        if value != document.get(name):
            update[name] = _merged(getattr(model, name), document[name], value)
    return model.model_copy(update=update)


def _merged(current: Any, document: Any, masked: Any) -> Any:
    """`current` (a field's value) with its masked JSON form, keeping nested models as models."""
    if isinstance(current, BaseModel):
        return _with(current, document, masked)
    if isinstance(current, list) and len(current) == len(masked):
        return [_merged(c, d, m) for c, d, m in zip(current, document, masked, strict=True)]
    return masked


def event_data(entity_type: str, before: Any, after: Any, audience: Audience) -> tuple[Any, Any]:
    """An event's before and after as `audience` may see them."""
    return shown(entity_type, before, audience), shown(entity_type, after, audience)
