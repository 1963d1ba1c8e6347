// Aggregate evacuations: head counts moved out of a region at once (POST /v1/incidents/{id}/evacuations),
// centralized into a shelter (which fills it) or dispersed (with relatives, in rented rooms), and the list of
// what was recorded. The form keeps its choices for the next count from the same place.
import { t, tEnum, enumOptions, fmtNumber, fmtTime, nowWall, wallToIso } from '../i18n.js';
import { getAll, post, idempotent } from '../api.js';
import { h, field, form, input, keepChoices, select, setOptions, switchSets, table, textarea, update } from '../dom.js';
import { regionField, regionLabel } from '../region_picker.js';

function list(items, shelters, organizations) {
  const shelterNames = new Map(shelters.map((s) => [s.id, s.name]));
  const orgNames = new Map(organizations.map((o) => [o.id, o.name]));
  return table(t('jobs.evacuationsCaption'), [
    t('jobs.occurredAt'), t('jobs.count'), t('jobs.fromRegion'), t('jobs.placement'), t('residents.shelter'),
    t('jobs.assistedBy'), t('jobs.note'),
  ], items.map((e) => [
    fmtTime(e.occurred_at), fmtNumber(e.count), regionLabel(e.from_region, e.from_region_name),
    tEnum('placement', e.placement),
    e.shelter_id ? shelterNames.get(e.shelter_id) || '' : '—',
    e.assisted_by ? orgNames.get(e.assisted_by) || '' : '—', e.note || '—',
  ]), { empty: t('jobs.noEvacuations') });
}

function recordForm(ctx, incident, shelters, organizations, refresh) {
  const send = idempotent();
  const placement = select('placement', enumOptions('placement'), 'centralized');
  const shelter = select('shelter_id', [], undefined, { required: true });
  const sets = {
    centralized: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('placement', 'centralized') }),
      field(t('residents.shelter'), shelter, t('jobs.centralizedHint'))),
    dispersed: h('div'),
  };
  const sync = () => switchSets(sets, placement.value);
  placement.addEventListener('change', sync);
  const el = form({
    label: t('jobs.recordEvacuation'),
    submit: t('jobs.recordEvacuationSubmit'),
    children: [
      h('div', { class: 'grid' },
        field(t('jobs.count'), input('count', { type: 'number', min: 1, required: true })),
        regionField(t('jobs.fromRegion'), input('from_region', { required: true, pattern: '\\d{6}', inputmode: 'numeric',
          maxlength: 6, value: incident.regions[0] || '' }), t('residents.originHint')),
        field(t('jobs.placement'), placement),
        field(t('jobs.assistedBy'), select('assisted_by', [['', t('jobs.nobody')],
          ...organizations.map((o) => [o.id, o.name])], '')),
        field(t('jobs.occurredAt'), input('occurred_at', { type: 'datetime-local', value: nowWall() }),
          t('common.timezoneHint'))),
      Object.values(sets),
      field(t('jobs.note'), textarea('note', { rows: 2, maxlength: 2000 })),
    ],
    onSubmit: async (got) => {
      const body = { count: Number(got.count), from_region: got.from_region, placement: got.placement,
        note: got.note || '' };
      if (got.placement === 'centralized') body.shelter_id = got.shelter_id;
      if (got.assisted_by) body.assisted_by = got.assisted_by;
      if (got.occurred_at) body.occurred_at = wallToIso(got.occurred_at);
      const done = await send((key) => post(`/v1/incidents/${incident.id}/evacuations`, body, { idempotencyKey: key }));
      ctx.notify(t('jobs.evacuationRecorded', { n: fmtNumber(done.count), region: done.from_region }));
      await refresh();
    },
  });
  keepChoices(el, ['count', 'note']);
  el.addEventListener('relief:reset', sync);
  el.fillShelters = () => setOptions(shelter, shelters().filter((s) => s.status === 'open')
    .map((s) => [s.id, t('residents.shelterChoice', { name: s.name, available: s.available })]));
  el.fillShelters();
  sync();
  return el;
}

/** The evacuations section of the shelters screen; `shelters()` gives the shelters the screen last fetched. */
export async function section(ctx, incident, shelters) {
  const region = h('div');
  const organizations = ctx.canDispatch ? await getAll('/v1/organizations', { status: 'approved' }, 3) : [];
  const record = ctx.canDispatch ? recordForm(ctx, incident, shelters, organizations, () => refresh()) : null;
  async function refresh() {
    const items = await getAll(`/v1/incidents/${incident.id}/evacuations`, {}, 3);
    update(region, list(items, shelters(), organizations));
    record?.fillShelters();
  }
  const element = h('section', { 'aria-labelledby': 'evacuations-heading' },
    h('h2', { id: 'evacuations-heading', text: t('jobs.evacuations') }),
    record && h('details', { class: 'card' }, h('summary', { text: t('jobs.recordEvacuation') }), record),
    region);
  return { element, refresh };
}
