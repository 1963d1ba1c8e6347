// Choosing goods (and units) from the catalogue by name: the suggestions show the names in the console's
// language, a name typed in either language (饮用水, Drinking water) or the code itself is sent as the code, and
// anything else stays free text, as the API allows for goods outside the catalogue.
import { t, tEnum, enumOptions } from '../i18n.js';
import zh from '../i18n/zh.js';
import en from '../i18n/en.js';
import { h, input, uid } from '../dom.js';

// The usual unit of each catalogue item (models/catalogue.py GOODS): picking an item offers it.
const USUAL_UNIT = {
  drinking_water: 'box', instant_food: 'box', rice: 'kg', cooking_oil: 'bottle', tent: 'piece', quilt: 'piece',
  blanket: 'piece', folding_bed: 'piece', raincoat: 'piece', rubber_boots: 'pair', life_jacket: 'piece',
  rubber_boat: 'piece', sandbag: 'piece', generator: 'piece', pump: 'piece', flashlight: 'piece',
  medical_kit: 'kit', disinfectant: 'bottle', hygiene_kit: 'kit', clothing: 'set',
};

const squash = (text) => String(text).trim().toLowerCase().replace(/\s+/g, ' ');

/** The catalogue code a typed text stands for, or null when it names nothing in the catalogue. */
export function codeFor(group, text) {
  const typed = squash(text || '');
  if (!typed) return null;
  for (const catalogue of [zh, en]) {
    const labels = catalogue.enum[group] || {};
    for (const [code, label] of Object.entries(labels)) {
      if (typed === code.toLowerCase() || typed === squash(label)) return code;
    }
  }
  return null;
}

// Whatever reads a form (new FormData: dom.values, the dialog) gets the code in place of the name typed.
document.addEventListener('formdata', (event) => {
  for (const el of event.target.querySelectorAll('input[data-code-group]')) {
    if (!el.name || el.matches(':disabled')) continue;
    const code = codeFor(el.dataset.codeGroup, el.value);
    event.formData.set(el.name, code || el.value.trim());
  }
}, { capture: true });

/**
 * A text input named `name` offering the `group` catalogue ('item' or 'unit') by name. `unit` (optional)
 * is the unit picker an item fills with its usual unit while that one is still empty.
 */
export function codePicker(group, name, { required = false, value = '', unit = null, maxlength = 100 } = {}) {
  const listId = uid(`${group}-names`);
  const control = input(name, { required, maxlength, list: listId, autocomplete: 'off', value: tEnum(group, value),
    dataset: { codeGroup: group } });
  const list = h('datalist', { id: listId }, enumOptions(group).map(([, label]) => h('option', { value: label })));
  const said = h('p', { class: 'hint', id: uid('code-hint'), 'aria-live': 'polite' });
  control.setAttribute('aria-describedby', said.id);
  function show() {
    const text = control.value.trim();
    const code = codeFor(group, text);
    if (!text) said.textContent = t(group === 'unit' ? 'jobs.unitHint' : 'jobs.catalogueHint');
    else if (code) said.textContent = t('jobs.inCatalogue', { name: tEnum(group, code), code });
    else said.textContent = t('jobs.freeText');
    return code;
  }
  control.addEventListener('input', () => {
    const code = show();
    if (code && unit && !unit.control.value.trim() && USUAL_UNIT[code]) {
      unit.control.value = tEnum('unit', USUAL_UNIT[code]);
      unit.show();
    }
  });
  control.addEventListener('change', show);
  // After a form's reset (or a kept choice put back) the hint follows what the box holds again.
  control.addEventListener('relief:shown', show);
  show();
  return { control, list, show, said };
}

/** A labelled picker field: label, the input, its datalist and the hint saying what will be stored. */
export function pickerField(label, picker) {
  return h('div', { class: 'field' }, h('label', { for: picker.control.id, text: label }), picker.control,
    picker.said, picker.list);
}
