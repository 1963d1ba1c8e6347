// The stock screen's forms: one for what leaves a location (a transfer, a distribution to people, a
// write-off), and one for a location's minimum of an item. Both keep their choices after a save (only
// the quantity and the note are cleared), and their lists follow the live data without losing a choice.
import { t, tEnum, enumOptions, fmtQty, wallToIso } from '../i18n.js';
import { post, request, idempotent } from '../api.js';
import { h, field, form, input, keepChoices, select, setOptions, switchSets } from '../dom.js';
import { locationName, locationOptions, locationRef, locationValue } from './sites.js';
import { residentPicker } from './resident_picker.js';
import { regionField } from '../region_picker.js';

/** Every item and unit the incident holds or held ("item|unit": "|" is never in either). */
export function lines(stock) {
  const seen = new Map();
  for (const row of [...stock.totals, ...stock.levels]) {
    const value = `${row.item}|${row.unit}`;
    if (!seen.has(value)) {
      seen.set(value, t('stock.line', { item: tEnum('item', row.item), unit: tEnum('unit', row.unit) }));
    }
  }
  return [...seen.entries()];
}

function splitLine(value) {
  const [item, unit] = String(value || '').split('|');
  return { item, unit };
}

function levelAt(stock, place, line) {
  const { item, unit } = splitLine(line);
  return stock.levels.find((l) => locationValue(l.location) === place && l.item === item && l.unit === unit);
}

/** A 409 `insufficient` in the reader's words: how much the location holds. */
export function insufficient(failure, unit) {
  if (failure?.status !== 409 || failure.problem?.available === undefined) return null;
  return t('stock.insufficient', { available: fmtQty(failure.problem.available, unit) });
}

export function movementForm(ctx, incident, state, refresh) {
  const send = idempotent(); // one key per submission, kept only for a retry of the same one
  const kind = select('kind', ['transfer', 'distribution', 'write_off'].map((k) => [k, tEnum('movement_kind', k)]),
    'transfer');
  const from = select('from', [], undefined, { required: true });
  const line = select('line', [], undefined, { required: true });
  const here = h('p', { class: 'hint', id: `${line.id}-here`, 'aria-live': 'polite' });
  line.setAttribute('aria-describedby', here.id);
  const to = select('to', [], undefined, { required: true });
  const recipientKind = select('recipient_kind', enumOptions('recipient_kind'), 'shelter_residents');
  const recipientShelter = select('recipient_shelter', [], undefined, { required: true });
  const recipients = {
    shelter_residents: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('recipient_kind', 'shelter_residents') }),
      field(t('stock.shelter'), recipientShelter, t('stock.shelterResidentsHint'))),
    household: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('recipient_kind', 'household') }),
      field(t('stock.householdId'), input('household_id', { required: true, maxlength: 64 })),
      field(t('stock.householdPeople'), input('household_people', { type: 'number', min: 1 }), t('stock.householdHint'))),
    resident: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('recipient_kind', 'resident') }),
      residentPicker(incident)),
    group: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('recipient_kind', 'group') }),
      field(t('stock.groupPeople'), input('group_people', { type: 'number', min: 1, required: true })),
      regionField(t('stock.region'), input('region', { inputmode: 'numeric', pattern: '\\d{6}', maxlength: 6 }),
        t('stock.regionHint'))),
  };
  const sets = {
    transfer: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('movement_kind', 'transfer') }),
      field(t('stock.toLocation'), to)),
    distribution: h('fieldset', { class: 'stack' }, h('legend', { text: tEnum('movement_kind', 'distribution') }),
      h('div', { class: 'grid' }, field(t('stock.recipientKind'), recipientKind)), Object.values(recipients)),
    write_off: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('movement_kind', 'write_off') }),
      field(t('stock.writeOffReason'), select('reason', enumOptions('write_off_reason'), 'damaged'))),
  };
  const quantity = input('quantity', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?' });
  const note = input('note', { maxlength: 2000 });

  function showHere() {
    const { unit } = splitLine(line.value);
    here.textContent = line.value
      ? t('stock.onHandHere', { qty: fmtQty(levelAt(state.stock, from.value, line.value)?.on_hand ?? '0', unit) })
      : t('stock.noLines');
  }
  function sync() {
    switchSets(sets, kind.value);
    switchSets(recipients, recipientKind.value);
    to.setCustomValidity(to.value && to.value === from.value ? t('stock.sameLocation') : '');
    showHere();
  }
  function fill() {
    setOptions(from, locationOptions(state));
    setOptions(to, locationOptions(state));
    setOptions(recipientShelter, locationOptions(state, { sheltersOnly: true }).map(([v, label]) => [v.split(':')[1], label]));
    setOptions(line, lines(state.stock));
    if (to.value === from.value && to.options.length > 1) { // a transfer goes elsewhere: offer the next place
      to.value = [...to.options].find((o) => o.value !== from.value).value;
    }
    sync();
  }
  for (const control of [kind, recipientKind, from, to, line]) control.addEventListener('change', sync);

  const el = form({
    label: t('stock.record'),
    submit: t('stock.recordSubmit'),
    describe: (failure) => insufficient(failure, splitLine(line.value).unit),
    children: [
      h('div', { class: 'grid' },
        field(t('stock.movementKind'), kind),
        field(t('stock.fromLocation'), from),
        h('div', { class: 'field' }, h('label', { for: line.id, text: t('stock.item') }), line, here),
        field(t('stock.quantity'), quantity)),
      Object.values(sets),
      h('div', { class: 'grid' },
        field(t('stock.movedAt'), input('moved_at', { type: 'datetime-local' }), t('stock.movedHint')),
        field(t('stock.note'), note)),
    ],
    onSubmit: async (got) => {
      const { item, unit } = splitLine(got.line);
      const body = { kind: got.kind, item, unit, quantity: got.quantity, from: locationRef(got.from), note: got.note || '' };
      if (got.moved_at) body.moved_at = wallToIso(got.moved_at);
      if (got.kind === 'transfer') body.to = locationRef(got.to);
      if (got.kind === 'write_off') body.reason = got.reason;
      if (got.kind === 'distribution') {
        const recipient = { kind: got.recipient_kind };
        if (got.recipient_kind === 'shelter_residents') recipient.shelter_id = got.recipient_shelter;
        if (got.recipient_kind === 'household') {
          recipient.household_id = got.household_id;
          if (got.household_people) recipient.people_reached = Number(got.household_people);
        }
        if (got.recipient_kind === 'resident') recipient.resident_id = got.resident_id;
        if (got.recipient_kind === 'group') {
          recipient.people_reached = Number(got.group_people);
          if (got.region) recipient.region = got.region;
        }
        body.to = recipient;
      }
      const done = await send((key) => post(`/v1/incidents/${incident.id}/stock-movements`, body, { idempotencyKey: key }));
      ctx.notify(t('stock.recorded', { kind: tEnum('movement_kind', done.kind),
        what: fmtQty(done.quantity, done.unit), item: tEnum('item', done.item) }));
      await refresh();
    },
  });
  // The choices stay for the next entry; what is particular to this one goes.
  keepChoices(el, ['quantity', 'note', 'household_id', 'household_people', 'resident_id', 'group_people', 'moved_at']);
  el.addEventListener('relief:reset', sync);
  fill();
  return { element: el, fill };
}

export function minimumForm(ctx, state, refresh) {
  const place = select('place', [], undefined, { required: true });
  const line = select('line', [], undefined, { required: true });
  const minimum = input('minimum', { inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?' });
  const current = () => levelAt(state.stock, place.value, line.value)?.minimum ?? '';
  const showCurrent = () => { minimum.value = current(); };
  place.addEventListener('change', showCurrent);
  line.addEventListener('change', showCurrent);
  const el = form({
    label: t('stock.minimums'),
    submit: t('stock.minimumsSubmit'),
    keep: true,
    cls: 'grid',
    children: [
      field(t('stock.location'), place),
      field(t('stock.item'), line),
      field(t('stock.minimum'), minimum, t('stock.minimumHint')),
    ],
    onSubmit: async (got) => {
      const { item, unit } = splitLine(got.line);
      // PUT replaces the location's minimums: send the others it keeps, with this one changed.
      const others = state.stock.levels
        .filter((l) => locationValue(l.location) === got.place && l.minimum !== null && !(l.item === item && l.unit === unit))
        .map((l) => ({ item: l.item, unit: l.unit, minimum: l.minimum }));
      const body = got.minimum ? [...others, { item, unit, minimum: got.minimum }] : others;
      const [kind, id] = got.place.split(':');
      await request('PUT', `/v1/${kind === 'site' ? 'sites' : 'shelters'}/${id}/minimums`, { body });
      const level = state.stock.levels.find((l) => locationValue(l.location) === got.place);
      ctx.notify(t('stock.minimumSaved', { location: level ? locationName(state, level.location)
        : place.selectedOptions[0]?.textContent || '' }));
      await refresh();
      showCurrent();
    },
  });
  function fill() { // a live refresh leaves a minimum being typed alone
    setOptions(place, locationOptions(state));
    setOptions(line, lines(state.stock));
  }
  fill();
  showCurrent();
  return { element: el, fill };
}
