// The incident's live stream (Server-Sent Events). Any event makes the open screen fetch its figures again
// from the documented endpoints (debounced), so what is shown always comes from the API, never from the
// stream's payloads. EventSource reconnects by itself with Last-Event-ID.

const TYPES = [
  'incident.opened', 'incident.updated', 'incident.closed', 'incident.reopened',
  'call.created', 'call.published', 'call.updated', 'call.fulfilled', 'call.closed', 'call.cancelled',
  'pledge.created', 'pledge.accepted', 'pledge.rejected', 'pledge.withdrawn', 'pledge.dispatched',
  'pledge.delivered', 'pledge.delivery_reversed', 'offer.created', 'donation.recorded', 'donation.reversed',
  'shelter.opened', 'shelter.updated', 'shelter.closed', 'shelter.reopened', 'shelter.near_capacity',
  'shelter.full', 'resident.registered', 'resident.sheltered', 'resident.moved', 'resident.returned',
  'evacuation.recorded', 'impact.recorded', 'sitrep.issued', 'alert.broadcast', 'alert.acknowledged',
  'disbursement.proposed', 'disbursement.approved', 'disbursement.rejected', 'disbursement.reversed',
  'site.opened', 'site.updated', 'stock.transferred', 'stock.received', 'stock.distributed',
  'stock.written_off', 'stock.reversed', 'stock.low', 'stock.minimums_set',
  'task.created', 'task.updated', 'task.assigned', 'task.accepted', 'task.declined', 'task.started', 'task.done',
  'task.cancelled', 'roster.updated', 'deployment.checked_in', 'deployment.checked_out', 'deployment.extended',
  'deployment.overdue',
];
const DEBOUNCE_MS = 150;
const REOPEN_MS = 5000;

export class Live {
  constructor({ onChange, onState }) {
    this.onChange = onChange;
    this.onState = onState;
    this.source = null;
    this.incidentId = null;
    this.timer = null;
    this.reopenTimer = null;
    this.state = 'offline';
    this.handle = () => this.changed();
  }

  open(incidentId) {
    if (this.incidentId === incidentId && this.source) return;
    this.close();
    this.incidentId = incidentId;
    this.connect();
  }

  connect() {
    const source = new EventSource(`/v1/incidents/${encodeURIComponent(this.incidentId)}/stream`);
    this.source = source;
    this.setState('connecting');
    // Opening (and reopening) also refreshes: whatever changed before the stream was there is fetched.
    source.addEventListener('open', () => { this.setState('live'); this.changed(); });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out, say): try again later rather than never.
        this.setState('offline');
        this.source = null;
        clearTimeout(this.reopenTimer);
        this.reopenTimer = setTimeout(() => { if (this.incidentId && !this.source) this.connect(); }, REOPEN_MS);
      } else {
        this.setState('connecting');
      }
    });
    source.addEventListener('message', this.handle);
    for (const type of TYPES) source.addEventListener(type, this.handle);
  }

  changed() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), DEBOUNCE_MS);
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  close() {
    clearTimeout(this.timer);
    clearTimeout(this.reopenTimer);
    if (this.source) this.source.close();
    this.source = null;
    this.incidentId = null;
    this.setState('offline');
  }
}
