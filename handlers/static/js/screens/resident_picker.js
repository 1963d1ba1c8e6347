// Choosing one registered resident in a form (a distribution to them, money paid to them): search by name or
// the last 4 characters of the ID, then pick from what was found. The form sends the resident's id.
import { t, tEnum } from '../i18n.js';
import { get } from '../api.js';
import { h, button, input, select, setOptions } from '../dom.js';

export function residentPicker(incident, name = 'resident_id') {
  const query = input(`${name}_q`, { type: 'search', maxlength: 100, autocomplete: 'off' });
  const choice = select(name, [], undefined, { required: true });
  const found = h('p', { class: 'hint', 'aria-live': 'polite' });
  async function search() {
    const page = await get(`/v1/incidents/${incident.id}/residents`, { q: query.value.trim(), limit: 20 });
    setOptions(choice, page.items.map((r) => [r.id, t('picker.choice', {
      name: r.name || r.id_number_masked, id: r.id_number_masked, status: tEnum('resident_status', r.status) })]));
    found.textContent = t('picker.found', { n: page.items.length });
  }
  query.addEventListener('keydown', (event) => { // Enter searches here, it does not submit the whole form
    if (event.key === 'Enter') { event.preventDefault(); search().catch(() => { found.textContent = t('problem.network'); }); }
  });
  const searchButton = button(t('picker.search'), { on: { click: () => search().catch(() => {
    found.textContent = t('problem.network');
  }) } });
  return [
    h('div', { class: 'field' }, h('label', { for: query.id, text: t('picker.query') }),
      h('div', { class: 'inline' }, query, searchButton)),
    h('div', { class: 'field' }, h('label', { for: choice.id, text: t('picker.resident') }), choice, found),
  ];
}
