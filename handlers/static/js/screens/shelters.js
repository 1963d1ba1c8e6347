// Shelters and residents: occupancy bars for every shelter, opening a shelter, changing its capacity, closing
// and reopening it; the residents part (search, register, check in, move, return) in residents.js and the
// aggregate head counts (evacuations) in evacuations.js.
import { t, tEnum, fmtNumber } from '../i18n.js';
import { getAll, post, request } from '../api.js';
import { h, badge, button, field, form, input, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { occupancy } from '../figures.js';
import * as residents from './residents.js';
import * as evacuations from './evacuations.js';

function shelterActions(ctx, s, refresh) {
  const out = [button(t('jobs.capacity'), {
    'aria-label': t('jobs.capacityAria', { name: s.name }),
    on: { click: async () => {
      const done = await ask({ title: t('jobs.capacityAria', { name: s.name }), submit: t('jobs.save'),
        intro: t('jobs.capacityIntro', { occupancy: fmtNumber(s.occupancy) }),
        fields: [{ name: 'capacity', label: t('shelters.capacity'), type: 'number', min: 1, value: String(s.capacity),
          required: true }],
        onSubmit: (got) => request('PATCH', `/v1/shelters/${s.id}`,
          { body: { capacity: Number(got.capacity) }, ifMatch: `"${s.version}"` }) });
      if (done) { ctx.notify(t('jobs.capacitySaved', { name: s.name, capacity: done.capacity })); await refresh(); }
    } },
  })];
  if (s.status === 'closed') {
    out.push(button(t('jobs.reopenShelter'), {
      'aria-label': t('jobs.reopenShelterAria', { name: s.name }),
      on: { click: async (event) => {
        const target = event.currentTarget;
        target.disabled = true;
        try {
          await post(`/v1/shelters/${s.id}/reopen`);
        } catch (error) { ctx.showError(error); target.disabled = false; return; }
        ctx.notify(t('jobs.shelterReopened', { name: s.name }));
        await refresh();
      } },
    }));
  } else {
    out.push(button(t('jobs.closeShelter'), {
      class: 'danger', 'aria-label': t('jobs.closeShelterAria', { name: s.name }),
      on: { click: async () => {
        const done = await ask({ title: t('jobs.closeShelterAria', { name: s.name }), intro: t('jobs.closeShelterIntro'),
          submit: t('jobs.closeShelter'), danger: true,
          describe: (failure) => (failure?.status === 409 ? t('jobs.shelterNotEmpty') : null),
          onSubmit: () => post(`/v1/shelters/${s.id}/close`) });
        if (done) { ctx.notify(t('jobs.shelterClosed', { name: s.name })); await refresh(); }
      } },
    }));
  }
  return h('div', { class: 'actions' }, out);
}

function shelterTable(ctx, shelters, refresh) {
  return table(t('shelters.caption'), [
    t('shelters.name'), t('shelters.status'), t('shelters.occupancy'), t('shelters.available'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), shelters.map((s) => [
    h('div', {}, h('strong', { text: s.name }), h('div', { class: 'meta', text: s.address })),
    badge(tEnum('shelter_status', s.status), `shelter-${s.status}`),
    occupancy(s, { named: false }),
    fmtNumber(s.available),
    ctx.canDispatch ? shelterActions(ctx, s, refresh) : null,
  ].filter((cell) => cell !== null)), { empty: t('shelters.empty') });
}

function shelterForm(ctx, incident, refresh) {
  return form({
    label: t('shelters.open'),
    submit: t('shelters.openSubmit'),
    cls: 'grid',
    children: [
      field(t('shelters.name'), input('name', { required: true, maxlength: 200 })),
      field(t('shelters.address'), input('address', { required: true, maxlength: 500 })),
      field(t('shelters.capacity'), input('capacity', { type: 'number', min: 1, required: true })),
    ],
    onSubmit: async (got) => {
      const shelter = await post(`/v1/incidents/${incident.id}/shelters`,
        { name: got.name, address: got.address, capacity: Number(got.capacity) });
      ctx.notify(t('shelters.opened', { name: shelter.name }));
      await refresh();
    },
  });
}

export async function mount(ctx) {
  const { incident } = ctx;
  const region = h('div');
  let shelters = [];
  const people = residents.section(ctx, incident, () => shelters);
  const counts = await evacuations.section(ctx, incident, () => shelters);
  ctx.root.append(
    h('section', { 'aria-labelledby': 'shelters-heading' },
      h('h2', { id: 'shelters-heading', text: t('shelters.heading') }), region),
    people.element,
    counts.element,
  );
  async function refresh() {
    shelters = await getAll(`/v1/incidents/${incident.id}/shelters`, {}, 5);
    shelters.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
    update(region, shelterTable(ctx, shelters, refresh));
    await Promise.all([people.refresh(), counts.refresh()]);
  }
  if (ctx.canDispatch) {
    ctx.root.append(h('section', { class: 'card', 'aria-labelledby': 'shelter-new' },
      h('h2', { id: 'shelter-new', text: t('shelters.open') }), shelterForm(ctx, incident, refresh)));
  }
  await refresh();
  return { refresh };
}
