// Exports (数据导出): every CSV the API offers for an incident (GET /v1/incidents/{id}/exports/<name>.csv, HXL
// hashtag row under the header), as download links. The session cookie authorizes a GET like any other, so a
// plain link downloads; staff of every role may (no personal data: the server masks what it must).
import { t } from '../i18n.js';
import { h } from '../dom.js';

// handlers/exports.py, in its order.
export const EXPORTS = ['pledges', 'donations', 'evacuations', 'stock-movements', 'disbursements', 'deployments',
  'impacts'];

export async function mount(ctx) {
  const { incident } = ctx;
  ctx.root.append(h('section', { 'aria-labelledby': 'exports-heading' },
    h('h2', { id: 'exports-heading', text: t('exports.heading') }),
    h('p', { class: 'hint', text: t('exports.intro') }),
    h('ul', { class: 'export-list' }, EXPORTS.map((name) => {
      const file = `${incident.code}-${name}.csv`;
      return h('li', { dataset: { export: name } },
        h('a', { href: `/v1/incidents/${incident.id}/exports/${name}.csv`, download: file,
          text: t(`exports.names.${name}`) }),
        ' ', h('span', { class: 'hint', text: t(`exports.about.${name}`) }));
    }))));
  return {};
}
