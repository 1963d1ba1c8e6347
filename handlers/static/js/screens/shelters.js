// Shelters and residents: occupancy bars for every shelter, opening a shelter, and the residents part
// (search, register, check in, move, return) in residents.js.
import { t, tEnum, fmtNumber } from '../i18n.js';
import { getAll, post } from '../api.js';
import { h, badge, field, form, input, table, update } from '../dom.js';
import { occupancy } from '../figures.js';
import * as residents from './residents.js';

function shelterTable(shelters) {
  return table(t('shelters.caption'), [
    t('shelters.name'), t('shelters.status'), t('shelters.occupancy'), t('shelters.available'),
  ], shelters.map((s) => [
    h('div', {}, h('strong', { text: s.name }), h('div', { class: 'meta', text: s.address })),
    badge(tEnum('shelter_status', s.status), `shelter-${s.status}`),
    occupancy(s, { named: false }),
    fmtNumber(s.available),
  ]), { empty: t('shelters.empty') });
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
  ctx.root.append(
    h('section', { 'aria-labelledby': 'shelters-heading' },
      h('h2', { id: 'shelters-heading', text: t('shelters.heading') }), region),
    people.element,
  );
  async function refresh() {
    shelters = await getAll(`/v1/incidents/${incident.id}/shelters`, {}, 5);
    shelters.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
    update(region, shelterTable(shelters));
    await people.refresh();
  }
  if (ctx.canDispatch) {
    ctx.root.append(h('section', { class: 'card', 'aria-labelledby': 'shelter-new' },
      h('h2', { id: 'shelter-new', text: t('shelters.open') }), shelterForm(ctx, incident, refresh)));
  }
  await refresh();
  return { refresh };
}
