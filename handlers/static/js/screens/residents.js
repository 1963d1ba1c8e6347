// Residents: search by name or the last 4 characters of the ID (always shown masked), register an arrival,
// check in, move between shelters, return home.
import { t, tEnum, enumOptions } from '../i18n.js';
import { get, post, idempotent } from '../api.js';
import { h, badge, button, checkbox, field, form, input, keepChoices, select, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { regionField, regionLabel } from '../region_picker.js';

function shelterChoices(shelters, except) {
  return shelters.filter((s) => s.status === 'open' && s.id !== except)
    .map((s) => [s.id, t('residents.shelterChoice', { name: s.name, available: s.available })]);
}

function actions(ctx, resident, shelters, refresh) {
  const who = resident.name || resident.id_number_masked;
  const move = async (action, title, except) => {
    const options = shelterChoices(shelters, except);
    if (!options.length) { ctx.notify(t('residents.noShelter'), 'error'); return; }
    const done = await ask({ title, submit: t(`residents.${action}`),
      fields: [{ name: 'shelter_id', label: t('residents.shelter'), type: 'select', options, required: true }],
      onSubmit: (got) => post(`/v1/residents/${resident.id}/${action}`, { shelter_id: got.shelter_id }) });
    if (done) { ctx.notify(t(`residents.${action}Done`, { who })); await refresh(); }
  };
  const out = [];
  if (resident.status === 'registered') {
    out.push(button(t('residents.checkin'), { class: 'primary', 'aria-label': t('residents.checkinAria', { who }),
      on: { click: () => move('checkin', t('residents.checkinAria', { who })) } }));
  }
  if (resident.status === 'sheltered') {
    out.push(button(t('residents.move'), { 'aria-label': t('residents.moveAria', { who }),
      on: { click: () => move('move', t('residents.moveAria', { who }), resident.shelter_id) } }));
  }
  if (resident.status !== 'returned') {
    out.push(button(t('residents.return'), { 'aria-label': t('residents.returnAria', { who }), on: { click: async () => {
      const done = await ask({ title: t('residents.returnAria', { who }), intro: t('residents.returnIntro'),
        submit: t('residents.return'), onSubmit: () => post(`/v1/residents/${resident.id}/return`) });
      if (done) { ctx.notify(t('residents.returnDone', { who })); await refresh(); }
    } } }));
  }
  return h('div', { class: 'actions' }, out);
}

function results(ctx, found, shelters, refresh) {
  const names = new Map(shelters.map((s) => [s.id, s.name]));
  return table(t('residents.caption'), [
    t('residents.name'), t('residents.idNumber'), t('residents.phone'), t('residents.household'),
    t('residents.origin'), t('residents.vulnerabilities'), t('residents.status'), t('residents.shelter'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), found.map((r) => [
    r.name ?? '—', r.id_number_masked, r.phone || '—', String(r.household_size),
    regionLabel(r.origin_region, r.origin_region_name),
    r.vulnerabilities.map((v) => tEnum('vulnerability', v)).join('、') || '—',
    badge(tEnum('resident_status', r.status), `resident-${r.status}`),
    r.shelter_id ? names.get(r.shelter_id) || '' : '—',
    ctx.canDispatch ? actions(ctx, r, shelters, refresh) : null,
  ].filter((cell) => cell !== null)), { empty: t('residents.none') });
}

function registerForm(ctx, incident, shelters, refresh) {
  const send = idempotent();
  const shelter = select('shelter_id', [['', t('residents.noCheckin')]]);
  const el = form({
    label: t('residents.register'),
    submit: t('residents.registerSubmit'),
    children: [
      h('div', { class: 'grid' },
        field(t('residents.name'), input('name', { required: true, maxlength: 200, autocomplete: 'off' })),
        field(t('residents.idType'), select('id_type', enumOptions('id_type'), 'resident_id')),
        field(t('residents.idNumberFull'), input('id_number', { required: true, autocomplete: 'off', minlength: 8 }),
          t('residents.idNumberHint')),
        field(t('residents.phone'), input('phone', { type: 'tel', autocomplete: 'off' })),
        field(t('residents.household'), input('household_size', { type: 'number', min: 1, max: 100, value: '1' })),
        regionField(t('residents.origin'), input('origin_region', { required: true, pattern: '\\d{6}',
          value: incident.regions[0] || '' }), t('residents.originHint')),
        field(t('residents.checkinNow'), shelter)),
      h('fieldset', { class: 'checks' }, h('legend', { text: t('residents.vulnerabilities') }),
        enumOptions('vulnerability').map(([value, label]) => checkboxWithValue(value, label))),
    ],
    onSubmit: async (got) => {
      const body = { name: got.name, id_type: got.id_type, id_number: got.id_number, origin_region: got.origin_region,
        household_size: Number(got.household_size || 1), vulnerabilities: [].concat(got.vulnerabilities || []) };
      if (got.phone) body.phone = got.phone;
      const resident = await send((key) => post(`/v1/incidents/${incident.id}/residents`, body, { idempotencyKey: key }));
      if (got.shelter_id && resident.status === 'registered') {
        await post(`/v1/residents/${resident.id}/checkin`, { shelter_id: got.shelter_id });
      }
      ctx.notify(t(resident.duplicate ? 'residents.duplicate' : 'residents.registered', { who: resident.name }));
      await refresh();
    },
  });
  // Arrivals come in groups from one place: the next entry keeps where from and the shelter, not the person.
  keepChoices(el, ['name', 'id_number', 'phone', 'household_size', 'vulnerabilities']);
  el.fillShelters = () => {
    const current = shelter.value;
    shelter.replaceChildren(...[['', t('residents.noCheckin')], ...shelterChoices(shelters())]
      .map(([value, label]) => h('option', { value, text: label })));
    shelter.value = current;
  };
  return el;
}

function checkboxWithValue(value, label) {
  const row = checkbox('vulnerabilities', label);
  row.querySelector('input').value = value;
  return row;
}

/** The residents section; `shelters()` gives the shelters the screen last fetched. */
export function section(ctx, incident, shelters) {
  const region = h('div');
  const search = { q: '', status: '' };
  const searchForm = form({
    label: t('residents.search'),
    submit: t('residents.searchSubmit'),
    keep: true,
    cls: 'grid search',
    children: [
      field(t('residents.query'), input('q', { type: 'search', maxlength: 100, autocomplete: 'off' }), t('residents.queryHint')),
      field(t('residents.status'), select('status', [['', t('residents.anyStatus')], ...enumOptions('resident_status')], '')),
    ],
    onSubmit: async (got) => { search.q = got.q || ''; search.status = got.status || ''; await refresh(); },
  });
  const register = ctx.canDispatch ? registerForm(ctx, incident, shelters, () => refresh()) : null;
  async function refresh() {
    const page = await get(`/v1/incidents/${incident.id}/residents`, { q: search.q, status: search.status, limit: 50 });
    update(region, [
      h('p', { class: 'meta', role: 'status', text: search.q
        ? t('residents.foundFor', { n: page.items.length, q: search.q }) : t('residents.latest', { n: page.items.length }) }),
      results(ctx, page.items, shelters(), refresh),
    ]);
    register?.fillShelters();
  }
  const element = h('section', { 'aria-labelledby': 'residents-heading' },
    h('h2', { id: 'residents-heading', text: t('residents.heading') }), searchForm, region,
    register && h('details', { class: 'card' }, h('summary', { text: t('residents.register') }), register));
  return { element, refresh };
}
